"""optimizers/muon.py: Newton-Schulz orthogonalization, MuonSGD's step for convolution kernels (airbench94_muon's
Muon) and Keras' SGD step for every other variable; the fast94_muon recipe builds it; a killed run resumes its
buffers exactly."""
import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest
from keras import ops

from conftest import ROOT, run_cli
from experiments import get_experiment
from optimizers import MuonSGD, orthogonalize
from training.train import make_optimizer


def singular_values(x):
    return np.linalg.svd(ops.convert_to_numpy(x), compute_uv=False)


@pytest.mark.parametrize("shape", [(576, 64), (64, 576), (48, 48)])
def test_orthogonalize_brings_every_singular_value_near_one_whatever_the_scale(shape):
    rng = np.random.default_rng(0)
    g = rng.normal(size=shape) * np.logspace(-3, 2, shape[1])       # singular values over 5 decades
    for scale in (1e-4, 1e3):
        s3 = singular_values(orthogonalize(ops.convert_to_tensor(g * scale, "float32"), steps=3))
        s8 = singular_values(orthogonalize(ops.convert_to_tensor(g * scale, "float32"), steps=8))
        assert orthogonalize(ops.ones(shape), 3).shape == shape
        assert s3.max() < 1.25 and s8.min() > 0.3 * s3.min() > 0       # none blown up, none zeroed
        # 8 steps: all but the smallest few near 1 (Muon's quintic has fixed points in about 0.7-1.2)
        assert np.median(s8) > 0.65 and s8.max() < 1.25


def test_orthogonalize_keeps_the_singular_vectors():
    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.normal(size=(40, 40)))
    v, _ = np.linalg.qr(rng.normal(size=(100, 40)))
    g = (u * np.linspace(0.5, 2, 40)) @ v.T                                 # (40, 100) = U S V^T
    o = ops.convert_to_numpy(orthogonalize(ops.convert_to_tensor(g, "float32"), steps=10))
    np.testing.assert_allclose(u.T @ o @ v, np.diag(np.diag(u.T @ o @ v)), atol=1e-4)   # U S' V^T, S' diagonal


def expected_muon_step(kernel, grad, buffer, lr, momentum, steps):
    buffer = momentum * buffer + grad
    update = grad + momentum * buffer
    out = kernel.shape[-1]
    kernel = kernel * np.sqrt(out) / np.linalg.norm(kernel)
    step = ops.convert_to_numpy(orthogonalize(ops.convert_to_tensor(update.reshape(-1, out), "float32"), steps))
    return kernel - lr * step.reshape(kernel.shape), buffer


@pytest.mark.backends      # CI runs these on JAX and PyTorch too
def test_convolution_kernels_take_the_muon_step_and_the_rest_keras_sgd_step():
    rng = np.random.default_rng(2)
    kernel0, bias0 = rng.normal(size=(3, 3, 8, 16)).astype("float32"), rng.normal(size=(16,)).astype("float32")
    grads = [(rng.normal(size=kernel0.shape).astype("float32"), rng.normal(size=bias0.shape).astype("float32"))
             for _ in range(3)]
    kernel, bias = keras.Variable(kernel0), keras.Variable(bias0)
    ref_bias = keras.Variable(bias0)
    muon = MuonSGD(0.5, muon_scale=0.4, muon_momentum=0.6, ns_steps=3, momentum=0.85, nesterov=True)
    sgd = keras.optimizers.SGD(0.5, momentum=0.85, nesterov=True)
    expect, buffer = kernel0, np.zeros_like(kernel0)
    for gk, gb in grads:
        muon.apply_gradients([(ops.convert_to_tensor(gk), kernel), (ops.convert_to_tensor(gb), bias)])
        sgd.apply_gradients([(ops.convert_to_tensor(gb), ref_bias)])
        expect, buffer = expected_muon_step(expect, gk, buffer, 0.5 * 0.4, 0.6, 3)
    np.testing.assert_allclose(ops.convert_to_numpy(kernel), expect, rtol=1e-4, atol=1e-5)
    # the same formula; PyTorch's keras SGD runs it as one foreach op over all variables: 1 ulp apart there
    np.testing.assert_allclose(ops.convert_to_numpy(bias), ops.convert_to_numpy(ref_bias), rtol=1e-6, atol=1e-7)
    assert not np.allclose(ops.convert_to_numpy(bias), bias0)


