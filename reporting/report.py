"""`run.py report`: one row per run folder, written as report.csv, report.md and report.html."""
import glob
import os
import re

import pandas as pd

from callbacks import median_train_speed, read_history
from data.provenance import short_provenance
from errors import SuiteError
from experiments import recipe_differences
from reporting import figures
from reporting.page import ordered, page
from training.rundir import check_output_folder, read_json, read_metrics, write_csv, write_text

COLUMNS = ["run", "experiment", "changes", "model", "seed", "parameters", "epochs", "best_val_accuracy", "test_accuracy",
           "target_accuracy", "wall_seconds", "test_seconds", "time_to_target_seconds", "images_per_s", "precision",
           "device", "data"]
GROUP = ["experiment", "changes", "epochs", "precision"]     # runs of one recipe: seed_summary's rows
# Recipe fields a run may differ in without being another recipe: its name and texts, and the epochs and
# precision, which GROUP holds on their own (epochs as run, precision as resolved).
NOT_CHANGES = ("name", "source", "claim", "search_space", "epochs", "precision")


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


def recipe_changes(experiment):
    """What a run's recipe (config.json's "experiment") changed from the recipe registered under its name:
    `--hp` values as 'name=value', other fields as 'field=value' or 'field.key=value', space-separated;
    '' for none, or where the name is no longer registered. Fields one side lacks (added to or dropped
    from `Experiment` since the run), fields the recipe leaves at "auto" and NOT_CHANGES are not compared.

    Example: 'activation=gelu_tanh' for `run.py train fast94_muon --hp activation=gelu_tanh`.
    """
    try:
        differences = recipe_differences(experiment, ignore=NOT_CHANGES)
    except SuiteError:
        return ""
    changes = []
    for field, (recipe, value) in differences.items():
        if recipe == "auto":
            continue        # "auto" (the augment engine) is resolved when the run starts: not a change
        if isinstance(value, dict) and isinstance(recipe, dict):
            prefix = "" if field == "model_kwargs" else f"{field}."
            changes += [f"{prefix}{k}={value.get(k, 'unset')}" for k in sorted(set(value) | set(recipe))
                        if value.get(k, "unset") != recipe.get(k, "unset")]
        else:
            changes.append(f"{field}={value}")
    return " ".join(changes)


def run_row(run_dir):
    """One report row for a run folder (test accuracy is empty until the run has finished)."""
    config = read_json(os.path.join(run_dir, "config.json"))
    metrics = read_metrics(run_dir)
    history = read_history(os.path.join(run_dir, "history.csv"))
    env = config.get("environment", {})
    return {
        "run": run_dir, "experiment": config["experiment"]["name"], "changes": recipe_changes(config["experiment"]),
        "model": config["experiment"]["model"],
        "seed": config.get("options", {}).get("seed"),
        "parameters": parameters(run_dir, config), "epochs": len(history),
        "best_val_accuracy": history["val_accuracy"].max() if "val_accuracy" in history else None,
        "test_accuracy": metrics.get("test_top1"), "target_accuracy": config["experiment"].get("target_accuracy"),
        "wall_seconds": float(history["seconds"].sum()) if "seconds" in history else None,
        "test_seconds": metrics.get("test_seconds"), "time_to_target_seconds": metrics.get("time_to_target_seconds"),
        "images_per_s": metrics.get("train_images_per_s") or median_train_speed(history),
        "precision": env.get("precision"), "device": env.get("device"),
        "data": short_provenance(metrics.get("data") or config.get("data")),
    }


def report_table(run_dirs):
    """pandas DataFrame with COLUMNS, one row per run, in the given order (numbers as floats, NaN if unknown)."""
    table = pd.DataFrame([run_row(d) for d in run_dirs], columns=COLUMNS)
    numbers = ["seed", "parameters", "epochs", "best_val_accuracy", "test_accuracy", "target_accuracy", "wall_seconds",
               "test_seconds", "time_to_target_seconds", "images_per_s"]
    table[numbers] = table[numbers].apply(pd.to_numeric)
    return table


