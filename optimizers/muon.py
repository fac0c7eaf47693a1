"""Muon for convolution kernels, Nesterov SGD for everything else: airbench94_muon's optimizer.

Muon (Keller Jordan, 2024, "Muon: an optimizer for hidden layers in neural networks",
kellerjordan.github.io/posts/muon) replaces each weight matrix's momentum update by the nearest
semi-orthogonal matrix, computed by a few Newton-Schulz iterations. airbench94_muon
(github.com/KellerJordan/cifar10-airbench, airbench94_muon.py: 94.01% in 8 epochs) applies it
to the convolution filters and keeps Nesterov SGD for the BatchNorm biases and the linear head.

Why not keras.optimizers.Muon: in Keras 3.15 it applies the Muon step only to 2-D variables
(Dense kernels) and AdamW to every other one, so a CNN's 4-D convolution kernels would get
AdamW; the recipe needs the reverse (Muon for the 4-D kernels, SGD for the rest). This class
is Keras' SGD with the Muon step added for rank-4 variables.
"""
import math

import keras
from keras import ops

# The quintic Newton-Schulz coefficients of Muon (and of keras.optimizers.Muon's defaults).
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def frobenius_norm(x):
    """||x||_F of a tensor of any rank, a scalar (keras.ops.norm of the flattened tensor: on TensorFlow
    ops.norm without an axis refuses tensors of rank > 2)."""
    return ops.norm(ops.reshape(x, (-1,)))


def orthogonalize(matrix, steps=3, eps=1e-7):
    """Approximately the nearest semi-orthogonal matrix to `matrix` (U V^T of its SVD U S V^T).

    Quintic Newton-Schulz iteration on matrix / ||matrix||_F (Muon's `zeropower_via_newtonschulz5`):
    its singular values end near 1 (roughly 0.5-1.5 after 3 steps, which is what Muon wants,
    not an exact orthogonalization). Input and output: a 2-D tensor (m, n), same dtype.
    """
    a, b, c = NS_COEFFICIENTS
    x = matrix / (frobenius_norm(matrix) + eps)
    wide = matrix.shape[0] <= matrix.shape[1]
    if not wide:
        x = ops.transpose(x)                 # iterate on the (small, small) Gram matrix
    for _ in range(steps):
        gram = ops.matmul(x, ops.transpose(x))
        x = a * x + ops.matmul(b * gram + c * ops.matmul(gram, gram), x)
    return x if wide else ops.transpose(x)


@keras.saving.register_keras_serializable(package="cifar_suite")
class MuonSGD(keras.optimizers.SGD):
    """Keras' SGD (momentum, Nesterov, decoupled weight decay) for every variable but rank-4 ones
    (Conv2D kernels (kh, kw, in, out)), which take airbench94_muon's Muon step instead:

        buffer <- muon_momentum * buffer + gradient
        update <- gradient + muon_momentum * buffer    (Nesterov; buffer without it)
        kernel <- kernel * sqrt(out) / ||kernel||_F    (each filter bank renormalized)
        kernel <- kernel - muon_scale * lr * orthogonalize(update as a (kh*kw*in, out) matrix)

    The renormalization makes the kernel's scale irrelevant (a BatchNorm follows each
    convolution in the models this is meant for), so weight decay does nothing to these
    kernels. Args: those of keras.optimizers.SGD, plus `muon_scale` (the Muon step's learning
    rate as a multiple of `learning_rate`, so one schedule drives both), `muon_momentum` and
    `ns_steps` (Newton-Schulz iterations). `momentum` (SGD's) may be 0; `muon_momentum` is the
    Muon step's own.
    """

    def __init__(self, learning_rate=0.01, muon_scale=1.0, muon_momentum=0.6, ns_steps=3, name="muon_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.muon_scale, self.muon_momentum, self.ns_steps = muon_scale, muon_momentum, ns_steps

    def build(self, variables):
        """SGD's momentum slots, made even when `momentum` is 0: the Muon step keeps its buffers there."""
        if self.built:
            return
        super().build(variables)
        if not self.momentums:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        """One step for one variable: the Muon step for rank-4 variables, else Keras' SGD step."""
        if len(variable.shape) != 4:
            return super().update_step(gradient, variable, learning_rate)
        lr = ops.cast(learning_rate, variable.dtype) * self.muon_scale
        gradient = ops.cast(gradient, variable.dtype)
        buffer = self.momentums[self._get_variable_index(variable)]
        self.assign(buffer, self.muon_momentum * buffer + gradient)
        update = gradient + self.muon_momentum * buffer if self.nesterov else buffer
        out = variable.shape[-1]
        kernel = variable * (math.sqrt(out) / frobenius_norm(variable))
        step = orthogonalize(ops.reshape(update, (-1, out)), self.ns_steps)
        self.assign(variable, kernel - lr * ops.reshape(step, variable.shape))

    def get_config(self):
        return {**super().get_config(), "muon_scale": self.muon_scale, "muon_momentum": self.muon_momentum,
                "ns_steps": self.ns_steps}