def test_a_step_changes_each_kernel_by_the_same_relative_amount_whatever_its_gradients_scale():
    rng = np.random.default_rng(3)
    kernel0 = rng.normal(size=(3, 3, 4, 32)).astype("float32")
    moved = []
    for grad_scale in (1e-6, 1e4):
        kernel = keras.Variable(kernel0 * 7.0)
        MuonSGD(0.1, muon_scale=1.0, momentum=0.9).apply_gradients(
            [(ops.convert_to_tensor(rng.normal(size=kernel0.shape).astype("float32") * grad_scale), kernel)])
        new = ops.convert_to_numpy(kernel)
        moved.append(np.linalg.norm(new - kernel0 * np.sqrt(32) / np.linalg.norm(kernel0)) / np.sqrt(32))
    assert 0.03 < moved[0] < 0.3 and moved[0] == pytest.approx(moved[1], rel=0.2)


def test_saves_and_loads_its_arguments():
    opt = MuonSGD(0.3, muon_scale=0.2, muon_momentum=0.5, ns_steps=4, momentum=0.8, nesterov=True,
                  weight_decay=0.01)
    back = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(back, MuonSGD)
    assert (back.muon_scale, back.muon_momentum, back.ns_steps, back.momentum, back.nesterov, back.weight_decay) == \
        (0.2, 0.5, 4, 0.8, True, 0.01)



def test_without_sgd_momentum_the_other_variables_take_plain_sgd_steps_and_kernels_still_muon():
    kernel, bias = keras.Variable(np.ones((1, 1, 2, 2), "float32")), keras.Variable(np.ones((2,), "float32"))
    grad = np.array([[[[1.0, 0.0], [0.0, 1.0]]]], "float32")
    MuonSGD(0.5, muon_scale=0.1, momentum=0.0, muon_momentum=0.5, nesterov=True).apply_gradients(
        [(ops.convert_to_tensor(grad), kernel), (ops.convert_to_tensor(np.array([1.0, -2.0], "float32")), bias)])
    np.testing.assert_allclose(ops.convert_to_numpy(bias), [0.5, 2.0])
    # kernel renormalized to norm sqrt(2), then the orthogonalized (already orthogonal) update, x 0.05
    expected = np.ones((2, 2)) * np.sqrt(2) / 2 - 0.05 * ops.convert_to_numpy(
        orthogonalize(ops.convert_to_tensor(1.5 * grad[0, 0]), 3))
    np.testing.assert_allclose(ops.convert_to_numpy(kernel)[0, 0], expected, rtol=1e-5)


def test_the_recipe_builds_muon_with_its_learning_rate_as_a_multiple_of_the_schedules():
    exp = get_experiment("fast94_muon")
    opt = make_optimizer(exp, exp.lr)
    assert isinstance(opt, MuonSGD)
    assert opt.muon_scale * exp.lr == pytest.approx(exp.optimizer_args["muon_lr"])
    assert (opt.muon_momentum, opt.ns_steps, opt.momentum, opt.nesterov) == (0.6, 3, 0.85, True)
    defaults = make_optimizer(exp.with_overrides(optimizer_args={"ns_steps": 5}), 2.0)
    assert defaults.muon_scale * exp.lr == pytest.approx(0.24) and defaults.ns_steps == 5


@pytest.mark.backends
def test_a_small_network_trains_with_it():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(256, 8, 8, 3)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > 0).astype("int32")                   # learnable from the first channel
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(16, 3, use_bias=False),
                              keras.layers.BatchNormalization(), keras.layers.ReLU(),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])
    model.compile(MuonSGD(0.05, muon_scale=1.0, momentum=0.9, nesterov=True), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=64, epochs=15, verbose=0).history
    assert history["loss"][-1] < 0.6 * history["loss"][0] and history["accuracy"][-1] > 0.85


def test_a_muon_run_killed_in_epoch_2_resumes_its_buffers_to_the_uninterrupted_history(synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    recipe = ["lenet5", "--epochs", "3", "--batch-size", "10", "--data-dir", root, "--limit-train", "60",
              "--val-split", "20", "--seed", "3", "--optimizer", "muon",
              "--optimizer-args", "muon_lr=0.05,ns_steps=2"]                  # lenet5's convolutions: Muon steps
    killed = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "kill_at.py"), "train-batch", "5", "KILL",
                             "--", "train", *map(str, recipe), "--output-dir", str(tmp_path / "killed")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)    # 3 batches an epoch: in epoch 2
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-1500:]
    (name,) = os.listdir(tmp_path / "killed")
    run_dir = tmp_path / "killed" / name
    assert run_cli("train", "--resume", run_dir).returncode == 0
    whole = run_cli("train", *recipe, "--output-dir", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-1500:]
    (name,) = os.listdir(tmp_path / "whole")
    histories = [pd.read_csv(d / "history.csv") for d in (run_dir, tmp_path / "whole" / name)]
    assert list(histories[0]["epoch"]) == [0, 1, 2]
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_array_equal(histories[0][column], histories[1][column])
    config = json.load(open(run_dir / "config.json"))["experiment"]
    assert config["optimizer"] == "muon" and config["optimizer_args"] == {"muon_lr": 0.05, "ns_steps": 2}
