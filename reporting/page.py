"""report.html: the runs table and the figures as one self-contained page for a laptop screen.

Figures are embedded as base64 PNGs; the only script sorts the table when a header is clicked.
Values that every run shares (device, precision, data) are said once above the table.
"""
import base64
import html as escape
import os

import pandas as pd

from callbacks.epoch_stats import format_duration

FIGURES = {   # file -> (heading, what it shows)
    "curves.png": ("Learning curves", "Validation accuracy and loss per epoch of every run (training values "
                   "where a run has no validation split)."),
    "accuracy_vs_parameters.png": ("Accuracy against model size", "Test top-1 accuracy (circles) or, for runs "
                                   "not tested yet, best validation accuracy (crosses) against trainable "
                                   "parameters; one colour per model."),
    "per_class.png": ("Test accuracy per class", "Top-1 accuracy on each class's 1,000 test images, per "
                      "finished run."),
    "misclassified.png": ("Mistakes of the most accurate run", "Test images it got wrong: true class -> "
                          "predicted class."),
}
SHARED = ("device", "precision", "data")    # said once when every run has the same value

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1300px;padding:0 1.5em;
     color:#222;line-height:1.45}
h1{margin-bottom:.2em} .shared{color:#555;margin-top:0}
table{border-collapse:collapse;width:100%;font-size:14px;font-variant-numeric:tabular-nums}
th,td{padding:5px 9px;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
th{background:#f3f4f6;cursor:pointer;user-select:none;position:sticky;top:0} th:hover{background:#e5e7eb}
td.text,th.text{text-align:left} tr:hover td{background:#fafafa}
figure{margin:2.2em 0} figcaption{color:#555;margin-bottom:.6em} img{max-width:100%;height:auto}
a{color:#1d4ed8;text-decoration:none} a:hover{text-decoration:underline}
"""

SORT_SCRIPT = """
document.querySelectorAll('th').forEach((th, column) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0];
  const down = th.dataset.order !== 'descending';
  th.parentNode.querySelectorAll('th').forEach(h => delete h.dataset.order);
  th.dataset.order = down ? 'descending' : 'ascending';
  const key = row => row.cells[column].dataset.value;
  const rows = [...body.rows].sort((a, b) => {
    const x = key(a), y = key(b);
    if (x === '' || y === '') return (x === '') - (y === '');          // empty cells last
    const order = isNaN(x) || isNaN(y) ? x.localeCompare(y) : x - y;
    return down ? -order : order;
  });
  rows.forEach(row => body.appendChild(row));
}));
"""


def percent(value):
    return f"{100 * value:.2f}%"


def count(value):
    return f"{value:,.0f}"


COLUMNS = [   # (table column, header, formatter of a known value, is text); the run's name says its experiment
    ("model", "model", str, True),
    ("parameters", "parameters", count, False),
    ("epochs", "epochs", count, False),
    ("test_accuracy", "test top-1", percent, False),
    ("best_val_accuracy", "best validation", percent, False),
    ("wall_seconds", "training time", format_duration, False),
    ("images_per_s", "img/s", count, False),
]


def ordered(table):
    """Runs by test top-1 accuracy, best first; runs not tested yet after them, by validation accuracy."""
    return table.sort_values(["test_accuracy", "best_val_accuracy"], ascending=False, na_position="last",
                             kind="stable")


def shared_values(table):
    """{column: value} for SHARED columns with one value in every run that records it."""
    values = {c: table[c].replace("?", None).dropna().unique() for c in SHARED}    # '?': not recorded
    return {c: v[0] for c, v in values.items() if len(v) == 1}


def abbreviated(text):
    """The part before the first comma: 'CPU AMD EPYC' of 'CPU AMD EPYC, 2 cores (no AMX, ...)'."""
    return str(text).split(",")[0]


def cell(value, text, is_text):
    """A <td> showing `text`, sorting by `value` (its data-value), the whole value as a tooltip where
    the text shortens it."""
    raw = escape.escape(str("" if pd.isna(value) else value), quote=True)
    title = f" title='{raw}'" if is_text and text != str(value) and not pd.isna(value) else ""
    return f"<td class='{'text' if is_text else 'number'}' data-value='{raw}'{title}>{escape.escape(text)}</td>"


def table_html(table, out_dir):
    """The runs table, in the table's order (`ordered` by write_report): short run names
    (<experiment>-<time>) linking to their folders (relative to out_dir), percentages, readable
    durations; device/precision/data columns only where runs differ."""
    shared = shared_values(table)
    columns = COLUMNS + [(c, c, abbreviated, True) for c in SHARED if c not in shared]
    head = "<th class='text'>run</th>" + "".join(
        f"<th class='{'text' if is_text else 'number'}'>{escape.escape(header)}</th>"
        for _, header, _, is_text in columns)
    rows = []
    for _, row in table.iterrows():
        name = os.path.basename(os.path.normpath(row["run"]))
        if not name.startswith(str(row["experiment"])):       # a sweep's trial_<id>
            name = f"{name} ({row['experiment']})"
        link = os.path.relpath(row["run"], out_dir)
        cells = [f"<td class='text' data-value='{escape.escape(name, quote=True)}'>"
                 f"<a href='{escape.escape(link, quote=True)}/' title='{escape.escape(row['run'], quote=True)}'>"
                 f"{escape.escape(name)}</a></td>"]
        for column, _, fmt, is_text in columns:
            value = row[column]
            cells.append(cell(value, "" if pd.isna(value) else fmt(value), is_text))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def page(table, images, out_dir, seeds=()):
    """The whole report.html text for `table` (best run first: `ordered`): heading, what the runs
    share, the sortable table, `seeds` (lines of text: report.summary_lines, how the seeds of one recipe
    spread) as a list, each figure with a heading and a caption (FIGURES) and the PNG embedded."""
    shared = shared_values(table)
    said = "; ".join(f"{name}: {escape.escape(str(value))}" for name, value in shared.items() if isinstance(value, str))
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>CIFAR-10 runs ({len(table)})</title><style>{STYLE}</style></head><body>",
             f"<h1>CIFAR-10 runs</h1><p class='shared'>{len(table)} runs, best test top-1 first (click a "
             f"header to sort){'. All runs: ' + said if said else ''}.</p>",
             table_html(table, out_dir)]
    if seeds:
        parts.append("<h2>Seeds of one recipe</h2><ul>" + "".join(f"<li>{escape.escape(line)}</li>" for line in seeds)
                     + "</ul>")
    for path in images:
        heading, caption = FIGURES.get(os.path.basename(path), (os.path.basename(path), ""))
        data = base64.b64encode(open(path, "rb").read()).decode()
        parts.append(f"<figure><h2>{escape.escape(heading)}</h2><figcaption>{escape.escape(caption)}</figcaption>"
                     f"<img alt='{escape.escape(heading, quote=True)}' src='data:image/png;base64,{data}'></figure>")
    parts.append(f"<script>{SORT_SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"
