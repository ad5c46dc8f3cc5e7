"""Hardware and process monitoring: samplers, their storage beside a run, a live view.

``psutil`` and ``nvidia-ml-py`` are optional (``pip install 'tcplab[monitor]'``); a source whose
library, sensor or device is missing is recorded as unavailable with the reason.
"""

from __future__ import annotations

from tcplab.monitor._files import METRICS_SCHEMA, MetricsWriter, read_metrics, snapshots_table
from tcplab.monitor._llm import (
    LLM_OUTCOMES,
    LLMCounts,
    llm_collectors,
    merge_llm_counts,
    record_llm_request,
    take_llm_counts,
)
from tcplab.monitor._model import METRICS_SCHEMA_VERSION, Point, Snapshot, SourceStatus
from tcplab.monitor._prom import HostCollector
from tcplab.monitor._relay import LogRelay, relay_child_logs
from tcplab.monitor._run import (
    RunMonitor,
    sample_interval_default,
    saturation_warnings,
    trial_window,
)
from tcplab.monitor._sampler import MIN_INTERVAL, BackgroundSampler, check_interval
from tcplab.monitor._sources import (
    SOURCES,
    Sampler,
    SourceOptions,
    SourceUnavailable,
    make_sources,
    register_source,
)
from tcplab.monitor._view import VIEW_SCHEMA_VERSION, HostView, active_runs, view_document

__all__ = [
    "LLM_OUTCOMES",
    "METRICS_SCHEMA",
    "METRICS_SCHEMA_VERSION",
    "MIN_INTERVAL",
    "SOURCES",
    "VIEW_SCHEMA_VERSION",
    "BackgroundSampler",
    "HostCollector",
    "HostView",
    "LLMCounts",
    "LogRelay",
    "MetricsWriter",
    "Point",
    "RunMonitor",
    "Sampler",
    "Snapshot",
    "SourceOptions",
    "SourceStatus",
    "SourceUnavailable",
    "active_runs",
    "check_interval",
    "llm_collectors",
    "make_sources",
    "merge_llm_counts",
    "read_metrics",
    "record_llm_request",
    "register_source",
    "relay_child_logs",
    "sample_interval_default",
    "saturation_warnings",
    "snapshots_table",
    "take_llm_counts",
    "trial_window",
    "view_document",
]
