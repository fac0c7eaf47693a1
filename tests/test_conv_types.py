"""benchmarks/conv_types.py: seed 002's convolution types trained with one recipe and budget, ranked."""
import json

import pandas as pd
import pytest

from benchmarks import conv_types


def test_models_train_with_one_recipe_and_rows_rank_by_validation_with_both_ratios(real_subset, tmp_path):
    out, table = tmp_path / "runs", tmp_path / "conv_types.md"
    assert conv_types.main(["--data-dir", real_subset, "--models", "pyramid_separable,mixed6b", "--epochs", "1",
                            "--limit-train", "128", "--val-split", "60", "--output-dir", str(out),
                            "--table", str(table)]) == 0
    rows = pd.read_csv(tmp_path / "conv_types.csv")
    assert sorted(rows["model"]) == ["mixed6b", "pyramid_separable"]
    assert rows["best_val_accuracy"].is_monotonic_decreasing
    assert set(rows["recipe, training images"]) == {"mixed6b_fast, 128"} and set(rows["epochs"]) == {1}
    assert dict(zip(rows["model"], rows["parameters"])) == {"mixed6b": 584_394, "pyramid_separable": 79_781}
    for _, row in rows.iterrows():
        val = 100 * row["best_val_accuracy"]
        assert row["val points / 100k parameters"] == pytest.approx(val / (row["parameters"] / 1e5), abs=0.01)
        assert row["val points / training minute"] == pytest.approx(val / (row["wall_seconds"] / 60), abs=0.01)
    assert "| depthwise separable " in table.read_text()
    for run_dir in sorted(out.iterdir()):              # each its own model, without the 6B network's target
        recipe = json.loads((run_dir / "config.json").read_text())["experiment"]
        assert recipe["model"] in ("pyramid_separable", "mixed6b") and recipe["target_accuracy"] is None

    table.unlink()                                     # the table again from the run folders alone
    assert conv_types.main(["--rebuild", "--output-dir", str(out), "--table", str(table)]) == 0
    assert pd.read_csv(tmp_path / "conv_types.csv").equals(rows)


def test_a_model_outside_the_six_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        conv_types.main(["--models", "pyramid,lenet5", "--rebuild"])
    assert exc.value.code == 2
    assert "--models: lenet5 is not one of pyramid," in capsys.readouterr().err
