"""Ship a finished run as a pretrained model: copy its test model, write its card, list it.

    python -m pretrained.ship NAME RUN_DIR [--note TEXT] [--seeds RUN_DIR ...]
    python -m pretrained.ship NAME --remeasure --data-dir DIR

Copies the file the run's test measured (metrics.json "evaluated": best.h5 or final.h5,
with its test-time views built in) to pretrained/NAME.h5, writes the model card
pretrained/NAME.md from the run's config.json, metrics.json and history.csv, and adds
NAME with its sha256 and test top-1 to pretrained/manifest.json. Every figure on the
card is read from the run's own files. `--seeds` names other runs of the same recipe
(other seeds): the card gives each one's test top-1 and times, and their mean and spread.

`--remeasure` evaluates an already shipped file on the test split of DIR and writes the
figure into the manifest and at the top of the card, for a model whose run folder is gone
(the card's other figures stay those of its run, and it says so).
"""
import argparse
import datetime
import json
import os
import re
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from callbacks import read_history  # noqa: E402
from data.provenance import describe_copy, short_provenance  # noqa: E402
from errors import UnknownNameError  # noqa: E402
import experiments  # noqa: E402
from experiments import get_experiment  # noqa: E402
from pretrained import HERE, MANIFEST, resolve, sha256, shipped  # noqa: E402
from training.rundir import read_json, write_json, write_text  # noqa: E402


def seeds_table(runs):
    """Markdown: one row per run (seed, test top-1, epochs, training s, test s, time to target) and
    the mean and spread of test top-1. `runs`: [(config, metrics)], the shipped run first."""
    top1 = np.array([m["test_top1"] for _, m in runs])

    def to_target(m):
        return "-" if m.get("time_to_target_seconds") is None else f"{m['time_to_target_seconds']:.0f} s"
    rows = "\n".join(
        f"| {c['options']['seed']} | {100 * m['test_top1']:.2f}% | {m['epochs']} | {m['wall_seconds']:.0f} | "
        f"{m.get('test_seconds', 0):.0f} | {to_target(m)} | {c['environment']['device']}, "
        f"{c['environment']['precision']} | {short_provenance(m.get('data')).replace('?', 'not recorded')} |"
        for c, m in runs)
    return f"""## Every seed of this recipe

Mean test top-1 over {len(runs)} seeds: **{100 * top1.mean():.2f}%** (standard deviation {100 * top1.std(ddof=1) if len(top1) > 1 else 0:.2f} points, min {100 * top1.min():.2f}%, max {100 * top1.max():.2f}%). The shipped file is the first row.

| seed | test top-1 | epochs | training s | test s | time to target | machine | data |
|---|---|---|---|---|---|---|---|
{rows}
"""


# Not compared: the text fields, and the augmentation engine (config.json names the engine `auto` resolved to).
UNCOMPARED = ("source", "claim", "augment_engine")


def recipe_differences(exp):
    """experiments.recipe_differences of a run's recipe, UNCOMPARED left out: {field: (today's recipe
    value, the run's value)}. Raises UnknownNameError when no recipe has that name any more."""
    return experiments.recipe_differences(exp, ignore=UNCOMPARED)


def experiment_row(exp):
    """The card's description of a run's recipe: today's `source` when the run trained exactly today's recipe
    (it may have passed as an override what later became the recipe), else the run's own `source` and
    the fields in which it differs from today's recipe."""
    try:
        differences = recipe_differences(exp)
    except UnknownNameError:
        return f"`{exp['name']}` (no longer a registered recipe): {exp['source']}"
    if not differences:
        return f"`{exp['name']}`: {get_experiment(exp['name']).source}"
    changed = ", ".join(f"{k} {json.dumps(run)} (recipe: {json.dumps(recipe)})"
                        for k, (recipe, run) in differences.items())
    return f"`{exp['name']}`: {exp['source']}; this run differs from today's recipe: {changed}"


