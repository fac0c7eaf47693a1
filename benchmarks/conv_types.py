"""Seed 002's question: which 6B convolution type gives the best accuracy per parameter and per second?

    python benchmarks/conv_types.py --data-dir /tmp/cifar10 [--models pyramid,...] [--recipe mixed6b_fast]
        [--epochs N] [--limit-train N] [--val-split N] [--precise-bn IMAGES] [--output-dir runs/conv-types]
        [--table benchmarks/conv_types.md]
    python benchmarks/conv_types.py --rebuild [--output-dir ...]     # the table from the run folders only

The pyramid (seed 002's 6A network) with every 3x3 layer of one convolution type, and
seed 002's 6B network with the five types mixed, each trained as a normal run
(training.train.train) with one recipe (default `mixed6b_fast`: the 6B network's fast
recipe) and the same budget: `--epochs` (default the recipe's) over the first
`--limit-train` training images (default all 45,000 after the 5,000-image validation
split). They are ranked by best validation accuracy (the test split is evaluated by
each run after its training, and shown, but not used to rank).

Columns: model, convolution type, trainable parameters, epochs, best validation accuracy,
test top-1, training time (s), training images/s, validation accuracy points per 100,000
parameters and per training minute (the two ratios of the question), precision, machine.
Each model's row is its latest finished run under --output-dir.
"""
import argparse
import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))

# The six networks of seed 002's 6B assignment, with the convolution type of their 3x3 layers
# (models.pyramid; models.blocks.CONV_TYPES says what each type is).
CONV_TYPE_MODELS = {
    "pyramid": "normal 3x3",
    "pyramid_spatial_separable": "spatially separable (3x1, 1x3)",
    "pyramid_separable": "depthwise separable",
    "pyramid_grouped": "grouped (3x3 + 5x5)",
    "pyramid_dilated": "grouped dilated (rates 1, 2)",
    "mixed6b": "the five mixed (seed 002's 6B network)",
}


def train_all(models, recipe, data_dir, epochs, limit_train, output_dir, val_split=None, precise_bn=0):
    """Train each model with the named recipe (its `epochs` replaced when given) under output_dir; val_split
    None keeps the recipe's validation split."""
    from experiments import get_experiment
    from training.train import RunOptions, train
    base = get_experiment(recipe)
    for model in models:
        # No target: the recipe's own (mixed6b_fast's 85.5%) is the 6B network's, not this model's.
        exp = dataclasses.replace(base.with_overrides(model=model, epochs=epochs), target_accuracy=None)
        print(f"== {model}: recipe {recipe}, {exp.epochs} epochs, "
              f"{limit_train or 'all'} training images", flush=True)
        train(exp, RunOptions(data_dir=data_dir, output_dir=output_dir, limit_train=limit_train,
                              val_split=val_split, precise_bn=precise_bn))


def comparison(output_dir):
    """pandas DataFrame, one row per model of CONV_TYPE_MODELS with a finished run under output_dir (its
    latest), best validation accuracy first. Ratios: validation accuracy in points per 100,000
    trainable parameters and per minute of training."""
    from reporting.report import report_table, runs_below
    table = report_table(runs_below(output_dir))
    table = table[table["model"].isin(list(CONV_TYPE_MODELS)) & table["test_accuracy"].notna()]
    table = table.groupby("model").tail(1).copy()     # runs_below sorts by folder name: <recipe>-<time>
    val = 100 * table["best_val_accuracy"]
    rows = table.assign(
        **{"convolution type": table["model"].map(CONV_TYPE_MODELS),
           "recipe, training images": table["run"].map(budget),
           "val points / 100k parameters": (val / (table["parameters"] / 1e5)).round(2),
           "val points / training minute": (val / (table["wall_seconds"] / 60)).round(2)})
    rows = rows.sort_values("best_val_accuracy", ascending=False)
    return rows[["model", "convolution type", "parameters", "recipe, training images", "epochs",
                 "best_val_accuracy", "test_accuracy", "wall_seconds", "images_per_s",
                 "val points / 100k parameters", "val points / training minute", "precision", "device"]]


def budget(run_dir):
    """'mixed6b_fast, 10,000': a run's recipe and how many training images it trained on."""
    from training.rundir import read_json
    config = read_json(os.path.join(run_dir, "config.json"))
    options, data = config["options"], config.get("data", {})
    val_split = options.get("val_split")
    available = data.get("train_images", 0) - (config["experiment"]["val_split"] if val_split is None else val_split)
    images = min(options.get("limit_train") or available, available)
    return f"{config['experiment']['name']}, {images:,}"


def as_markdown(rows):
    """The comparison as a Markdown table with percentages, thousands separators and whole seconds."""
    from benchmarks.seed_table import percent
    shown = rows.assign(**{
        "parameters": rows["parameters"].map("{:,.0f}".format),
        "best_val_accuracy": rows["best_val_accuracy"].map(percent),
        "test_accuracy": rows["test_accuracy"].map(percent),
        "wall_seconds": rows["wall_seconds"].map("{:.0f}".format),
        "images_per_s": rows["images_per_s"].map("{:.0f}".format)})
    shown = shown.rename(columns={"best_val_accuracy": "best val accuracy", "test_accuracy": "test top-1",
                                  "wall_seconds": "training s", "images_per_s": "img/s", "device": "machine"})
    return shown.to_markdown(index=False)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("CIFAR10_DIR"))
    p.add_argument("--models", default=",".join(CONV_TYPE_MODELS),
                   help="comma-separated subset of the six (default: all)")
    p.add_argument("--recipe", default="mixed6b_fast", help="the experiment whose recipe every model is trained with")
    p.add_argument("--epochs", type=int, help="epochs of every run (default: the recipe's)")
    p.add_argument("--limit-train", type=int, help="training images of every run (default: all)")
    p.add_argument("--val-split", type=int, help="validation images (default: the recipe's)")
    p.add_argument("--precise-bn", type=int, default=0, metavar="IMAGES",
                   help="re-estimate BatchNorm statistics before each validation (run.py train --precise-bn)")
    p.add_argument("--output-dir", default=os.path.join("runs", "conv-types"))
    p.add_argument("--table", default=os.path.join(HERE, "conv_types.md"), help="the .md table (and a .csv beside it)")
    p.add_argument("--rebuild", action="store_true", help="only rebuild the table from the run folders")
    a = p.parse_args(argv)
    models = a.models.split(",")
    unknown = sorted(set(models) - set(CONV_TYPE_MODELS))
    if unknown:
        p.error(f"--models: {unknown[0]} is not one of {', '.join(CONV_TYPE_MODELS)}")
    import run
    run.import_backend_quietly()
    from training.rundir import write_csv, write_text
    if not a.rebuild:
        train_all(models, a.recipe, a.data_dir, a.epochs, a.limit_train, a.output_dir, a.val_split, a.precise_bn)
    rows = comparison(a.output_dir)
    write_csv(os.path.splitext(a.table)[0] + ".csv", rows)
    write_text(a.table, f"Run folders: `{a.output_dir}`; rebuilt by `python benchmarks/conv_types.py --rebuild "
               f"--output-dir {a.output_dir}`.\n\n" + as_markdown(rows) + "\n")
    print(as_markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
