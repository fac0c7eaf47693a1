"""`run.py report`: one row per run folder, written as report.csv, report.md and report.html."""
import glob
import os
import re

import pandas as pd

from callbacks import median_train_speed, read_history
from data.provenance import short_provenance
from errors import SuiteError
from reporting import figures
from reporting.page import ordered, page
from training.rundir import check_output_folder, read_json, read_metrics, write_csv, write_text

COLUMNS = ["run", "experiment", "model", "parameters", "epochs", "best_val_accuracy", "test_accuracy",
           "wall_seconds", "images_per_s", "precision", "device", "data"]


def find_runs(patterns=(), root="runs"):
    """Run folders (those holding config.json) named by paths or shell globs; every run under `root` by default.

    A named folder that is not a run itself stands for every run below it.

    Raises:
        SuiteError: a pattern matches no run folder.
    """
    found = []
    for pattern in patterns or [root]:
        matches = sorted(glob.glob(pattern))
        runs = [m for m in matches if os.path.isfile(os.path.join(m, "config.json"))]
        for m in matches:
            if os.path.isdir(m) and m not in runs:
                runs += runs_below(m)
        if not runs:
            raise SuiteError(f"{pattern}: no run folders (folders with config.json) found")
        seen = {os.path.realpath(r) for r in found}
        for r in runs:
            if os.path.realpath(r) not in seen:          # the same run reached through a link counts once
                seen.add(os.path.realpath(r))
                found.append(r)
    return found


def runs_below(folder):
    """Run folders below `folder`, sorted; symbolic links to folders are not followed (a link to a
    parent would loop for ever)."""
    return sorted(root for root, _, files in os.walk(folder, followlinks=False) if "config.json" in files)


def parameters(run_dir, config):
    """Trainable parameters: config.json's count, else the 'Trainable params' line of summary.txt."""
    if "parameters" in config:
        return config["parameters"]
    try:
        text = open(os.path.join(run_dir, "summary.txt")).read()
    except OSError:
        return None
    match = re.search(r"Trainable params: ([\d,]+)", text)
    return int(match.group(1).replace(",", "")) if match else None


def run_row(run_dir):
    """One report row for a run folder (test accuracy is empty until the run has finished)."""
    config = read_json(os.path.join(run_dir, "config.json"))
    metrics = read_metrics(run_dir)
    history = read_history(os.path.join(run_dir, "history.csv"))
    env = config.get("environment", {})
    return {
        "run": run_dir, "experiment": config["experiment"]["name"], "model": config["experiment"]["model"],
        "parameters": parameters(run_dir, config), "epochs": len(history),
        "best_val_accuracy": history["val_accuracy"].max() if "val_accuracy" in history else None,
        "test_accuracy": metrics.get("test_top1"),
        "wall_seconds": float(history["seconds"].sum()) if "seconds" in history else None,
        "images_per_s": metrics.get("train_images_per_s") or median_train_speed(history),
        "precision": env.get("precision"), "device": env.get("device"),
        "data": short_provenance(metrics.get("data") or config.get("data")),
    }


def report_table(run_dirs):
    """pandas DataFrame with COLUMNS, one row per run, in the given order (numbers as floats, NaN if unknown)."""
    table = pd.DataFrame([run_row(d) for d in run_dirs], columns=COLUMNS)
    numbers = ["parameters", "epochs", "best_val_accuracy", "test_accuracy", "wall_seconds", "images_per_s"]
    table[numbers] = table[numbers].apply(pd.to_numeric)
    return table


def write_report(run_dirs, out_dir, data_dir=None):
    """Write report.csv, report.md, report.html (`reporting.page`) and the figures into `out_dir`;
    returns the table, best test top-1 first.

    Figures: curves.png (accuracy and loss of every run, overlaid), accuracy_vs_parameters.png,
    per_class.png (test accuracy per class), misclassified.png (test images the best
    run got wrong; needs the CIFAR-10 test split from `data_dir` or $CIFAR10_DIR).

    Raises:
        SuiteError: `out_dir` is a file or lies inside a run folder; a run's files are unreadable.
    """
    check_output_folder(out_dir, "--out")
    table = ordered(report_table(run_dirs))
    os.makedirs(out_dir, exist_ok=True)
    write_csv(os.path.join(out_dir, "report.csv"), table)
    write_text(os.path.join(out_dir, "report.md"), table.to_markdown(index=False, floatfmt=".4g") + "\n")
    made = figures.draw_all(run_dirs, table, out_dir, data_dir)
    write_text(os.path.join(out_dir, "report.html"), page(table, [os.path.join(out_dir, f) for f in made], out_dir))
    return table

