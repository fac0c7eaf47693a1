"""airbench94_muon's whitening-bias schedule (Keller Jordan, 2024, github.com/KellerJordan/cifar10-airbench,
airbench94_muon.py): the patch-whitening bias has its own learning rate, which decays linearly to zero
over the first 3 epochs; after that the bias stays frozen.

Keras' optimizers have one learning-rate schedule for all variables, hence this callback.
"""
import keras
from keras import ops

from callbacks.weights import sync_weights
from errors import SuiteError


class WhiteningBiasDecay(keras.callbacks.Callback):
    """Scale each optimizer step of one layer's trained weights by max(0, 1 - t / decay_steps) x lr(0) / lr(t).

    t is the optimizer step (0 for the first), lr(t) the optimizer's learning rate at it. The layer's
    learning rate thus starts at the run's initial one and falls linearly to 0 at `decay_steps`,
    whatever the run's schedule; from then on the weights are frozen. The callback lets the optimizer
    take its step (weight decay included) and then scales it, so the optimizer's momentum buffer
    keeps the unscaled steps: this equals a learning rate of the layer's own up to the change of
    lr(t) over the momentum's memory (about 7 steps at momentum 0.85). A resumed run goes on at the
    restored step.

    Args:
        decay_steps: optimizer steps until the learning rate reaches 0 (> 0).
        initial_lr: lr(0), the run's learning rate at step 0 (> 0).
        layer_name: the layer whose trainable weights follow this schedule (fast94's "whitening").

    Raises:
        SuiteError: (when training starts) the model has no layer of that name.
    """

    def __init__(self, decay_steps, initial_lr, layer_name="whitening"):
        super().__init__()
        self.decay_steps, self.initial_lr, self.layer_name = decay_steps, initial_lr, layer_name
        self.variables, self.before, self.factor = [], [], 0.0

    def on_train_begin(self, logs=None):
        try:
            layer = self.model.get_layer(self.layer_name)
        except ValueError:
            raise SuiteError(f"model {self.model.name} has no layer {self.layer_name!r}: the whitening-bias schedule "
                             "(recipe field whitening_bias_epochs) needs fast94's patch whitening") from None
        self.variables = layer.trainable_variables

    def on_train_batch_begin(self, batch, logs=None):
        sync_weights(self.model)
        optimizer = self.model.optimizer
        step = int(ops.convert_to_numpy(optimizer.iterations))
        lr = float(ops.convert_to_numpy(optimizer.learning_rate))
        decay = max(0.0, 1.0 - step / self.decay_steps)
        self.factor = decay * self.initial_lr / lr if lr > 0 else 0.0
        self.before = [ops.copy(v.value) for v in self.variables]

    def on_train_batch_end(self, batch, logs=None):
        sync_weights(self.model)
        for var, old in zip(self.variables, self.before):
            var.assign(old + self.factor * (var.value - old))
