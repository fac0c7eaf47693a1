"""Ship a finished run as a pretrained model: copy its test model, write its card, list it.

    python -m pretrained.ship NAME RUN_DIR [--note TEXT]

Copies the file the run's test measured (metrics.json "evaluated": best.h5 or final.h5,
with its test-time views built in) to pretrained/NAME.h5, writes the model card
pretrained/NAME.md from the run's config.json, metrics.json and history.csv, and adds
NAME with its sha256 and test top-1 to pretrained/manifest.json. Every figure on the
card is read from the run's own files.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from callbacks import read_history  # noqa: E402
from pretrained import HERE, MANIFEST, sha256, shipped  # noqa: E402
from training.rundir import read_json, write_json, write_text  # noqa: E402

DATA_NOTE = ("CIFAR-10 as written by `../shared/data/prepare_cifar10.py`: the 60,000 images decoded "
             "from JPEG, about 5.8/255 mean absolute pixel difference from the original release, so "
             "figures may differ slightly from the original test set's.")


def card(name, config, metrics, history, digest, note=""):
    """The model card (Markdown) of a shipped run."""
    exp, env = config["experiment"], config["environment"]
    total = metrics["wall_seconds"] + metrics.get("test_seconds", 0)
    resumed = metrics.get("resumed_after_epochs") or []
    rows = "\n".join(f"| {c} | {100 * a:.2f}% |" for c, a in metrics["per_class"].items())
    views = {0: "none", 1: "mirror (2 views)", 2: "mirror and 1-pixel translations (6 views)"}
    passes = {0: "", 1: " (each image through 2 views)", 2: " (each image through 6 views)"}[metrics.get("tta_level", 0)]
    return f"""# `{name}`: {exp['model']} trained on CIFAR-10

**Test top-1 accuracy: {100 * metrics['test_top1']:.2f}%** on the {metrics['test_images']:,} test images
(test-time augmentation: {views[metrics.get('tta_level', 0)]}).

{note}

| | |
|---|---|
| file | `{name}.h5` (whole Keras model; input raw uint8 RGB (N, 32, 32, 3), output (N, 10) probabilities) |
| sha256 | `{digest}` |
| command | `python {config['command']}` |
| experiment | `{exp['name']}`: {exp['source']} |
| epochs | {metrics['epochs']} of batch {exp['batch_size']}, {exp['optimizer']} lr {exp['lr']:g}, schedule {exp['schedule']} |
| weights tested | {metrics['evaluated']} ({'weight average (EMA)' if exp.get('ema_momentum') else 'lookahead: the weights end at their running average' if exp.get('lookahead') else 'as trained'}) |
| training images | {config['options']['val_split'] and 50000 - config['options']['val_split'] or 50000:,} (validation split {config['options']['val_split']}) |
| wall time | {metrics['wall_seconds']:.0f} s training + {metrics.get('test_seconds', 0):.0f} s test = {total:.0f} s ({total / 60:.1f} min){'; resumed after epochs ' + ', '.join(map(str, resumed)) + ', times summed over sessions' if resumed else ''} |
| training speed | {metrics['train_images_per_s']:.0f} images/s (median epoch); inference {metrics['inference_images_per_s']:.0f} images/s{passes} |
| machine | {env['device']} |
| software | Keras {env['keras']}, backend {env['backend']}{', TensorFlow ' + env['tensorflow'] if 'tensorflow' in env else ''}; precision {env['precision']} |
| source's claim | {exp['claim']} (not ours) |

## Per-class test accuracy

| class | top-1 |
|---|---|
{rows}

## Training curve

| epoch | loss | train acc | lr | seconds |
|---|---|---|---|---|
""" + "\n".join(f"| {int(r.epoch) + 1} | {r.loss:.4f} | {100 * r.accuracy:.2f}% | {r.lr:.4g} | {r.seconds:.0f} |"
                for r in history.itertuples()) + f"""

## Data
{DATA_NOTE}
"""


def ship(name, run_dir, note=""):
    """Copy run_dir's tested model to pretrained/NAME.h5, write NAME.md and update the manifest.

    Returns:
        The manifest entry (dict).
    """
    config = read_json(os.path.join(run_dir, "config.json"))
    metrics = read_json(os.path.join(run_dir, "metrics.json"))
    history = read_history(os.path.join(run_dir, "history.csv"))
    target = os.path.join(HERE, f"{name}.h5")
    shutil.copyfile(os.path.join(run_dir, metrics["evaluated"]), target)
    digest = sha256(target)
    write_text(os.path.join(HERE, f"{name}.md"), card(name, config, metrics, history, digest, note))
    entry = {"file": f"{name}.h5", "sha256": digest, "card": f"{name}.md", "test_top1": metrics["test_top1"],
             "experiment": config["experiment"]["name"], "command": f"python {config['command']}"}
    write_json(MANIFEST, {**shipped(), name: entry})
    return entry


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pretrained.ship", description=__doc__.splitlines()[0])
    p.add_argument("name")
    p.add_argument("run_dir")
    p.add_argument("--note", default="", help="a paragraph for the card (such as why training was cut short)")
    args = p.parse_args(argv)
    entry = ship(args.name, args.run_dir, args.note)
    print(f"shipped {args.name}: {entry['file']} sha256 {entry['sha256']}, test top-1 {100 * entry['test_top1']:.2f}%")


if __name__ == "__main__":
    main()