def card(name, config, metrics, history, digest, note="", seeds=()):
    """The model card (Markdown) of a shipped run; `seeds`: [(config, metrics)] of other seeds' runs."""
    exp, env = config["experiment"], config["environment"]
    data = metrics.get("data") or config.get("data")
    of_copy = f" of CIFAR-10 {data['copy']}" if data and data["copy"] != "unknown" else ""
    total = metrics["wall_seconds"] + metrics.get("test_seconds", 0)
    resumed = metrics.get("resumed_after_epochs") or []
    rows = "\n".join(f"| {c} | {100 * a:.2f}% |" for c, a in metrics["per_class"].items())
    views = {0: "none", 1: "mirror (2 views)", 2: "mirror and 1-pixel translations (6 views)"}
    passes = {0: "", 1: " (each image through 2 views)", 2: " (each image through 6 views)"}[metrics.get("tta_level", 0)]
    return f"""# `{name}`: {exp['model']} trained on CIFAR-10

**Test top-1 accuracy: {100 * metrics['test_top1']:.2f}%** on the {metrics['test_images']:,} test images{of_copy}
(test-time augmentation: {views[metrics.get('tta_level', 0)]}).

{note}

| | |
|---|---|
| file | `{name}.h5` (whole Keras model; input raw uint8 RGB (N, 32, 32, 3), output (N, 10) probabilities) |
| sha256 | `{digest}` |
| command | `python {config['command']}` |
| experiment | {experiment_row(exp)} |
| epochs | {metrics['epochs']} of batch {exp['batch_size']}, {exp['optimizer']} lr {exp['lr']:g}, schedule {exp['schedule']} |
| weights tested | {metrics['evaluated']} ({'weight average (EMA)' if exp.get('ema_momentum') else 'lookahead: the weights end at their running average' if exp.get('lookahead') else 'as trained'}) |
| training images | {config['options']['val_split'] and 50000 - config['options']['val_split'] or 50000:,} (validation split {config['options']['val_split']}) |
| wall time | {metrics['wall_seconds']:.0f} s training + {metrics.get('test_seconds', 0):.0f} s test = {total:.0f} s ({total / 60:.1f} min){'; resumed after epochs ' + ', '.join(map(str, resumed)) + ', times summed over sessions' if resumed else ''} |
| training speed | {metrics['train_images_per_s']:.0f} images/s (median epoch); inference {metrics['inference_images_per_s']:.0f} images/s{passes} |
| machine | {env['device']} |
| software | Keras {env['keras']}, backend {env['backend']}{' ' + env[env['backend']] if env['backend'] in env else ''}; precision {env['precision']} |
| source's claim | {exp['claim']} (not ours) |

## Per-class test accuracy

| class | top-1 |
|---|---|
{rows}

## Training curve

| epoch | loss | train acc | lr | seconds |
|---|---|---|---|---|
""" + "\n".join(f"| {int(r.epoch) + 1} | {r.loss:.4f} | {100 * r.accuracy:.2f}% | {r.lr:.4g} | {r.seconds:.0f} |"
                for r in history.itertuples()) + f"""

{seeds_table([(config, metrics), *seeds]) if seeds else ""}
## Data
{describe_copy(metrics.get("data") or config.get("data"))}
"""


def finished_run(run_dir):
    """(config, metrics) of a finished run folder."""
    return read_json(os.path.join(run_dir, "config.json")), read_json(os.path.join(run_dir, "metrics.json"))


def ship(name, run_dir, note="", seeds=()):
    """Copy run_dir's tested model to pretrained/NAME.h5, write NAME.md and update the manifest.

    `seeds` are other finished runs of the same recipe, quoted on the card with their mean and spread.

    Returns:
        The manifest entry (dict).
    """
    config, metrics = finished_run(run_dir)
    history = read_history(os.path.join(run_dir, "history.csv"))
    target = os.path.join(HERE, f"{name}.h5")
    shutil.copyfile(os.path.join(run_dir, metrics["evaluated"]), target)
    digest = sha256(target)
    others = [finished_run(r) for r in seeds]
    write_text(os.path.join(HERE, f"{name}.md"), card(name, config, metrics, history, digest, note, others))
    entry = {"file": f"{name}.h5", "sha256": digest, "card": f"{name}.md", "test_top1": metrics["test_top1"],
             "experiment": config["experiment"]["name"], "command": f"python {config['command']}",
             "data": short_provenance(metrics.get("data"))}
    if others:
        entry["seeds_test_top1"] = [metrics["test_top1"], *(m["test_top1"] for _, m in others)]
    write_json(MANIFEST, {**shipped(), name: entry})
    return entry


