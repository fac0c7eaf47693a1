"""run.py predict: top-5 of a known model for images of any size and format; bad files do not stop the rest."""
import numpy as np
import pytest

import run
from inference import load_image


@pytest.fixture
def colour_model(tmp_path):
    """A model whose logits are 2 x the mean red, green and blue (0-1) for classes 0-2, 0 for the rest."""
    import keras
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    dense = keras.layers.Dense(10, activation="softmax")
    model = keras.Model(inputs, dense(x))
    kernel = np.zeros((3, 10), np.float32)
    kernel[[0, 1, 2], [0, 1, 2]] = 2.0
    dense.set_weights([kernel, np.zeros(10, np.float32)])
    model.save(tmp_path / "colour.h5")
    return tmp_path / "colour.h5"


def test_known_images_get_known_top5_and_a_bad_file_fails_alone(colour_model, tmp_path, capsys):
    from PIL import Image
    Image.new("RGB", (32, 32), (255, 0, 0)).save(tmp_path / "red.png")
    Image.new("RGBA", (640, 480), (0, 255, 0, 128)).save(tmp_path / "green.png")   # any size, with alpha
    Image.new("L", (50, 70), 255).save(tmp_path / "white.jpg")                     # grey JPEG
    (tmp_path / "notes.png").write_text("not an image")
    paths = [str(tmp_path / n) for n in ("red.png", "notes.png", "green.png", "white.jpg")]
    status = run.main(["predict", str(colour_model), *paths])
    out, err = capsys.readouterr()
    assert status == 2                                                  # one file failed
    assert err.strip().splitlines() == [f"run.py predict: error: {paths[1]}: not an image Pillow can read "
                                        "(empty or another format)"]
    lines = out.strip().splitlines()
    # red: logits (2, 0, ..., 0) -> e^2 / (e^2 + 9) = 0.451 for airplane, 1 / (e^2 + 9) = 0.061 for the rest
    assert lines[0].startswith(f"{paths[0]}: airplane 0.451, ") and lines[0].count("0.061") == 4
    assert lines[1].startswith(f"{paths[2]}: automobile 0.451")
    assert lines[2].count("0.253") == 3                                 # white: e^2 / (3 e^2 + 7) for classes 0-2
    assert len(lines) == 3 and all(line.count(",") == 4 for line in lines)               # top-5 each


def test_load_image_converts_any_mode_and_size(tmp_path):
    from PIL import Image
    Image.new("P", (300, 17)).save(tmp_path / "palette.gif")
    image = load_image(str(tmp_path / "palette.gif"))
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    from PIL import Image
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "grey16.png")
    x = load_image(str(tmp_path / "grey16.png"))
    assert x.shape == (32, 32, 3) and abs(x.mean() - 127.5) < 2 and (x == 255).mean() < 0.01
    np.testing.assert_array_equal(x[..., 0], x[..., 2])                      # grey stays grey


def test_a_named_pipe_is_refused_without_waiting_and_the_others_are_predicted(colour_model, tmp_path, capsys):
    import os

    from PIL import Image
    os.mkfifo(tmp_path / "fifo.png")
    Image.new("RGB", (32, 32), (0, 0, 255)).save(tmp_path / "blue.png")
    status = run.main(["predict", str(colour_model), str(tmp_path / "fifo.png"), str(tmp_path / "blue.png")])
    out, err = capsys.readouterr()
    assert status == 2 and "fifo.png: not a regular file" in err
    assert out.strip().splitlines() == [line for line in out.strip().splitlines() if "blue.png: bird 0.451" in line]
