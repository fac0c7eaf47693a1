"""keras-tuner's HyperModel for a registered experiment: the same factory, recipe and pipeline as `train`."""
import os

import keras
import keras_tuner

from callbacks import EpochStats, HistoryCSV, PreciseBatchNorm
from data.pipeline import steps_per_epoch, train_dataset
from experiments.search import apply_point, search_space
from training.evaluate import EVAL_BATCH_SIZE
from training.train import RunOptions, compiled_model, schedule_and_callbacks, write_run_header


def declare(hp, name, spec):
    """Declare one space entry (experiments.search spec) as a keras-tuner hyperparameter; returns its value."""
    kind = spec[0]
    if kind == "choice":
        return hp.Choice(name, list(spec[1]))
    if kind == "int":
        return hp.Int(name, int(spec[1]), int(spec[2]))
    return hp.Float(name, float(spec[1]), float(spec[2]), sampling="log" if kind == "log" else "linear")


def fit_batch_sizes(space, n_images):
    """The space without batch sizes larger than the training split (all of it as one batch if none fits)."""
    kind, *args = space.get("batch_size", ("", None))
    if kind == "choice":
        sizes = [b for b in args[0] if b <= n_images] or [n_images]
        space = {**space, "batch_size": ("choice", sizes)}
    return space


class ExperimentHyperModel(keras_tuner.HyperModel):
    """Builds and fits one trial of experiment `exp` over its search space (experiments.search).

    Args:
        exp: the Experiment whose recipe the trials vary.
        train: (x uint8 (N, 32, 32, 3), y int (N,)) training split.
        val: (x, y) validation split; the objective is its accuracy (never the test split).
        epochs: epochs per trial (hyperband: its maximum), also the length of the LR schedule.
        seed: seed of shuffling and augmentation.
        trials_dir: where each trial leaves a run folder (config.json, summary.txt,
            history.csv) that `run.py report` reads; None for none.
        env: the environment recorded in those config.json files.
        data: the data provenance recorded there (`data.provenance.data_provenance`).
        precise_bn: training images on which BatchNorm statistics are re-estimated before each
            validation (`callbacks.PreciseBatchNorm`), so that a trial of a few hundred steps is
            scored with settled statistics; 0 for Keras' moving averages as they are.
        tensorboard: also write Keras' TensorBoard logs into each trial's run folder (tb/).
    """

    def __init__(self, exp, train, val, epochs, seed=0, trials_dir=None, env=None, data=None, precise_bn=0,
                 tensorboard=False):
        super().__init__(name=exp.name)
        self.exp, self.train, self.val, self.epochs, self.seed = exp, train, val, epochs, seed
        self.precise_bn, self.tensorboard = precise_bn, tensorboard
        self.trials_dir, self.env, self.data = trials_dir, env or {}, data
        self.trial_id = None      # set by the tuner before each trial (tuning.tuner.make_tuner)
        self.space = fit_batch_sizes(search_space(exp), len(train[0]))

    def trial_experiment(self, hp):
        """The recipe of this trial (declares the hyperparameters on first use)."""
        values = {name: declare(hp, name, spec) for name, spec in self.space.items()}
        return apply_point(self.exp, values).with_overrides(epochs=self.epochs)

    def _schedule(self, exp):
        return schedule_and_callbacks(exp, len(self.train[0]))

    def _trial_folder(self, exp, model):
        """Write the trial's run folder header; returns the callbacks that fill in its history."""
        if not self.trials_dir or self.trial_id is None:
            return []
        folder = os.path.join(self.trials_dir, f"trial_{self.trial_id}")
        os.makedirs(folder, exist_ok=True)
        options = RunOptions(seed=self.seed, val_split=len(self.val[0]), precise_bn=self.precise_bn)
        write_run_header(folder, model, exp, options, self.env, self.data, announce=False)
        board = [keras.callbacks.TensorBoard(os.path.join(folder, "tb"), histogram_freq=1)] if self.tensorboard else []
        return [HistoryCSV(os.path.join(folder, "history.csv")), *board]

    def build(self, hp):
        exp = self.trial_experiment(hp)
        learning_rate, _ = self._schedule(exp)
        return compiled_model(exp, learning_rate, images=self.train[0])

    def fit(self, hp, model, *args, epochs=None, initial_epoch=0, callbacks=(), **kwargs):
        """Train one trial; keras-tuner passes its callbacks (and, for hyperband, epochs)."""
        exp = self.trial_experiment(hp)
        epochs = epochs or self.epochs
        x, y = self.train
        data = train_dataset(x, y, exp.batch_size, exp.augment, exp.augment_engine, seed=self.seed,
                             first_epoch=initial_epoch, epochs=epochs)
        _, extra = self._schedule(exp)
        # In a sweep a NaN loss ends the trial (scored by its best epoch) rather than the sweep.
        precise = [PreciseBatchNorm(x[:self.precise_bn])] if self.precise_bn else []
        own = [*precise, keras.callbacks.TerminateOnNaN(), EpochStats(len(x), epochs, print_fn=None), *extra,
               *self._trial_folder(exp, model)]
        return model.fit(data, epochs=epochs, initial_epoch=initial_epoch,
                         steps_per_epoch=steps_per_epoch(len(x), exp.batch_size),
                         validation_data=self.val, validation_batch_size=EVAL_BATCH_SIZE,
                         callbacks=[*own, *callbacks], verbose=0, shuffle=False)