def remeasure(name, data_dir):
    """Evaluate the shipped model NAME on the test split of `data_dir`; write the figure into the
    manifest and at the top of its card (quoting the run's own), and replace the card's per-class table.

    Returns:
        The updated manifest entry (dict).

    Raises:
        SuiteError: NAME is not shipped, or its file fails its sha256 check; DataError: bad data.
    """
    from data import load_cifar10
    from data.provenance import data_provenance
    from training.evaluate import evaluate_model, load_saved_model
    path = resolve(name)
    train, test = load_cifar10(data_dir)
    provenance = data_provenance(train, test, data_dir)
    result = evaluate_model(load_saved_model(path), *test)
    entry = {**shipped()[name], "test_top1": result["top1"], "data": short_provenance(provenance)}
    card_path = os.path.join(HERE, entry["card"])
    text = open(card_path).read()
    headline = re.compile(r"\*\*Test top-1 accuracy: ([\d.]+%)\*\* on the [\d,]+ test images")
    before = headline.search(text)
    measured = (f"**Test top-1 accuracy: {100 * result['top1']:.2f}%** on the {result['n']:,} test images of "
                f"{provenance['copy']} CIFAR-10 (re-measured {datetime.date.today()} with `python -m "
                f"pretrained.ship {name} --remeasure`; the training run reported "
                f"{before.group(1) if before else '?'} on the data it used, and the other figures below are "
                "that run's own: see Data)")
    text = headline.sub(lambda _: measured, text, count=1) if before else f"{measured}\n\n{text}"
    rows = "\n".join(f"| {c} | {100 * a:.2f}% |" for c, a in result["per_class"].items())
    text = re.sub(r"## Per-class test accuracy\n\n(?:[^|\n][^\n]*\n\n)?(\|[^\n]*\n)+",
                  lambda _: f"## Per-class test accuracy\n\nRe-measured with the figure at the top.\n\n"
                            f"| class | top-1 |\n|---|---|\n{rows}\n", text, count=1)
    old_data = re.search(r"## Data\n(.*)\Z", text, flags=re.S)
    trained_on = old_data.group(1).strip() if old_data else "not recorded."
    if "Test figure at the top:" in trained_on:                     # remeasured before: keep the run's own note
        trained_on = trained_on.split("Training run:", 1)[-1].strip()
    data = f"## Data\nTest figure at the top: {describe_copy(provenance)}\n\nTraining run: {trained_on}\n"
    text = text[:old_data.start()] + data if old_data else text + "\n" + data
    write_text(card_path, text)
    write_json(MANIFEST, {**shipped(), name: entry})
    return entry


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pretrained.ship", description=__doc__.splitlines()[0])
    p.add_argument("name")
    p.add_argument("run_dir", nargs="?")
    p.add_argument("--note", default="", help="a paragraph for the card (such as why training was cut short)")
    p.add_argument("--seeds", nargs="*", default=[], metavar="RUN_DIR",
                   help="other finished runs of the same recipe: the card quotes each and their mean and spread")
    p.add_argument("--remeasure", action="store_true", help="re-evaluate the shipped NAME on --data-dir's test split")
    p.add_argument("--data-dir", help="CIFAR-10 for --remeasure (default: $CIFAR10_DIR)")
    args = p.parse_args(argv)
    if args.remeasure == bool(args.run_dir):
        p.error("give RUN_DIR to ship a run, or --remeasure to re-evaluate a shipped model (not both)")
    if args.remeasure:
        entry = remeasure(args.name, args.data_dir or os.environ.get("CIFAR10_DIR"))
        print(f"re-measured {args.name}: test top-1 {100 * entry['test_top1']:.2f}% ({entry['data']})")
        return
    entry = ship(args.name, args.run_dir, args.note, args.seeds)
    print(f"shipped {args.name}: {entry['file']} sha256 {entry['sha256']}, test top-1 {100 * entry['test_top1']:.2f}%")


if __name__ == "__main__":
    main()
