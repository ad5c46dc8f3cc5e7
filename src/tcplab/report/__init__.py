"""Statistical reports of experiment runs and regression comparison of two runs.

``build_report`` writes ``report.html`` (self-contained), ``report.md`` and ``summary.json``
(schema version :data:`SUMMARY_SCHEMA_VERSION`, documented in ``docs/report.md``) into
``RUN_DIR/report/``; ``compare_runs`` compares the same arm across two runs. Every
statistic comes from :mod:`tcplab.stats`, with the tool as the unit of analysis.
"""

from tcplab.report._build import ReportFiles, build_report, resolve_run
from tcplab.report._common import SUMMARY_SCHEMA_VERSION, ReportSettings
from tcplab.report._compare import COMPARE_SCHEMA_VERSION, compare_runs
from tcplab.report._data import load_run

__all__ = [
    "COMPARE_SCHEMA_VERSION",
    "SUMMARY_SCHEMA_VERSION",
    "ReportFiles",
    "ReportSettings",
    "build_report",
    "compare_runs",
    "load_run",
    "resolve_run",
]
