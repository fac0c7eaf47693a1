"""The seed table: seed experiments trained at one budget, measured beside what their sources claim.

    python benchmarks/seed_table.py --data-dir /tmp/cifar10 [--experiments lenet5,ygnet,...]
        [--epochs N] [--val-split N] [--output-dir runs/seed-table] [--table benchmarks/seed_table.md]
    python benchmarks/seed_table.py --rebuild [--output-dir ...]     # the table from the run folders only

Each experiment is a normal run (training.train.train, so `run.py report` reads its folder
too), with its recipe unchanged except that `--epochs N` caps the epochs (the row says
"N of M"). Default: every registered experiment. The table is rebuilt from every run
folder under --output-dir, so a killed run or a
budget shows as such, and nothing needs retraining: each experiment's row is its finished
run with the most epochs (so a full-recipe run copied into the folder wins over a budget
run); a run without metrics.json, where no finished one exists, shows its completed
epochs and "stopped" in place of a test figure. A row of the previous table stays where
no run folder under --output-dir measures that experiment as far: finished, then the larger share of
its recipe's epochs (run folders outside the work tree are lost when a session gets another machine;
the measured row is not). Columns: experiment, model,
trainable parameters, epochs run of the recipe's, test top-1, best validation accuracy,
training time (s), training images/s, precision, machine, and the source's claim.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


def train_all(names, data_dir, epochs, output_dir, val_split=None):
    """Train each named experiment in turn (capped at `epochs` when given) under output_dir; val_split
    None keeps each recipe's validation split."""
    from experiments import get_experiment
    from training.train import RunOptions, train
    for name in names:
        exp = get_experiment(name)
        if epochs:
            exp = exp.with_overrides(epochs=min(epochs, exp.epochs))
        print(f"== {name}: {exp.epochs} of {get_experiment(name).epochs} epochs", flush=True)
        train(exp, RunOptions(data_dir=data_dir, output_dir=output_dir, val_split=val_split))


SEED_TABLE = os.path.join(HERE, "seed_table.csv")     # what `run.py list` reads


def measured_figures(path=SEED_TABLE):
    """{experiment: '; measured: 73.34% test top-1 (30 of 30 epochs)'} for the finished runs of the seed
    table; {} without one."""
    import pandas as pd    # imported here: run.py list imports this module
    try:
        table = pd.read_csv(path, dtype=str).fillna("")
    except (OSError, ValueError):
        return {}
    return {row["experiment"]: f"; measured: {row['test top-1']} test top-1 ({row['epochs']} epochs)"
            for _, row in table.iterrows()
            if {"experiment", "test top-1", "epochs"} <= set(row.index) and row["test top-1"].endswith("%")}


def percent(value):
    return "" if value is None or value != value else f"{100 * value:.2f}%"


def rank(finished, done, planned):
    """(finished, share of the recipe's epochs run, at most 1) of a run or row, for picking one per experiment:
    finished beats stopped, then the larger share, so a whole run of a recipe whose epochs were cut
    (10 of 10) ties with a run of the longer old recipe (12 of 10, or "12 of 12" in an old table) and
    the newer wins, while a part-run (37 of 60) beats a smaller share of a longer recipe (40 of 80)."""
    return finished, min(done / planned, 1.0)


def table_rows(output_dir):
    """One row per experiment: of its run folders under output_dir, the finished one with the largest share
    of today's recipe (rank; the latest of equals: run folders sort by time), else the latest stopped one."""
    from experiments import get_experiment, list_experiments
    from reporting.report import run_row, runs_below
    from training.rundir import read_json
    chosen = {}
    for run_dir in runs_below(output_dir):
        row = run_row(run_dir)
        name = row["experiment"]
        recipe = get_experiment(name) if name in list_experiments() else None
        planned = recipe.epochs if recipe else read_json(os.path.join(run_dir, "config.json"))["experiment"]["epochs"]
        key = rank(row["test_accuracy"] is not None, row["epochs"], planned)
        if name not in chosen or key >= chosen[name][0]:
            chosen[name] = (key, recipe, planned, row)
    rows = []
    for name, (_, recipe, recipe_epochs, row) in sorted(chosen.items()):
        finished = row["test_accuracy"] is not None
        rows.append({
            "experiment": name, "model": row["model"], "parameters": f"{row['parameters']:,}",
            "epochs": f"{row['epochs']} of {recipe_epochs}" + ("" if finished else " (stopped)"),
            "test top-1": percent(row["test_accuracy"]) if finished else "stopped: no test figure",
            "best val accuracy": percent(row["best_val_accuracy"]),
            "training s": f"{row['wall_seconds']:.0f}" if row["wall_seconds"] is not None else "",
            "img/s": f"{row['images_per_s']:.0f}" if row["images_per_s"] else "",
            "precision": row["precision"], "machine": row["device"], "data": row["data"],
            "claim (source)": recipe.claim if recipe else "",
        })
    return rows


def row_rank(row):
    """rank of a table row ("37 of 60" and a test figure -> (True, 0.62))."""
    done, _, planned = str(row["epochs"]).split()[:3]
    return rank(str(row["test top-1"]).endswith("%"), int(done), int(planned))


def merged_rows(rows, previous_csv):
    """rows (dicts from table_rows) plus each row of the table at previous_csv whose experiment has no row
    in rows ranking as high (row_rank; ties go to rows, the newer measurement), sorted by experiment.
    A missing or unreadable previous_csv adds nothing."""
    import pandas as pd
    try:
        previous = pd.read_csv(previous_csv, dtype=str).fillna("").to_dict("records")
    except (OSError, ValueError):
        previous = []
    chosen = {row["experiment"]: row for row in rows}
    for row in previous:
        mine = chosen.get(row.get("experiment"))
        if mine is None or row_rank(row) > row_rank(mine):
            chosen[row["experiment"]] = row
    return [chosen[name] for name in sorted(chosen)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("CIFAR10_DIR"))
    p.add_argument("--experiments", help="comma-separated names (default: every registered experiment)")
    p.add_argument("--epochs", type=int, help="cap every run at this many epochs (default: the recipe's)")
    p.add_argument("--val-split", type=int, help="validation images (default: each recipe's)")
    p.add_argument("--output-dir", default=os.path.join("runs", "seed-table"))
    p.add_argument("--table", default=os.path.join(HERE, "seed_table.md"), help="the .md table (and a .csv beside it)")
    p.add_argument("--rebuild", action="store_true", help="only rebuild the table from the run folders")
    a = p.parse_args(argv)
    import run
    run.import_backend_quietly()
    import pandas as pd

    from experiments import list_experiments
    from training.rundir import write_csv, write_text
    if not a.rebuild:
        names = a.experiments.split(",") if a.experiments else list_experiments()
        train_all(names, a.data_dir, a.epochs, a.output_dir, a.val_split)
    csv_path = os.path.splitext(a.table)[0] + ".csv"
    table = pd.DataFrame(merged_rows(table_rows(a.output_dir), csv_path))
    write_csv(csv_path, table)     # `run.py list` shows each experiment's figure
    write_text(a.table, f"Run folders: `{a.output_dir}` (a row no run there measures as far stays from the "
               f"previous table); rebuilt by `python benchmarks/seed_table.py --rebuild --output-dir "
               f"{a.output_dir}`.\n\n" + table.to_markdown(index=False) + "\n")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
