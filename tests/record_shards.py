"""Run `run.py` in this process and record how Keras' JAX trainer split each training batch over devices.

    python tests/record_shards.py OUT.json -- RUN.PY-ARGS...

Wraps keras' JAX `_distribute_data` (what `fit` calls on every batch under a
keras.distribution) and writes OUT.json: a list, per batch, of [device, shard shape]
for each addressable shard of its images. Nothing in the suite knows about this file.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    out, sep, *argv = sys.argv[1:]
    assert sep == "--", __doc__
    from keras.src.backend.jax import trainer
    original, seen = trainer._distribute_data, []

    def recording(data, layouts=None):
        result = original(data, layouts)
        images = result[0]
        seen.append([[str(shard.device), list(shard.data.shape)] for shard in images.addressable_shards])
        return result

    trainer._distribute_data = recording
    import run
    status = run.main(argv)
    with open(out, "w") as f:
        json.dump(seen, f)
    return status


if __name__ == "__main__":
    sys.exit(main())
