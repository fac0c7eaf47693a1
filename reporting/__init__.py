"""Cross-run reports: a pandas table of runs (CSV, Markdown, HTML) and comparison plots."""
from reporting.report import find_runs, report_table, write_report  # noqa: F401
