"""The training input pipeline and its two augmentation engines."""
import numpy as np
import pytest

from data.pipeline import augmentation_layers, train_dataset
from errors import SuiteError


def images(n=16):
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 10


def test_layers_engine_without_augmentation_shuffles_and_keeps_every_image():
    x, y = images()
    batches = list(train_dataset(x, y, 5, {}, "layers", seed=0))
    assert [len(b[0]) for b in batches] == [5, 5, 5, 1]
    got = np.concatenate([b[0].numpy() for b in batches])
    assert got.dtype == np.float32
    assert sorted(map(bytes, got.astype(np.uint8))) == sorted(map(bytes, x))
    assert not np.array_equal(got.astype(np.uint8), x)                    # shuffled


def test_flip_only_gives_each_image_or_its_mirror():
    x, y = images()
    batch, labels = next(iter(train_dataset(x, y, 16, {"horizontal_flip": True}, "layers", seed=3)))
    batch, labels = batch.numpy().astype(np.uint8), labels.numpy()
    flipped = 0
    for img, label in zip(batch, labels):
        original = x[(y == label)]
        same = any(np.array_equal(img, o) for o in original)
        mirror = any(np.array_equal(img, o[:, ::-1]) for o in original)
        assert same or mirror
        flipped += mirror and not same
    assert 0 < flipped < 16


@pytest.mark.parametrize("engine", ["layers", "imagedatagenerator"])
def test_both_engines_give_float_batches_in_pixel_range(engine):
    x, y = images()
    aug = {"rotation_range": 10, "width_shift_range": 0.1, "height_shift_range": 2, "horizontal_flip": True}
    data = train_dataset(x, y, 8, aug, engine, seed=0)
    batch, labels = next(iter(data)) if engine == "layers" else data[0]
    batch = np.asarray(batch)
    assert batch.shape == (8, 32, 32, 3) and batch.dtype == np.float32
    assert batch.min() >= 0 and batch.max() <= 255
    assert np.asarray(labels).shape == (8,)


def test_augmentation_layers_follow_imagedatagenerator_parameters():
    names = [type(layer).__name__ for layer in augmentation_layers(
        {"horizontal_flip": True, "rotation_range": 36, "width_shift_range": 4, "zoom_range": 0.1,
         "shear_range": 10})]
    assert names == ["RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomShear"]
    rot, shift = augmentation_layers({"rotation_range": 36, "width_shift_range": 4})
    assert rot.factor == (-0.1, 0.1)                       # 36 degrees = 0.1 of a turn
    assert shift.width_factor == 0.125                     # 4 pixels of 32, both ways
    assert augmentation_layers({}) == []


def test_batch_larger_than_data_is_refused():
    x, y = images(4)
    with pytest.raises(SuiteError, match="batch size 8 is larger than the 4 training images"):
        train_dataset(x, y, 8)
