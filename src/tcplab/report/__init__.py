"""Statistical reports of experiment runs and regression comparison of two runs.

``build_report`` writes ``report.html`` (self-contained), ``report.md`` and ``summary.json``
(schema version :data:`SUMMARY_SCHEMA_VERSION`, documented in ``docs/report.md``) into
``RUN_DIR/report/``; ``compare_runs`` compares the same arm across two runs. Every
statistic comes from :mod:`tcplab.stats`, with the tool as the unit of analysis.

:mod:`tcplab.report.reduce` is the one reduction of a run's trials (per tool and arm, then
per arm) that the report, the SQL store's results and the quickstart table (:func:`arm_table`)
all use.
"""

from tcplab.report._build import ReportFiles, build_report, resolve_run
from tcplab.report._common import SUMMARY_SCHEMA_VERSION, ReportSettings
from tcplab.report._compare import COMPARE_SCHEMA_VERSION, compare_runs
from tcplab.report._curve import arm_confidence, coverage_accuracy_curve
from tcplab.report._data import load_run
from tcplab.report.reduce import (
    ArmReduction,
    ToolArmReduction,
    arm_table,
    reduce_arms,
    reduce_trials,
    safety_values,
)

__all__ = [
    "COMPARE_SCHEMA_VERSION",
    "SUMMARY_SCHEMA_VERSION",
    "ArmReduction",
    "ReportFiles",
    "ReportSettings",
    "ToolArmReduction",
    "arm_confidence",
    "arm_table",
    "build_report",
    "compare_runs",
    "coverage_accuracy_curve",
    "load_run",
    "reduce_arms",
    "reduce_trials",
    "resolve_run",
    "safety_values",
]
