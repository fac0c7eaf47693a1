"""What the machine has, and the precision and distribution strategy that follow from it.

Works on the TensorFlow, JAX and PyTorch backends of Keras 3.
"""
import contextlib
import functools
import json
import os
import platform
import statistics
import time

import keras

from devices import cpu_flags, gpus
from errors import SuiteError
from experiments.config import PRECISIONS

STRATEGIES = ("auto", "default", "mirrored", "multiworker")
# Set to a policy name, this makes `--precision auto` resolve to it on any machine: the tests use it
# to check the bfloat16 path on a CPU without AMX or AVX512-BF16 (`pytest --auto-precision`).
AUTO_PRECISION_ENV = "CIFAR10_AUTO_PRECISION"
# Backends that trained faster in mixed_bfloat16 than in float32 on a CPU with bfloat16 units
# (benchmarks/backends.py on an AMD EPYC with AVX512-BF16, training img/s, float32 -> bfloat16:
# TensorFlow lenet5 2246 -> 2842, ygnet 98 -> 169, fast94 274 -> 391; PyTorch 707 -> 812, 68 -> 115,
# 131 -> 263; JAX 733 -> 581, 42 -> 30, 60 -> 66, so JAX stays in float32 on CPUs).
CPU_BF16_FASTER = {"tensorflow": True, "torch": True, "jax": False}
# On such a backend, `auto` still takes bfloat16 only where the CPU's bfloat16 matrix product measures
# at least this much faster than its float32 one (`cpu_bf16_speedup`). The flags alone do not say: on
# an AMD EPYC with AVX512-BF16 the 2048 x 2048 product ran 0.39 vs 0.21 TFLOP/s (1.8x) and training
# 1.4-1.7x faster, while on an Intel Xeon with AVX512-BF16 and no AMX it ran 0.15 vs 0.30 TFLOP/s
# (0.5x) and training 1.5-1.9x *slower* in bfloat16 (benchmarks/roofline.py, README: Speed).
BF16_MIN_SPEEDUP = 1.2


def cpu_name():
    """The CPU's model name and core count, e.g. 'Intel(R) Xeon(R) Processor @ 2.50GHz, 2 cores'."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), name)
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def bf16_units():
    """The CPU's bfloat16 units, e.g. 'AMX' or 'no AMX, AVX512-BF16' or 'no AMX, no AVX512-BF16'."""
    flags = cpu_flags()
    if "amx_bf16" in flags:
        return "AMX"
    return "no AMX, " + ("AVX512-BF16" if "avx512_bf16" in flags else "no AVX512-BF16")


def describe_device():
    """One line naming the device training runs on: its GPUs, else the CPU with its bfloat16 units
    (e.g. 'CPU AMD EPYC, 2 cores (no AMX, AVX512-BF16)')."""
    found = gpus()
    if found:
        return f"{len(found)} x GPU {found[0][0]}"
    return f"CPU {cpu_name()} ({bf16_units()})"


def _random_square(n, dtype, seed):
    return keras.random.normal((n, n), seed=seed, dtype=dtype)


def _product_seconds(a, b):
    """Seconds of one matrix product a @ b, waited for (JAX dispatches asynchronously)."""
    start = time.perf_counter()
    keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.matmul(a, b)[0, 0], "float32"))
    return time.perf_counter() - start


def matmul_tflops(dtype, n=2048, seconds=3.0):
    """TFLOP/s of an n x n by n x n matrix product in `dtype` ('float32', 'bfloat16') on the active
    backend's default device: 2 n^3 FLOPs per product, products repeated for about `seconds` after
    one warm-up product."""
    a, b = _random_square(n, dtype, 0), _random_square(n, dtype, 1)
    _product_seconds(a, b)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _product_seconds(a, b)
        count += 1
    return 2 * n ** 3 * count / (time.perf_counter() - start) / 1e12


@functools.lru_cache(maxsize=None)
def cpu_bf16_speedup(pairs=24, n=1024):
    """How many times faster an n x n matrix product runs in bfloat16 than in float32 on this machine.

    The median, over `pairs` back-to-back pairs of one float32 and one bfloat16 product (which goes
    first alternates), of the float32 product's seconds over the bfloat16 one's, so that a burst of
    load that hits a few pairs unevenly does not move it (about 1 s in all on a 2-core Xeon; measured
    once per process). On an Intel Xeon without AMX, beside a bursty load (2 threads, 0.2 s busy and
    0.2 s idle), twelve probes gave 0.56-0.62 where the best of three alternating 0.2-s rounds gave
    0.46-0.68. A steady load does not slow both alike: beside CI's tests the same CPU measured up to
    0.9 here, and 1.23 once (bfloat16 picked), so a busy machine can still mislead `auto`; 60 probes
    beside CI and a training run, 20 s apart, gave medians of 0.50-0.69 while single pairs reached 2.1.
    """
    inputs = {dtype: (_random_square(n, dtype, 0), _random_square(n, dtype, 1)) for dtype in ("float32", "bfloat16")}
    for a, b in inputs.values():
        _product_seconds(a, b)                               # warm-up: kernel selection, first allocation
    ratios = []
    for i in range(pairs):
        order = ("float32", "bfloat16") if i % 2 == 0 else ("bfloat16", "float32")
        seconds = {dtype: _product_seconds(*inputs[dtype]) for dtype in order}
        ratios.append(seconds["float32"] / seconds["bfloat16"])
    return statistics.median(ratios)