def seed_summary(table):
    """How the seeds of one recipe spread: one row per experiment, changes from its recipe, epochs run and
    precision (GROUP) with a finished (tested) run, over those runs.

    Args:
        table: report_table's DataFrame.
    Returns:
        DataFrame, one row per group: GROUP, `runs`, `seeds` ("0, 1, 2"), `mean_test_accuracy`,
        `sd_test_accuracy` (sample standard deviation; NaN for one run), `min_test_accuracy`,
        `max_test_accuracy` (fractions 0-1), `target_accuracy` (the recipe's; NaN without one),
        `runs_at_target` (test top-1 >= target), `mean_at_target` ("yes"/"no"/"" without a target), and
        `fastest_run_seconds` / `slowest_run_seconds` (training + test wall seconds of one run).
    """
    done = table[table["test_accuracy"].notna()].assign(
        run_seconds=lambda t: t["wall_seconds"] + t["test_seconds"].fillna(0),
        at_target=lambda t: t["test_accuracy"] >= t["target_accuracy"])
    summary = done.groupby(GROUP, sort=True, dropna=False).agg(
        runs=("run", "size"), seeds=("seed", lambda s: ", ".join(str(int(v)) if v == v else "?" for v in s.sort_values())),
        mean_test_accuracy=("test_accuracy", "mean"), sd_test_accuracy=("test_accuracy", "std"),
        min_test_accuracy=("test_accuracy", "min"), max_test_accuracy=("test_accuracy", "max"),
        target_accuracy=("target_accuracy", "first"), runs_at_target=("at_target", "sum"),
        fastest_run_seconds=("run_seconds", "min"), slowest_run_seconds=("run_seconds", "max")).reset_index()
    has_target = summary["target_accuracy"].notna()
    summary["runs_at_target"] = summary["runs_at_target"].where(has_target)
    summary.insert(summary.columns.get_loc("runs_at_target") + 1, "mean_at_target", [
        ("yes" if m >= t else "no") if ok else "" for m, t, ok in
        zip(summary["mean_test_accuracy"], summary["target_accuracy"], has_target)])
    return summary


def summary_lines(summary):
    """One line per group of `seed_summary` with two or more runs (a recipe's changes in brackets after
    its name: 'fast94_muon (activation=gelu_tanh), 9 epochs, ...'), e.g. 'fast94, 11 epochs, mixed_bfloat16:
    3 runs (seeds 0, 1, 2): mean test top-1 94.27% (sd 0.17 points, 94.09-94.41%); target 94.00%: mean
    at it, 3 of 3 runs; 1,364-1,418 s a run (training + test)'."""
    lines = []
    for row in summary[summary["runs"] >= 2].itertuples():
        target = (f"; target {100 * row.target_accuracy:.2f}%: mean {'at' if row.mean_at_target == 'yes' else 'below'}"
                  f" it, {row.runs_at_target:.0f} of {row.runs} runs") if row.mean_at_target else ""
        changes = f" ({row.changes})" if isinstance(row.changes, str) and row.changes else ""
        lines.append(f"{row.experiment}{changes}, {row.epochs:.0f} epochs, {row.precision}: {row.runs} runs (seeds {row.seeds}): "
                     f"mean test top-1 {100 * row.mean_test_accuracy:.2f}% (sd {100 * row.sd_test_accuracy:.2f} points, "
                     f"{100 * row.min_test_accuracy:.2f}-{100 * row.max_test_accuracy:.2f}%){target}; "
                     f"{row.fastest_run_seconds:,.0f}-{row.slowest_run_seconds:,.0f} s a run (training + test)")
    return lines


def write_report(run_dirs, out_dir, data_dir=None):
    """Write report.csv, seeds.csv (seed_summary), report.md (both tables), report.html (`reporting.page`)
    and the figures into `out_dir`; returns (the table, best test top-1 first; seed_summary of it).

    Figures: curves.png (accuracy and loss of every run, overlaid), accuracy_vs_parameters.png,
    per_class.png (test accuracy per class), misclassified.png (test images the best
    run got wrong; needs the CIFAR-10 test split from `data_dir` or $CIFAR10_DIR).

    Raises:
        SuiteError: `out_dir` is a file or lies inside a run folder; a run's files are unreadable.
    """
    check_output_folder(out_dir, "--out")
    table = ordered(report_table(run_dirs))
    summary = seed_summary(table)
    os.makedirs(out_dir, exist_ok=True)
    write_csv(os.path.join(out_dir, "report.csv"), table)
    write_csv(os.path.join(out_dir, "seeds.csv"), summary)
    write_text(os.path.join(out_dir, "report.md"), table.to_markdown(index=False, floatfmt=".4g") + "\n\n"
               "## Seeds: finished runs of one experiment at the same epochs and precision\n\n"
               + summary.to_markdown(index=False, floatfmt=".4g") + "\n")
    made = figures.draw_all(run_dirs, table, out_dir, data_dir)
    write_text(os.path.join(out_dir, "report.html"),
               page(table, [os.path.join(out_dir, f) for f in made], out_dir, summary_lines(summary)))
    return table, summary

