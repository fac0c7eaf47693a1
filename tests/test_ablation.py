"""benchmarks/ablation.py: its rows switch fast94's techniques on one by one, and it writes its table."""
import re

import keras
import numpy as np
import pytest

from benchmarks import ablation
from experiments import get_experiment
from models import create_model
from models.airbench import PartialDirac, PatchWhitening


def test_first_row_switches_every_technique_off():
    first = ablation.step_overrides(0)
    assert first["model_kwargs"] == {"whitening": False, "identity_init": False, "bias_scale": 1.0}
    assert first["lookahead"] == 0 and first["tta_level"] == 0
    assert first["augment"]["horizontal_flip"] is True and "alternating_flip" not in first["augment"]


def test_last_trained_row_is_the_fast94_recipe_without_test_time_views():
    recipe = get_experiment("fast94")
    last = get_experiment("fast94").with_overrides(**ablation.step_overrides(len(ablation.STEPS) - 1))
    assert last.model_kwargs == {"whitening": True, "identity_init": True, "bias_scale": 8.0}
    assert last.augment == recipe.augment and last.lookahead == recipe.lookahead
    assert last.tta_level == 0 and recipe.tta_level == 2


def test_fast94_without_whitening_or_identity_init():
    model = create_model("fast94", whitening=False, identity_init=False)
    assert not any(isinstance(layer, PatchWhitening) for layer in model.layers)
    assert model.get_layer("first_conv").trainable
    w = keras.ops.convert_to_numpy(PartialDirac(seed=1, identity=False)((3, 3, 4, 6)))
    assert not np.any(w[1, 1, np.arange(4), np.arange(4)] == 1)          # no identity filters
    assert np.abs(w).max() <= 1 / np.sqrt(3 * 3 * 4)


def test_ablation_writes_a_row_per_technique(synthetic_dir, tmp_path, monkeypatch):
    root, _ = synthetic_dir
    monkeypatch.setattr(ablation, "STEPS", ablation.STEPS[:2])          # two trainings keep the test short
    md = tmp_path / "ablation.md"
    ablation.main(["--data-dir", str(root), "--epochs", "1", "--batch-size", "10", "--output-dir",
                   str(tmp_path / "runs"), "--md", str(md)])
    text = md.read_text()
    rows = re.findall(r"^\| (\d) \| (.+?) \| (\d+\.\d\d)% \|", text, flags=re.M)
    assert [r[1] for r in rows] == [ablation.STEPS[0][0], ablation.STEPS[1][0], ablation.TTA_STEP]
    assert "partial" not in text and "--batch-size 10" in text and f"backend {keras.backend.backend()}" in text
    assert "Data: unknown " in text
    assert all(0 <= float(r[2]) <= 100 for r in rows)


def test_ablation_epochs_default_to_the_fast94_recipe(synthetic_dir, tmp_path, monkeypatch):
    root, _ = synthetic_dir
    seen = []

    def stop(args, report):
        seen.append(args.epochs)
        raise ablation.SuiteError("stopped before training")

    monkeypatch.setattr(ablation, "run_rows", stop)
    with pytest.raises(SystemExit, match="error: stopped before training"):
        ablation.main(["--data-dir", str(root), "--output-dir", str(tmp_path / "runs"), "--md", str(tmp_path / "a.md")])
    assert seen == [get_experiment("fast94").epochs]
    assert not (tmp_path / "a.md").exists()
