"""Shipped models: sha256 checked before loading, cards written from the run, accuracy as carded."""
import os

import pytest

import pretrained
import pretrained.ship as ship
import run
from conftest import PREPARE, prepare_real
from data.provenance import array_sha256
from experiments import get_experiment
from test_cli import one_error_line
from training.train import RunOptions, train


@pytest.fixture
def shelf(tmp_path, monkeypatch):
    """An empty pretrained folder in tmp_path, in place of the real one."""
    folder = tmp_path / "pretrained"
    folder.mkdir()
    for module in (pretrained, ship):
        monkeypatch.setattr(module, "HERE", str(folder))
        monkeypatch.setattr(module, "MANIFEST", str(folder / "manifest.json"))
    return folder


@pytest.fixture
def shipped_run(synthetic_dir, tmp_path, shelf):
    root, _ = synthetic_dir
    exp = get_experiment("lenet5").with_overrides(epochs=1, batch_size=10)
    run_dir, metrics = train(exp, RunOptions(data_dir=str(root), val_split=10, output_dir=str(tmp_path / "runs"),
                                             verbose=0))
    entry = ship.ship("tiny", run_dir, note="Trained for one epoch only.")
    return shelf, run_dir, metrics, entry


def test_ship_copies_the_tested_model_and_writes_its_card(shipped_run):
    shelf, run_dir, metrics, entry = shipped_run
    assert entry["sha256"] == pretrained.sha256(os.path.join(run_dir, "best.h5"))
    assert pretrained.shipped()["tiny"]["test_top1"] == metrics["test_top1"]
    card = (shelf / "tiny.md").read_text()
    for fact in (entry["sha256"], f"{100 * metrics['test_top1']:.2f}%", "Trained for one epoch only.",
                 "an unrecognised copy of CIFAR-10 (50 training / 20 test images)", metrics["data"]["x_test_sha256"],
                 "| epochs | 1 of batch 10", "| airplane |"):
        assert fact in card
    assert "Every seed" not in card and "JPEG" not in card
    recipe = get_experiment("lenet5")
    assert (f"this run differs from today's recipe: batch_size 10 (recipe: {recipe.batch_size}), "
            f"epochs 1 (recipe: {recipe.epochs})") in card
    assert pretrained.resolve("tiny") == str(shelf / "tiny.h5")


def test_a_run_of_todays_recipe_is_described_by_todays_source():
    recipe = get_experiment("fast94")
    run_recipe = {**recipe.to_dict(), "augment_engine": "layers", "source": "the recipe's text when the run began"}
    assert ship.recipe_differences(run_recipe) == {}
    assert ship.experiment_row(run_recipe) == f"`fast94`: {recipe.source}"
    assert ship.recipe_differences({**run_recipe, "epochs": 10}) == {"epochs": (recipe.epochs, 10)}
    assert ship.experiment_row({**run_recipe, "name": "gone"}).startswith("`gone` (no longer a registered recipe)")


def test_a_card_quotes_every_seed_with_their_mean_and_spread(shipped_run, synthetic_dir, tmp_path):
    shelf, run_dir, metrics, _ = shipped_run
    root, _ = synthetic_dir
    exp = get_experiment("lenet5").with_overrides(epochs=1, batch_size=10)
    other, other_metrics = train(exp, RunOptions(data_dir=str(root), val_split=10, seed=1,
                                                 output_dir=str(tmp_path / "runs"), verbose=0))
    entry = ship.ship("tiny", run_dir, seeds=[other])
    card = (shelf / "tiny.md").read_text()
    both = [metrics["test_top1"], other_metrics["test_top1"]]
    assert entry["seeds_test_top1"] == both
    assert f"Mean test top-1 over 2 seeds: **{50 * sum(both):.2f}%**" in card
    assert f"| 1 | {100 * other_metrics['test_top1']:.2f}% | 1 |" in card


def test_remeasure_writes_the_new_figure_into_manifest_and_card(shipped_run, synthetic_dir, tmp_path):
    shelf, _, metrics, _ = shipped_run
    other = tmp_path / "other"
    from conftest import write_batches
    write_batches(other / "cifar-10-batches-py", seed=5)
    from data import load_cifar10
    from training.evaluate import evaluate_model, load_saved_model
    _, test = load_cifar10(str(other))
    expected = evaluate_model(load_saved_model(str(shelf / "tiny.h5")), *test)["top1"]
    entry = ship.remeasure("tiny", str(other))
    assert entry["test_top1"] == expected == pretrained.shipped()["tiny"]["test_top1"]
    card = (shelf / "tiny.md").read_text()
    assert f"**Test top-1 accuracy: {100 * expected:.2f}%** on the 20 test images of unknown CIFAR-10" in card
    assert f"the training run reported {100 * metrics['test_top1']:.2f}% on the data it used" in card
    assert entry["sha256"] in card and card.count("## Data") == 1 and "## Training curve" in card
    assert card.count("| airplane |") == 1 and "Training run: an unrecognised copy" in card


def test_load_evaluates_a_shipped_model_and_quotes_its_card(shipped_run, synthetic_dir, capsys):
    root, _ = synthetic_dir
    assert run.main(["load", "tiny", "--data-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "model card pretrained/tiny.md" in out and "test top-1 accuracy" in out


def test_a_changed_file_is_refused_before_loading(shipped_run, capsys):
    shelf = shipped_run[0]
    with open(shelf / "tiny.h5", "r+b") as f:
        f.seek(5000)
        f.write(b"\0\1\2\3")
    assert "does not match the manifest" in one_error_line(capsys, ["load", "tiny"])
    os.remove(shelf / "tiny.h5")
    assert "shipped model file is missing" in one_error_line(capsys, ["load", "tiny"])


def test_nothing_shipped_says_so(shelf, capsys):
    assert "no pretrained model 'fast94'; shipped: none" in one_error_line(capsys, ["load"])


@pytest.fixture(scope="session")
def real_test_split(tmp_path_factory):
    """The full real CIFAR-10 test split (and 10 training images a class) from ../shared, else skip."""
    return prepare_real(tmp_path_factory, per_class_train=10, per_class_test=1000)


@pytest.mark.parametrize("name", sorted(pretrained.shipped()))
def test_shipped_model_scores_its_carded_accuracy_on_the_real_test_split(name, real_test_split):
    from data import load_cifar10
    from training.evaluate import evaluate_model, load_for_inference
    _, (x, y) = load_cifar10(real_test_split)
    assert len(y) == 10000
    sums = dict(line.split()[::-1] for line in open(os.path.join(os.path.dirname(PREPARE), "cifar10", "SHA256SUMS")))
    assert array_sha256(x) == sums["x_test"] and array_sha256(y) == sums["y_test"]      # the lossless test split
    result = evaluate_model(load_for_inference(pretrained.resolve(name))[0], x, y)     # as `run.py load`
    assert result["top1"] == pytest.approx(pretrained.shipped()[name]["test_top1"], abs=0.003)


def test_a_fresh_process_loads_a_model_with_the_suites_own_layers(tmp_path, synthetic_dir):
    from conftest import run_cli
    from models import create_model, with_test_time_augmentation
    root, _ = synthetic_dir
    path = tmp_path / "tta.h5"
    with_test_time_augmentation(create_model("fast94"), 2).save(path)
    done = run_cli("load", path, "--data-dir", root)
    assert done.returncode == 0, done.stderr
    assert "test top-1 accuracy" in done.stdout
