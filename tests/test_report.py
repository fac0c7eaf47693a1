"""run.py report: one row per run with its accuracy, the figures, a self-contained HTML page."""
import json
import os

import pandas as pd
import pytest

import run
from experiments import get_experiment
from training.train import RunOptions, train


def test_report_has_one_row_per_run_with_its_accuracy(synthetic_dir, tmp_path, capsys):
    root, _ = synthetic_dir
    out = tmp_path / "runs"
    opts = RunOptions(data_dir=str(root), val_split=10, output_dir=str(out), verbose=0)
    finished = [train(get_experiment(name).with_overrides(epochs=2, batch_size=10), opts)[0]
                for name in ("tutorial_cnn", "lenet5")]
    unfinished = out / "mlp-killed"                                      # a run killed before its first epoch
    unfinished.mkdir()
    (unfinished / "config.json").write_text(json.dumps(
        {"experiment": get_experiment("mlp").to_dict(), "options": {}, "environment": {}}))

    status = run.main(["report", str(out / "*"), "--out", str(tmp_path / "report"), "--data-dir", str(root)])
    assert status == 0
    table = pd.read_csv(tmp_path / "report" / "report.csv")
    assert sorted(table["run"]) == sorted(finished + [str(unfinished)])
    for run_dir in finished:
        row = table[table["run"] == run_dir].iloc[0]
        metrics = json.load(open(os.path.join(run_dir, "metrics.json")))
        assert row["test_accuracy"] == metrics["test_top1"] and row["epochs"] == 2
        assert row["parameters"] == json.load(open(os.path.join(run_dir, "config.json")))["parameters"]
    assert pd.isna(table[table["run"] == str(unfinished)].iloc[0]["test_accuracy"])
    md = (tmp_path / "report" / "report.md").read_text().split("\n## Seeds")[0].strip().splitlines()
    assert len(md) == 2 + 3                                               # header, rule, three runs
    seeds = pd.read_csv(tmp_path / "report" / "seeds.csv")
    assert sorted(seeds["experiment"]) == ["lenet5", "tutorial_cnn"] and list(seeds["runs"]) == [1, 1]
    figures = {"curves.png", "accuracy_vs_parameters.png", "per_class.png", "misclassified.png"}
    assert figures <= set(os.listdir(tmp_path / "report"))
    html = (tmp_path / "report" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and "<table" in html and "src='http" not in html
    assert "3 runs" in capsys.readouterr().out


def test_links_back_to_a_parent_neither_loop_nor_repeat_a_run(synthetic_dir, tmp_path):
    from reporting import find_runs
    root, _ = synthetic_dir
    out = tmp_path / "runs"
    run_dir, _ = train(get_experiment("lenet5").with_overrides(epochs=1, batch_size=10),
                       RunOptions(data_dir=str(root), val_split=10, output_dir=str(out), verbose=0))
    os.symlink(".", out / "a")
    os.symlink(".", out / "b")
    assert find_runs([str(out)]) == [run_dir]
    assert find_runs([str(out), str(out / "a" / os.path.basename(run_dir))]) == [run_dir]


def test_report_never_writes_into_a_run_folder(synthetic_dir, tmp_path, capsys):
    root, _ = synthetic_dir
    run_dir, _ = train(get_experiment("lenet5").with_overrides(epochs=1, batch_size=10),
                       RunOptions(data_dir=str(root), val_split=10, output_dir=str(tmp_path / "runs"), verbose=0))
    before = sorted(os.listdir(run_dir))
    assert run.main(["report", run_dir, "--out", os.path.join(run_dir, "report")]) == 2
    assert "inside the run folder" in capsys.readouterr().err
    assert sorted(os.listdir(run_dir)) == before


def test_a_misclassified_index_beyond_the_test_split_skips_the_grid(synthetic_dir, tmp_path, capsys):
    root, _ = synthetic_dir
    run_dir, _ = train(get_experiment("lenet5").with_overrides(epochs=1, batch_size=10),
                       RunOptions(data_dir=str(root), val_split=10, output_dir=str(tmp_path / "runs"), verbose=0))
    path = os.path.join(run_dir, "metrics.json")
    metrics = json.load(open(path))
    json.dump({**metrics, "misclassified": [[12345, 1, 2]]}, open(path, "w"))
    assert run.main(["report", run_dir, "--out", str(tmp_path / "rep"), "--data-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "no misclassified-image grid" in out and "names test image 12345; the test split has 20" in out
    assert not os.path.exists(tmp_path / "rep" / "misclassified.png")
    assert os.path.exists(tmp_path / "rep" / "report.html")


def test_seed_summary_gives_each_recipes_mean_spread_and_time_to_target():
    from reporting.report import COLUMNS, seed_summary, summary_lines
    runs = [  # experiment, seed, epochs, precision, test top-1, training s, test s
        ("fast94", 1, 11, "mixed_bfloat16", 0.9441, 1323, 42), ("fast94", 0, 11, "mixed_bfloat16", 0.9432, 1376, 42),
        ("fast94", 2, 11, "mixed_bfloat16", 0.9409, 1330, 42), ("fast94", 0, 11, "float32", 0.9439, 1970, 70),
        ("fast94", 3, 11, "mixed_bfloat16", None, 500, None),            # killed: not in the summary
        ("fast94", 0, 10, "mixed_bfloat16", 0.9388, 1237, 42), ("lenet5", 0, 30, "float32", 0.7334, 629, 1),
        ("lenet5", 1, 30, "float32", 0.7310, 640, 1)]
    table = pd.DataFrame([{"run": f"r{i}", "experiment": e, "seed": s, "epochs": n, "precision": p, "test_accuracy": a,
                           "target_accuracy": 0.94 if e == "fast94" else None, "wall_seconds": w, "test_seconds": t}
                          for i, (e, s, n, p, a, w, t) in enumerate(runs)], columns=COLUMNS)
    summary = seed_summary(table).set_index(["experiment", "epochs", "precision"])
    bf16 = summary.loc[("fast94", 11, "mixed_bfloat16")]
    assert bf16["runs"] == 3 and bf16["seeds"] == "0, 1, 2"
    assert bf16["mean_test_accuracy"] == pytest.approx(0.942733, abs=1e-6)
    assert bf16["sd_test_accuracy"] == pytest.approx(pd.Series([0.9432, 0.9441, 0.9409]).std())
    assert (bf16["min_test_accuracy"], bf16["max_test_accuracy"]) == (0.9409, 0.9441)
    assert bf16["runs_at_target"] == 3 and bf16["mean_at_target"] == "yes"
    assert (bf16["fastest_run_seconds"], bf16["slowest_run_seconds"]) == (1365, 1418)
    assert summary.loc[("fast94", 10, "mixed_bfloat16"), "mean_at_target"] == "no"
    lenet = summary.loc[("lenet5", 30, "float32")]
    assert lenet["mean_at_target"] == "" and pd.isna(lenet["runs_at_target"])
    assert len(summary) == 4
    lines = summary_lines(seed_summary(table))      # groups of two or more runs only
    assert lines == [
        "fast94, 11 epochs, mixed_bfloat16: 3 runs (seeds 0, 1, 2): mean test top-1 94.27% (sd 0.17 points, "
        "94.09-94.41%); target 94.00%: mean at it, 3 of 3 runs; 1,365-1,418 s a run (training + test)",
        "lenet5, 30 epochs, float32: 2 runs (seeds 0, 1): mean test top-1 73.22% (sd 0.17 points, 73.10-73.34%); "
        "630-641 s a run (training + test)"]


def test_a_runs_changes_from_its_recipe_keep_its_seeds_apart():
    from reporting.report import COLUMNS, recipe_changes, seed_summary, summary_lines
    recipe = get_experiment("fast94_muon")
    as_saved = lambda exp: json.loads(json.dumps(exp.to_dict()))       # noqa: E731  (config.json's round trip)
    assert recipe_changes(as_saved(recipe.with_overrides(epochs=8, precision="float32"))) == ""   # grouped apart anyway
    tanh = as_saved(recipe.with_hp({"activation": "gelu_tanh"}).with_overrides(lr=1.0, augment_engine="layers"))
    assert recipe_changes(tanh) == "activation=gelu_tanh lr=1.0"
    assert recipe_changes({**tanh, "schedule_args": {"warmup": 0, "start": 1}}).endswith("lr=1.0 schedule_args.end=unset")
    assert recipe_changes({**tanh, "name": "no_such_recipe"}) == ""
    runs = [("", 0, 0.9401), ("", 1, 0.9409), ("activation=gelu_tanh", 0, 0.9428), ("activation=gelu_tanh", 1, 0.9408)]
    table = pd.DataFrame([{"run": f"r{i}", "experiment": "fast94_muon", "changes": c, "seed": s, "epochs": 9,
                           "precision": "mixed_bfloat16", "test_accuracy": a, "target_accuracy": 0.94,
                           "wall_seconds": 1000, "test_seconds": 40} for i, (c, s, a) in enumerate(runs)], columns=COLUMNS)
    lines = summary_lines(seed_summary(table))
    assert [line.split(": mean")[0] for line in lines] == [
        "fast94_muon, 9 epochs, mixed_bfloat16: 2 runs (seeds 0, 1)",
        "fast94_muon (activation=gelu_tanh), 9 epochs, mixed_bfloat16: 2 runs (seeds 0, 1)"]
    assert "94.18%" in lines[1] and "94.05%" in lines[0]
