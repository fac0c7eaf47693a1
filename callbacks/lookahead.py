"""airbench94's lookahead (Keller Jordan, 2024; after Zhang et al. 2019, "Lookahead Optimizer").

Keras' optimizers have weight averaging (`use_ema`) but no lookahead, which moves the
weights themselves back to their average while training, hence this callback.
"""
import keras
from keras import ops

from callbacks.weights import sync_weights


class Lookahead(keras.callbacks.Callback):
    """Every `every` optimizer steps: average <- average + (1 - d) (weights - average), then weights <- average.

    d = base**every x (step / total_steps)**3, so it does nothing early in training and
    pulls the weights back to their average more and more towards the end (airbench94:
    base 0.95, every 5). At the end of training the weights become the average (d = 1).
    All float variables take part, BatchNormalization's moving statistics included, as in
    airbench94. A resumed run restarts the average from the restored weights.

    Args:
        total_steps: optimizer steps of the whole run (epochs x steps per epoch).
        base: per-step decay at the end of training (0 < base < 1).
        every: steps between updates.
    """

    def __init__(self, total_steps, base=0.95, every=5):
        super().__init__()
        self.total_steps, self.base, self.every = total_steps, base, every
        self.average = None

    def _variables(self):
        return [v for v in self.model.weights if "float" in str(v.dtype)]

    def on_train_begin(self, logs=None):
        self.average = None      # taken at the first batch: after a resume has restored the weights

    def on_train_batch_begin(self, batch, logs=None):
        sync_weights(self.model)
        if self.average is None:
            self.average = [ops.copy(v.value) for v in self._variables()]

    def on_train_batch_end(self, batch, logs=None):
        step = int(ops.convert_to_numpy(self.model.optimizer.iterations))
        if step % self.every == 0:
            sync_weights(self.model)
            self.update(self.base ** self.every * min(step / self.total_steps, 1.0) ** 3)

    def on_train_end(self, logs=None):
        sync_weights(self.model)
        if self.average is not None:
            self.update(1.0)

    def update(self, decay):
        """Move the average towards the weights by (1 - decay), and set the weights to it."""
        for i, var in enumerate(self._variables()):
            self.average[i] = self.average[i] + (1 - decay) * (var.value - self.average[i])
            var.assign(ops.copy(self.average[i]))   # its own buffer: JAX donates the variables to each step
