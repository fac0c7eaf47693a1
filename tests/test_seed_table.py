"""benchmarks/seed_table.py: runs at a budget, rows rebuilt from run folders, stopped runs say so; run.py list."""
import os
import shutil

import pandas as pd

from benchmarks import seed_table


def killed_copy(run_dir):
    """A copy of a run as if killed after its epochs: no metrics.json (its folder name sorts later)."""
    shutil.copytree(run_dir, run_dir + "-killed")
    os.remove(os.path.join(run_dir + "-killed", "metrics.json"))


def test_budget_runs_and_stopped_runs_become_rows_and_list_shows_the_figure(real_subset, tmp_path):
    out, table = tmp_path / "runs", tmp_path / "seed_table.md"
    assert seed_table.main(["--data-dir", real_subset, "--experiments", "tutorial_cnn,mlp", "--epochs", "1",
                            "--val-split", "100", "--output-dir", str(out), "--table", str(table)]) == 0
    mlp_run, tutorial_run = (os.path.join(out, d) for d in sorted(os.listdir(out)))
    killed_copy(mlp_run)                  # a finished run beats a later stopped one
    killed_copy(tutorial_run)
    shutil.rmtree(tutorial_run)           # only a stopped run: its row says so
    assert seed_table.main(["--rebuild", "--output-dir", str(out), "--table", str(table)]) == 0

    rows = pd.read_csv(tmp_path / "seed_table.csv").set_index("experiment")
    assert list(rows.index) == ["mlp", "tutorial_cnn"]
    assert rows.loc["mlp", "epochs"] == "1 of 20"                    # capped at the budget, of the recipe's 20
    assert rows.loc["mlp", "test top-1"].endswith("%") and rows.loc["mlp", "parameters"] == "1,562,060"
    assert rows.loc["tutorial_cnn", "epochs"] == "1 of 2 (stopped)"
    assert rows.loc["tutorial_cnn", "test top-1"] == "stopped: no test figure"
    assert "claim (source)" in rows.columns and "| tutorial_cnn |" in table.read_text()

    assert seed_table.measured_figures(str(tmp_path / "seed_table.csv"))["mlp"] == (
        f"; measured: {rows.loc['mlp', 'test top-1']} test top-1 (1 of 20 epochs)")
    assert "tutorial_cnn" not in seed_table.measured_figures(str(tmp_path / "seed_table.csv"))    # stopped: no figure
    assert seed_table.measured_figures(str(tmp_path / "missing.csv")) == {}
