"""benchmarks/seed_table.py: runs at a budget, rows rebuilt from run folders, stopped runs say so, rows of
lost run folders stay; run.py list."""
import os
import shutil

import pandas as pd

from benchmarks import seed_table


def killed_copy(run_dir):
    """A copy of a run as if killed after its epochs: no metrics.json (its folder name sorts later)."""
    shutil.copytree(run_dir, run_dir + "-killed")
    os.remove(os.path.join(run_dir + "-killed", "metrics.json"))


def test_budget_runs_and_stopped_runs_become_rows_and_list_shows_the_figure(real_subset, tmp_path):
    out, trained = tmp_path / "runs", tmp_path / "new" / "seed_table.md"    # its folder is made
    assert seed_table.main(["--data-dir", real_subset, "--experiments", "tutorial_cnn,mlp", "--epochs", "1",
                            "--val-split", "100", "--output-dir", str(out), "--table", str(trained)]) == 0
    mlp_run, tutorial_run = (os.path.join(out, d) for d in sorted(os.listdir(out)))
    killed_copy(mlp_run)                  # a finished run beats a later stopped one
    killed_copy(tutorial_run)
    shutil.rmtree(tutorial_run)           # only a stopped run: its row says so
    table = tmp_path / "seed_table.md"    # no previous table here
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


def test_rows_of_lost_run_folders_stay_unless_a_run_measures_further(tmp_path):
    header = "experiment,epochs,test top-1\n"
    previous = tmp_path / "seed_table.csv"
    previous.write_text(header + "a,60 of 60,90.00%\nb,37 of 60 (stopped),stopped: no test figure\n"
                        "c,1 of 20,50.00%\nd,5 of 5,80.00%\ne,12 of 12,94.39%\nf,37 of 60 (stopped),stopped\n"
                        "g,12 of 11,94.10%\n")
    from_folders = [{"experiment": "a", "epochs": "10 of 60 (stopped)", "test top-1": "stopped: no test figure"},
                    {"experiment": "b", "epochs": "60 of 60", "test top-1": "91.00%"},
                    {"experiment": "c", "epochs": "1 of 20", "test top-1": "51.00%"},
                    {"experiment": "e", "epochs": "10 of 10", "test top-1": "94.33%"},       # its recipe was cut
                    {"experiment": "f", "epochs": "40 of 80 (stopped)", "test top-1": "stopped"},
                    {"experiment": "g", "epochs": "11 of 11", "test top-1": "94.27%"}]
    rows = {row["experiment"]: row for row in seed_table.merged_rows(from_folders, str(previous))}
    assert sorted(rows) == ["a", "b", "c", "d", "e", "f", "g"]
    assert rows["a"]["test top-1"] == "90.00%"       # finished beats a later stopped run
    assert rows["b"]["test top-1"] == "91.00%"       # a finished run beats the stopped row
    assert rows["c"]["test top-1"] == "51.00%"       # as far: the run folder's (newer) figure
    assert rows["d"]["epochs"] == "5 of 5"           # no run folder: the row stays
    assert rows["e"]["test top-1"] == "94.33%"       # the whole (shorter) recipe replaces the old whole one
    assert rows["f"]["epochs"] == "37 of 60 (stopped)"   # 62% of its recipe beats 50% of a longer one
    assert rows["g"]["test top-1"] == "94.27%"       # today's whole recipe ties with more epochs: the newer wins
    assert seed_table.merged_rows(from_folders, str(tmp_path / "missing.csv")) == from_folders
