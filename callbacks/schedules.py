"""Learning-rate schedules by name, built from Keras' own schedule classes.

Every schedule but 'plateau' is a keras.optimizers.schedules.LearningRateSchedule of
the optimizer's step counter, so it resumes at the right point whenever the
optimizer's `iterations` are restored. 'plateau' is Keras' ReduceLROnPlateau.
"""
import keras

from errors import SuiteError
from experiments.config import SCHEDULE_ARGS
from experiments.fields import check_fields, with_defaults

# What each schedule does with its arguments (their types, ranges and defaults are declared in
# experiments.config.SCHEDULE_ARGS, where a recipe is checked):
# constant: lr throughout.
# step: lr x factor at each epoch in drop_epochs (default: at 50% and 75% of the epochs).
# time_decay: Keras 2's optimizer `decay`: lr / (1 + decay * t), t in steps, or in whole epochs
#   with per="epoch". Default decay = lr / epochs, the seeds' usual choice.
# cosine: cosine annealing from lr to alpha * lr over the whole run.
# onecycle: one-cycle (Smith 2018): linear warm-up from lr/div_factor to lr over pct_start
#   of the steps, then cosine annealing to lr/final_div_factor.
# warmup_linear: airbench94's schedule: linear warm-up from start * lr to lr over the first
#   `warmup` of the steps, then linear decay to end * lr.
# plateau: ReduceLROnPlateau on val_loss.


def make_schedule(name, lr, args, epochs, steps_per_epoch):
    """Build a learning-rate schedule.

    Args:
        name: a key of SCHEDULE_ARGS.
        lr: initial (peak, for 'onecycle') learning rate.
        args: dict of schedule arguments (keys of SCHEDULE_ARGS[name]).
        epochs: epochs of the run; steps_per_epoch: optimizer steps per epoch.

    Returns:
        (learning_rate, callbacks): a float or LearningRateSchedule for the optimizer,
        and a list of extra Keras callbacks (ReduceLROnPlateau for 'plateau').

    Raises:
        SuiteError: unknown schedule or schedule argument, or a bad value.
    """
    if name not in SCHEDULE_ARGS:
        raise SuiteError(f"unknown schedule {name!r}; choose one of: {', '.join(SCHEDULE_ARGS)}")
    check_fields(args, SCHEDULE_ARGS[name], lambda key: f"--schedule-args {key} (schedule {name})")
    a = with_defaults(args, SCHEDULE_ARGS[name])
    total = epochs * steps_per_epoch
    s = keras.optimizers.schedules
    if name == "constant":
        return lr, []
    if name == "step":
        drops = a["drop_epochs"] or [epochs // 2, (3 * epochs) // 4]
        drops = sorted({int(e) for e in drops if 0 < int(e) < epochs})
        if not drops:
            return lr, []
        values = [lr * a["factor"] ** i for i in range(len(drops) + 1)]
        # PiecewiseConstantDecay keeps the old value at a boundary step itself, so the
        # boundary is the last step before the drop epoch.
        return s.PiecewiseConstantDecay([e * steps_per_epoch - 1 for e in drops], values), []
    if name == "time_decay":
        decay = lr / epochs if a["decay"] is None else a["decay"]
        per_epoch = a["per"] == "epoch"
        return s.InverseTimeDecay(lr, steps_per_epoch if per_epoch else 1, decay, staircase=per_epoch), []
    if name == "cosine":
        return s.CosineDecay(lr, max(total, 1), alpha=a["alpha"]), []
    if name == "onecycle":
        warmup = int(total * a["pct_start"])
        start = lr / a["div_factor"]
        return s.CosineDecay(start, max(total - warmup, 1), alpha=1 / a["final_div_factor"],
                             warmup_target=lr, warmup_steps=warmup), []
    if name == "warmup_linear":
        return WarmupLinearDecay(lr, total, a["warmup"], a["start"], a["end"]), []
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=a["factor"],
                                                patience=a["patience"], min_lr=a["min_lr"])
    return lr, [plateau]


@keras.saving.register_keras_serializable(package="cifar_suite")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Piecewise-linear learning rate of airbench94 (Keller Jordan, 2024): start*lr -> lr over the
    first `warmup` fraction of `total_steps` optimizer steps, then lr -> end*lr at the last step.

    Keras has linear warm-up only before a cosine (CosineDecay) and linear decay only
    without warm-up (PolynomialDecay), hence this class.
    """

    def __init__(self, lr, total_steps, warmup=0.23, start=0.2, end=0.07):
        self.lr, self.total_steps, self.warmup, self.start, self.end = lr, total_steps, warmup, start, end

    def __call__(self, step):
        ops = keras.ops
        step = ops.cast(step, "float32")
        warm = max(int(self.total_steps * self.warmup), 1)
        rise = self.start + (1 - self.start) * step / warm
        fall = 1 + (self.end - 1) * (step - warm) / max(self.total_steps - warm, 1)
        return self.lr * ops.where(step < warm, rise, ops.maximum(fall, self.end))

    def get_config(self):
        return {"lr": self.lr, "total_steps": self.total_steps, "warmup": self.warmup,
                "start": self.start, "end": self.end}
