"""For callbacks that read or assign weights between training steps."""


def sync_weights(model):
    """Make `model`'s variables hold its current weights inside `fit`, on every backend.

    JAX's `fit` keeps the weights outside the Keras variables between its steps (Keras'
    `jax_state_sync`); this puts them back, and makes the next step start from the variables'
    values, so an assignment made by a callback is kept. TensorFlow and PyTorch need nothing.
    """
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()