# The CPU flags of matrix units for each mixed policy's half type, and their names. Without them the
# policy still runs, slowly (docs/results.md, Precision): bfloat16 trained 3.5-3.7x slower than float32
# on an Intel Xeon without AMX or AVX512-BF16; fast94 trained 7x slower in mixed_float16 on an AMD
# EPYC with AVX512-BF16 and no FP16 units.
HALF_UNITS = {"mixed_bfloat16": ({"amx_bf16", "avx512_bf16"}, "AMX or AVX512-BF16"),
              "mixed_float16": ({"amx_fp16", "avx512_fp16"}, "AMX-FP16 or AVX512-FP16")}


def has_half_units(policy):
    """True when the CPU has matrix units for `policy`'s half type ('mixed_bfloat16' or 'mixed_float16')."""
    return bool(cpu_flags() & HALF_UNITS[policy][0])


def choose_precision(requested="auto"):
    """The Keras dtype policy to train with, and why.

    'auto' gives the policy named by $CIFAR10_AUTO_PRECISION when that is set, else
    'mixed_bfloat16' on a GPU that supports bfloat16, or on a CPU with AMX or AVX512-BF16
    (bf16 matrix units) where the backend was measured faster in bfloat16 there
    (CPU_BF16_FASTER) and this CPU's bfloat16 matrix product measures at least
    BF16_MIN_SPEEDUP times faster than its float32 one (`cpu_bf16_speedup`, about 1 s),
    else 'float32'. Other values pass through.

    Returns:
        (policy, why): a Keras dtype policy name and the reason in a few words, e.g.
        ('float32', "auto: CPU with no AMX, AVX512-BF16, but its bfloat16 matrix product measured 0.52x float32's").
        A value asked for passes through with "asked for", and a warning where it is a mixed policy
        whose half type has no matrix units on this CPU (HALF_UNITS) and there is no GPU.

    Raises:
        SuiteError: $CIFAR10_AUTO_PRECISION names no policy of PRECISIONS.
    """
    if requested in HALF_UNITS and not has_half_units(requested) and not gpus():
        # Asked for and honoured, with a warning in the reason (the run's header and config.json).
        return requested, f"asked for, though this CPU has no {HALF_UNITS[requested][1]}: float32 is likely faster"
    if requested != "auto":
        return requested, "asked for"
    forced = os.environ.get(AUTO_PRECISION_ENV)
    if forced:
        if forced not in PRECISIONS[1:]:
            raise SuiteError(f"{AUTO_PRECISION_ENV}={forced!r}: choose one of {', '.join(PRECISIONS[1:])}")
        return forced, f"auto: ${AUTO_PRECISION_ENV}"
    found = gpus()
    if found:
        if all(bf16 for _, bf16 in found):
            return "mixed_bfloat16", "auto: the GPU supports bfloat16"
        return "float32", "auto: a GPU without bfloat16"
    backend = keras.backend.backend()
    if not has_half_units("mixed_bfloat16"):
        return "float32", f"auto: CPU without {HALF_UNITS['mixed_bfloat16'][1]}"
    if not CPU_BF16_FASTER.get(backend, False):
        return "float32", f"auto: CPU with {bf16_units()}, but {backend} was not measured faster in bfloat16"
    speedup = cpu_bf16_speedup()
    if speedup < BF16_MIN_SPEEDUP:
        return "float32", (f"auto: CPU with {bf16_units()}, but its bfloat16 matrix product measured "
                           f"{speedup:.2f}x float32's")
    return "mixed_bfloat16", (f"auto: CPU with {bf16_units()}; its bfloat16 matrix product measured "
                              f"{speedup:.2f}x float32's")


def resolve_precision(requested="auto"):
    """The Keras dtype policy of `choose_precision(requested)`, without the reason.

    Raises:
        SuiteError: as `choose_precision`.
    """
    return choose_precision(requested)[0]


