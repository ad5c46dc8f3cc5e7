"""Write the tcplab Grafana dashboards (JSON, schemaVersion 39) from the panel lists below.

Run from the repository root: ``python deploy/grafana/generate.py``. The JSON files are
committed; tests/monitor/test_dashboards.py checks that they equal this script's output and
runs every PromQL expression in them against a live Prometheus.

It writes each file twice: here, and into the Kubernetes base
(``src/tcplab/data/kubernetes/base/grafana-dashboards/``, which ``deploy/kubernetes`` links
to), where kustomize's ``configMapGenerator`` makes the ``tcplab-grafana-dashboards``
ConfigMap (label ``grafana_dashboard: "1"``, Grafana's sidecar convention) from them —
kustomize loads no file outside the kustomization's folder, so the base holds copies;
tests/kube/test_monitoring_dashboards.py checks they are byte-identical.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
KUBE = HERE.parents[1] / "src" / "tcplab" / "data" / "kubernetes" / "base" / "grafana-dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}

# (title, unit, [(expr, legend)], description)
Panel = tuple[str, str, list[tuple[str, str]], str]

SERVICE: list[Panel] = [
    (
        "Targets up",
        "none",
        [('up{job=~"tcplab|tcplab-worker"}', "{{job}} {{instance}}")],
        "1 when Prometheus scraped the API or a worker on its last try.",
    ),
    (
        "API requests per second by route",
        "reqps",
        [("sum by (route) (rate(tcplab_api_request_duration_seconds_count[1m]))", "{{route}}")],
        "Requests of one API process (scrape each process).",
    ),
    (
        "API p99 latency by route",
        "s",
        [
            (
                "histogram_quantile(0.99, sum by (le, route) "
                "(rate(tcplab_api_request_duration_seconds_bucket[5m])))",
                "{{route}}",
            )
        ],
        "Until the response starts.",
    ),
    (
        "API answers that are not 2xx",
        "reqps",
        [
            (
                "sum by (status) "
                '(rate(tcplab_api_request_duration_seconds_count{status!="2xx"}[5m]))',
                "{{status}}",
            )
        ],
        "4xx are the callers' errors (401, 404, 422, 429); 5xx are ours.",
    ),
    (
        "Rate-limited requests (429) by role",
        "reqps",
        [("sum by (role) (rate(tcplab_api_rate_limited_total[5m]))", "{{role}}")],
        "Per-token token buckets (TCPLAB_SERVICE_RATE_*_PER_S).",
    ),
]
QUEUE: list[Panel] = [
    (
        "Queue depth by priority class",
        "none",
        [("sum by (priority) (tcplab_queue_depth)", "{{priority}}")],
        "Queued jobs; the Kubernetes autoscaler reads the same series.",
    ),
    ("Jobs by state", "none", [("sum by (state) (tcplab_jobs)", "{{state}}")], ""),
    ("Running jobs", "none", [("sum(tcplab_jobs_running)", "running")], ""),
    (
        "Job duration (median and p95, all finished jobs)",
        "s",
        [
            (
                "histogram_quantile(0.5, "
                "sum by (le, outcome) (tcplab_job_duration_seconds_bucket))",
                "p50 {{outcome}}",
            ),
            (
                "histogram_quantile(0.95, "
                "sum by (le, outcome) (tcplab_job_duration_seconds_bucket))",
                "p95 {{outcome}}",
            ),
        ],
        "Recomputed from the jobs table on every scrape: the distribution over every finished job.",
    ),
    (
        "Failed share of finished jobs",
        "percentunit",
        [
            (
                'sum(tcplab_jobs{state="failed"}) / '
                'clamp_min(sum(tcplab_jobs{state=~"succeeded|failed|cancelled"}), 1)',
                "failed",
            )
        ],
        "",
    ),
]
WORKERS: list[Panel] = [
    ("Workers up", "none", [('up{job="tcplab-worker"}', "{{instance}}")], ""),
    (
        "Jobs running per worker",
        "none",
        [
            ("sum by (instance) (tcplab_worker_jobs_running)", "{{instance}}"),
            ("sum by (instance) (tcplab_worker_concurrency)", "{{instance}} slots"),
        ],
        "",
    ),
    ("Host CPU busy", "percent", [("tcplab_host_cpu_busy_percent", "{{instance}}")], ""),
    (
        "Host load per core (1 min)",
        "none",
        [("tcplab_host_load1 / tcplab_host_cpu_count", "{{instance}}")],
        "Above 1: more runnable threads than cores (timed code waits for a CPU).",
    ),
    (
        "Host memory used",
        "percentunit",
        [
            (
                "1 - tcplab_host_memory_available_bytes / tcplab_host_memory_total_bytes",
                "{{instance}}",
            )
        ],
        "",
    ),
    ("Swap used", "bytes", [("tcplab_host_swap_used_bytes", "{{instance}}")], ""),
    (
        "Disk free (TCPLAB_HOME's filesystem)",
        "percentunit",
        [("tcplab_host_disk_free_bytes / tcplab_host_disk_total_bytes", "{{instance}} {{path}}")],
        "",
    ),
    (
        "Network",
        "Bps",
        [
            ("rate(tcplab_host_net_recv_bytes_total[1m])", "{{instance}} in"),
            ("rate(tcplab_host_net_sent_bytes_total[1m])", "{{instance}} out"),
        ],
        "",
    ),
    (
        "Context switches per second",
        "ops",
        [("rate(tcplab_host_context_switches_total[1m])", "{{instance}}")],
        "",
    ),
    (
        "Sources measuring on each host",
        "none",
        [("tcplab_host_source_available", "{{instance}} {{source}} {{reason}}")],
        "0 with the reason: the source cannot measure there (no GPU, no sensors...).",
    ),
    (
        "GPU utilisation",
        "percent",
        [("tcplab_host_gpu_utilization_percent", "{{instance}} gpu {{gpu}}")],
        "Needs source gpu.",
    ),
    (
        "GPU memory used",
        "bytes",
        [("tcplab_host_gpu_memory_used_bytes", "{{instance}} gpu {{gpu}}")],
        "Needs source gpu.",
    ),
    (
        "GPU power",
        "watt",
        [("tcplab_host_gpu_power_watts", "{{instance}} gpu {{gpu}}")],
        "Needs source gpu (boards that report power).",
    ),
    (
        "GPU temperature",
        "celsius",
        [("tcplab_host_gpu_temperature_celsius", "{{instance}} gpu {{gpu}}")],
        "Needs source gpu.",
    ),
    (
        "Sensor temperatures",
        "celsius",
        [("tcplab_host_temperature_celsius", "{{instance}} {{chip}} {{sensor}}")],
        "Needs source temperature.",
    ),
]
EXPERIMENTS: list[Panel] = [
    (
        "Decision latency p50 and p95 by arm",
        "s",
        [
            (
                "histogram_quantile(0.5, sum by (le, arm) "
                "(rate(tcplab_decision_latency_seconds_bucket[5m])))",
                "p50 {{arm}}",
            ),
            (
                "histogram_quantile(0.95, sum by (le, arm) "
                "(rate(tcplab_decision_latency_seconds_bucket[5m])))",
                "p95 {{arm}}",
            ),
        ],
        "Successful trials of the shards the workers finished (from each trial's latency).",
    ),
    (
        "Trials per second by arm",
        "ops",
        [("sum by (arm) (rate(tcplab_trials_done_total[5m]))", "{{arm}}")],
        "Trials written in finished shards, over every job.",
    ),
    ("Trials done by arm", "none", [("sum by (arm) (tcplab_trials_done_total)", "{{arm}}")], ""),
    (
        "Jobs finished by outcome",
        "none",
        [("sum by (outcome) (tcplab_job_duration_seconds_count)", "{{outcome}}")],
        "",
    ),
    (
        "Queued and running",
        "none",
        [("sum(tcplab_queue_depth)", "queued"), ("sum(tcplab_jobs_running)", "running")],
        "",
    ),
]
LLM: list[Panel] = [
    (
        "LLM attempts per second by model and outcome",
        "reqps",
        [
            (
                "sum by (model, outcome) (rate(tcplab_llm_requests_total[5m]))",
                "{{model}} {{outcome}}",
            )
        ],
        "Every HTTP attempt: ok, rate_limited (429), error.",
    ),
    (
        "LLM attempt p95 service time",
        "s",
        [
            (
                "histogram_quantile(0.95, sum by (le, model) "
                "(rate(tcplab_llm_request_duration_seconds_bucket[5m])))",
                "{{model}}",
            )
        ],
        "",
    ),
    (
        "LLM error share",
        "percentunit",
        [
            (
                'sum by (model) (rate(tcplab_llm_requests_total{outcome="error"}[10m])) / '
                "sum by (model) (rate(tcplab_llm_requests_total[10m]))",
                "{{model}}",
            )
        ],
        "Alert TcplabLLMErrorRatioHigh above 5%.",
    ),
    (
        "LLM rate-limited share",
        "percentunit",
        [
            (
                'sum by (model) (rate(tcplab_llm_requests_total{outcome="rate_limited"}[10m])) / '
                "sum by (model) (rate(tcplab_llm_requests_total[10m]))",
                "{{model}}",
            )
        ],
        "Alert TcplabLLMRateLimited above 20%: lower the arm's budget.",
    ),
]
DASHBOARDS = {
    "tcplab-service": ("tcplab: service overview", SERVICE),
    "tcplab-queue": ("tcplab: queue and jobs", QUEUE),
    "tcplab-workers": ("tcplab: workers' resources", WORKERS),
    "tcplab-experiments": ("tcplab: experiment progress", EXPERIMENTS),
    "tcplab-llm": ("tcplab: LLM requests", LLM),
}


def _panel(i: int, panel: Panel) -> dict[str, object]:
    title, unit, targets, description = panel
    return {
        "id": i + 1,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + j), "datasource": DS, "expr": expr, "legendFormat": legend}
            for j, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard(uid: str) -> dict[str, object]:
    """The dashboard ``uid`` as Grafana's JSON model."""
    title, panels = DASHBOARDS[uid]
    return {
        "uid": uid,
        "title": title,
        "tags": ["tcplab"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                }
            ]
        },
        "panels": [_panel(i, p) for i, p in enumerate(panels)],
    }


def render(uid: str) -> str:
    """The committed text of ``uid``.json."""
    return json.dumps(dashboard(uid), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    KUBE.mkdir(exist_ok=True)
    for uid in DASHBOARDS:
        for folder in (HERE, KUBE):
            (folder / f"{uid}.json").write_text(render(uid))
