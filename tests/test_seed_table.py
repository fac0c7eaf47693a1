"""benchmarks/seed_table.py: runs at a budget, rows rebuilt from run folders, stopped runs say so; run.py list."""
import os
import shutil

import pandas as pd

import run
from benchmarks import seed_table


def test_budget_run_and_a_stopped_run_become_rows_and_list_shows_the_figure(real_subset, tmp_path, capsys):
    root = real_subset
    out, table = tmp_path / "runs", tmp_path / "seed_table.md"
    assert seed_table.main(["--data-dir", str(root), "--experiments", "tutorial_cnn,mlp", "--epochs", "1",
                            "--val-split", "100", "--output-dir", str(out), "--table", str(table)]) == 0
    (mlp_run,) = [os.path.join(out, d) for d in os.listdir(out) if d.startswith("mlp")]
    stopped = mlp_run + "-killed"                      # a run killed after its first epoch: no metrics.json
    shutil.copytree(mlp_run, stopped)
    os.remove(os.path.join(stopped, "metrics.json"))
    assert seed_table.main(["--rebuild", "--output-dir", str(out), "--table", str(table)]) == 0

    rows = pd.read_csv(tmp_path / "seed_table.csv").set_index("experiment")
    assert list(rows.index) == ["mlp", "tutorial_cnn"]
    assert rows.loc["tutorial_cnn", "epochs"] == "1 of 2"            # capped at the budget, of the recipe's 2
    assert rows.loc["tutorial_cnn", "test top-1"].endswith("%")
    assert rows.loc["tutorial_cnn", "parameters"] == "62,006"
    assert rows.loc["mlp", "epochs"] == "1 of 20 (stopped)"          # the latest mlp run is the killed copy
    assert rows.loc["mlp", "test top-1"] == "stopped: no test figure"
    assert "claim (source)" in rows.columns and "| tutorial_cnn |" in table.read_text()

    capsys.readouterr()
    assert run.measured_figures(str(tmp_path / "seed_table.csv"))["tutorial_cnn"] == (
        f"; measured: {rows.loc['tutorial_cnn', 'test top-1']} test top-1 (1 of 2 epochs)")
    assert run.measured_figures(str(tmp_path / "missing.csv")) == {}
