"""The "pydataset" augmentation engine: a keras.utils.PyDataset of augmented batches, on any backend.

Each batch is gathered on the host (uint8, numpy), then turned into a float32 tensor
of the active backend and augmented there by data.augment's Keras preprocessing
layers, on a whole batch at once: on the backend's default device, so the GPU when
JAX or PyTorch has one, the CPU otherwise. Needs no TensorFlow. Every shuffle and
transform is a pure function of (seed, epoch, step), as in the tf.data engine.
"""
import keras
import numpy as np

from data.augment import apply_layers, augmentation_layers, first_flips, StatelessSeed


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled, augmented batches of epochs first_epoch..epochs-1, as one sequence of items.

    Args:
        x: uint8 images (N, H, W, C); y: int labels (N,).
        batch_size: images per batch (the last batch of an epoch may be smaller).
        augment: ImageDataGenerator parameters (data.augment.augmentation_layers), with
            alternating_flip as in the tf.data engine; None/{} for none.
        seed: seed of the shuffles and transforms.
        first_epoch, epochs: the epochs to produce, first_epoch (0-based) up to epochs
            (exclusive); a resumed run starts at its next epoch.

    Item j is batch i = j % steps of epoch e = first_epoch + j // steps (steps = batches in an
    epoch): the images order(e)[i*B:(i+1)*B], order(e) being numpy's permutation for
    (seed, e), transformed with seeds derived from (seed, e*steps + i). Items are
    (float32 images (B, H, W, C) in 0-255, a backend tensor when augmented, int labels (B,)).
    Keras reads them in order with `fit(..., steps_per_epoch=steps)`; there are no worker
    threads, whose prefetching across Keras' epoch boundaries could reorder items. On an
    accelerator the augmentation runs asynchronously on the device anyway.
    """

    def __init__(self, x, y, batch_size, augment=None, seed=0, first_epoch=0, epochs=1):
        super().__init__(workers=1, use_multiprocessing=False)
        augment = augment or {}
        self.x, self.y, self.batch_size, self.seed = x, y, batch_size, seed
        self.first_epoch, self.epochs = first_epoch, epochs
        self.steps = -(-len(x) // batch_size)
        self.layers = augmentation_layers(augment, image_size=x.shape[1])
        self.flips = first_flips(len(x), seed) if augment.get("alternating_flip") else None
        self._order = (None, None)

    def __len__(self):
        return self.steps * (self.epochs - self.first_epoch)

    def order(self, epoch):
        """The shuffle of `epoch`: int (N,) indices into x, numpy's permutation for (seed, epoch)."""
        if self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.x)))
        return self._order[1]

    def batch(self, epoch, i):
        """Batch i of `epoch` (see the class docstring); a pure function of (seed, epoch, i)."""
        index = self.order(epoch)[i * self.batch_size:(i + 1) * self.batch_size]
        images = self.x[index]
        if self.flips is not None:      # mirrored in epochs where (first flip + epoch) is odd
            mirror = (self.flips[index] + epoch) % 2 == 1
            images = np.where(mirror[:, None, None, None], images[:, :, ::-1], images)
        if not self.layers:
            return images.astype(np.float32), self.y[index]
        step = epoch * self.steps + i
        batch = apply_layers(keras.ops.convert_to_tensor(images, dtype="float32"), self.layers,
                             lambda layer: StatelessSeed([self.seed, step], layer))
        return batch, self.y[index]

    def __getitem__(self, j):
        if not 0 <= j < len(self):
            raise IndexError(f"batch {j} of {len(self)}")
        return self.batch(self.first_epoch + j // self.steps, j % self.steps)
