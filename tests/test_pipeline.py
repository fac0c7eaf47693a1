"""The training input pipeline and its augmentation engines."""
import keras
import numpy as np
import pytest

from data.augment import augmentation_layers
from data.pipeline import train_dataset
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


@pytest.mark.parametrize("engine", ["layers", "pydataset", "imagedatagenerator"])
def test_every_engine_gives_float_batches_in_pixel_range(engine):
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


SHIFT_FLIP = {"width_shift_range": 2, "height_shift_range": 2, "horizontal_flip": True, "fill_mode": "reflect"}


def as_array(batch):
    return np.asarray(keras.ops.convert_to_numpy(batch))


@pytest.mark.backends
def test_pydataset_engine_batches_are_a_pure_function_of_seed_epoch_and_step():
    x, y = images(16)
    whole = train_dataset(x, y, 5, SHIFT_FLIP, "pydataset", seed=4, epochs=3)
    assert len(whole) == 12                                      # 3 epochs of 4 batches: 5, 5, 5, 1
    assert [len(whole[j][1]) for j in range(4)] == [5, 5, 5, 1]
    resumed = train_dataset(x, y, 5, SHIFT_FLIP, "pydataset", seed=4, first_epoch=2, epochs=3)
    assert len(resumed) == 4
    for j in (3, 1, 0, 2):                                       # any order: nothing depends on the last call
        np.testing.assert_array_equal(as_array(resumed[j][0]), as_array(whole[8 + j][0]))
        np.testing.assert_array_equal(resumed[j][1], whole[8 + j][1])
    batch = as_array(whole[0][0])
    assert batch.dtype == np.float32 and batch.shape == (5, 32, 32, 3) and 0 <= batch.min() <= batch.max() <= 255
    assert not np.array_equal(batch, as_array(whole[4][0]))      # epochs are shuffled and augmented anew
    other_seed = train_dataset(x, y, 5, SHIFT_FLIP, "pydataset", seed=5, epochs=1)
    assert not np.array_equal(batch, as_array(other_seed[0][0]))
    for epoch in range(3):                                       # each epoch shows every image once
        labels = np.concatenate([whole[4 * epoch + i][1] for i in range(4)])
        assert sorted(labels) == sorted(y)
    with pytest.raises(IndexError):
        whole[12]


@pytest.mark.backends
def test_pydataset_engine_alternating_flip_mirrors_each_image_in_every_other_epoch():
    x, y = images(8)
    y = np.arange(8)                                             # labels name the images
    data = train_dataset(x, y, 8, {"alternating_flip": True}, "pydataset", seed=2, epochs=3)
    seen = [dict(zip(data[e][1], as_array(data[e][0]).astype(np.uint8))) for e in range(3)]
    mirrored = [[np.array_equal(seen[e][i], x[i][:, ::-1]) for i in range(8)] for e in range(3)]
    for i in range(8):
        assert np.array_equal(seen[0][i], x[i]) or mirrored[0][i]
        assert mirrored[1][i] != mirrored[0][i] and mirrored[2][i] == mirrored[0][i]
    assert 0 < sum(mirrored[0]) < 8                              # the first epoch's flips are random per image


def test_auto_engine_is_tf_data_on_tensorflow_and_the_tensorflow_engines_say_when_it_is_missing(monkeypatch):
    import importlib.util

    from data.pipeline import resolve_engine
    assert resolve_engine("auto") == ("layers" if keras.backend.backend() == "tensorflow" else "pydataset")
    assert resolve_engine("pydataset") == "pydataset"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow"
                        else real_find_spec(name, *a))
    with pytest.raises(SuiteError, match=r"^the layers augment engine needs TensorFlow \(a tf.data pipeline\), "
                                         r"which is not installed; use --augment-engine pydataset \(or auto\)$"):
        resolve_engine("layers")
    with pytest.raises(SuiteError, match="unknown augment engine 'opencv'"):
        resolve_engine("opencv")