def check_tf_config():
    """The worker addresses of $TF_CONFIG, checked: valid JSON with cluster.worker a list of addresses and
    task {"type": "worker", "index": i} within it.

    Raises:
        SuiteError: TF_CONFIG is missing or malformed, or its task index is outside the worker list.
    """
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise SuiteError("--strategy multiworker needs TF_CONFIG (the cluster and this task's index)")
    try:
        config = json.loads(text)
    except ValueError:
        raise SuiteError("TF_CONFIG is not valid JSON") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    workers = cluster.get("worker") if isinstance(cluster, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(workers, list) or not workers or not all(isinstance(w, str) for w in workers):
        raise SuiteError('TF_CONFIG needs "cluster": {"worker": ["host:port", ...]}')
    index = task.get("index") if isinstance(task, dict) else None
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(workers) or \
            task.get("type") != "worker":
        raise SuiteError(f'TF_CONFIG task must be {{"type": "worker", "index": 0..{len(workers) - 1}}}, '
                         f"got {task!r}")
    return workers


def distribution_scope(requested="auto"):
    """A context to build and compile the model in, for the chosen distribution strategy.

    TensorFlow: 'mirrored' is tf.distribute.MirroredStrategy over the local GPUs,
    'multiworker' is MultiWorkerMirroredStrategy configured by TF_CONFIG (checked first,
    see `check_tf_config`). JAX: 'mirrored' sets keras.distribution.DataParallel over
    the local devices (each batch is split over them: its size must divide evenly),
    'multiworker' first calls keras.distribution.initialize() (JAX's multi-process
    variables). PyTorch: 'default' only. 'auto'
    picks mirrored with several GPUs, else default; never multiworker, which waits for
    the other workers and so must be asked for.

    Returns:
        (context manager, description): enter the context to build the model.

    Raises:
        SuiteError: unknown strategy, 'multiworker' without a valid TF_CONFIG on TensorFlow,
            or a strategy the backend does not support.
    """
    if requested not in STRATEGIES:
        raise SuiteError(f"unknown strategy {requested!r}; choose one of: {', '.join(STRATEGIES)}")
    backend, n_gpus = keras.backend.backend(), len(gpus())
    choice = requested
    if requested == "auto":       # never multiworker: it waits for the other workers, so it must be asked for
        choice = "mirrored" if n_gpus > 1 else "default"
    if choice == "default":
        return contextlib.nullcontext(), f"default (one device; {n_gpus} GPU(s) found)"
    if backend == "tensorflow":
        import tensorflow as tf
        if choice == "mirrored":
            strategy = tf.distribute.MirroredStrategy()
        else:
            workers = check_tf_config()
            print(f"multiworker: waiting for the {len(workers)} workers of TF_CONFIG ({', '.join(workers)}) "
                  "to start", flush=True)
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        name = "MirroredStrategy" if choice == "mirrored" else "MultiWorkerMirroredStrategy"
        return strategy.scope(), f"{choice} ({name}, {strategy.num_replicas_in_sync} replicas)"
    if backend == "jax":
        if choice == "multiworker":
            keras.distribution.initialize()
        devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        return contextlib.nullcontext(), f"{choice} (keras.distribution.DataParallel over {len(devices)} devices)"
    raise SuiteError(f"--strategy {choice} is not supported on the {backend} backend; use default")


def is_chief(model):
    """Whether this process keeps the run's files: False only in the other workers of a multi-worker
    run (TensorFlow's MultiWorkerMirroredStrategy task id > 0, or JAX process index > 0).

    Args:
        model: the compiled model (a TensorFlow model knows its distribution strategy).
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        return jax.process_index() == 0
    if backend != "tensorflow":
        return True
    import tensorflow as tf
    strategy = model.distribute_strategy
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    return strategy.cluster_resolver.task_id == 0


def fix_multiworker_build(model):
    """Let Keras 3 fit `model` under TensorFlow's MultiWorkerMirroredStrategy; other models are left alone.

    Before its first step, Keras' TensorFlow trainer builds the model symbolically from
    one batch, which it first averages over the replicas with strategy.reduce(batch) on
    the whole (images, labels) tuple; MultiWorkerMirroredStrategy cannot reduce a tuple
    and fails ("unsupported type PerReplica ... to a Tensor", keras-team/keras#20585).
    Only the batch's shapes matter there, so this gives the build one replica's batch.
    Then, after every step, Keras averages the step's scalar logs (loss, accuracy) over
    the workers with strategy.reduce("MEAN", v, axis=0), which fails on a scalar; scalars
    are averaged with axis=None instead. Written here because Keras has no option for
    either; remove once Keras fixes them.
    """
    if keras.backend.backend() != "tensorflow":
        return model
    import tensorflow as tf
    strategy = model.distribute_strategy
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return model
    build = model._maybe_symbolic_build

    def build_from_one_replica(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], next(it))
                break
        return build(data_batch=data_batch)

    model._maybe_symbolic_build = build_from_one_replica
    from keras.src.backend.tensorflow import trainer
    if not getattr(trainer.reduce_per_replica, "scalars_fixed", False):
        reduce_per_replica = trainer.reduce_per_replica

        def reduce_scalars_too(values, strategy, reduction):
            if reduction in ("auto", "mean") and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
                def mean(v):
                    scalar = strategy.experimental_local_results(v)[0].shape.rank == 0
                    return strategy.reduce("MEAN", v, axis=None if scalar else 0)
                return tf.nest.map_structure(mean, values)
            return reduce_per_replica(values, strategy, reduction)

        reduce_scalars_too.scalars_fixed = True
        trainer.reduce_per_replica = reduce_scalars_too
    return model

