"""The coverage–accuracy curve of an arm whose answers carry a confidence (``docs/statistics.md``).

Per labelled tool of the arm: its modal prediction and the confidence of the answer. Tools are
sorted by decreasing confidence, tools whose modal prediction is not a level (UNKNOWN, parse
failure) last; at coverage *c* the first ⌈c·n⌉ are kept and the point is the exact and
within-one accuracy among them: what the arm would score if it abstained on all but its most
confident tools. The computation is :func:`tcplab.generator.coverage_curve`, the one that
``tcplab descriptors evaluate`` prints, so the report and the evaluation cannot disagree.

Where the confidence comes from, per tool:

1. the trials' ``confidence`` column (trial schema 2; the mean over the tool's trials that
   have one);
2. else, for a ``tcp`` arm, the explanation records of the registry the run used: the
   ``explain`` file its ``describe`` recorded in ``run.json``, read only when its sha256 still
   equals the recorded ``explain_sha256`` (a registry regenerated since the run is not used);
3. else none: the arm has no curve (a rules registry's records carry no confidence).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

__all__ = ["arm_confidence", "coverage_accuracy_curve"]


def _describe(meta: dict[str, Any], arm: str) -> dict[str, Any]:
    for a in meta.get("arms") or []:
        if isinstance(a, dict) and a.get("name") == arm:
            return dict(a.get("describe") or {})
    return {}


def _from_explanations(describe: dict[str, Any]) -> dict[str, float]:
    """Confidences of the registry's explanation records (empty when unusable)."""
    from tcplab.errors import RegistryError
    from tcplab.generator import read_explanations

    path, digest = describe.get("explain"), describe.get("explain_sha256")
    if not isinstance(path, str) or not isinstance(digest, str):
        return {}
    try:
        with Path(path).open("rb") as fh:
            if hashlib.file_digest(fh, "sha256").hexdigest() != digest:
                return {}
        records = read_explanations(Path(path))
    except (OSError, RegistryError):
        return {}
    out: dict[str, float] = {}
    for tool, rec in records.items():
        c = rec.get("confidence")
        if isinstance(c, int | float) and not isinstance(c, bool):
            out[tool] = float(c)
    return out


def arm_confidence(
    meta: dict[str, Any], arm: str, analyzer: str, trials: dict[str, list[float | None]]
) -> tuple[dict[str, float], str | None]:
    """Per tool, the confidence of ``arm``'s answers, and where it came from.

    ``trials``: per tool, the ``confidence`` value of each trial. Returns ``({}, None)`` when
    the arm has no confidences.
    """
    from_trials = {
        tool: sum(got) / len(got)
        for tool, values in trials.items()
        if (got := [float(v) for v in values if v is not None])
    }
    if from_trials:
        return from_trials, "trials"
    if analyzer == "tcp":
        records = _from_explanations(_describe(meta, arm))
        if records:
            return records, "registry explanations"
    return {}, None


def coverage_accuracy_curve(
    labels: dict[str, int], modal: dict[str, int], confidence: dict[str, float], points: int = 10
) -> list[dict[str, float]]:
    """The curve over the labelled tools of ``modal`` (empty without confidences).

    ``labels``: tool → label code (0..4); ``modal``: tool → modal prediction code (negative:
    no level); ``confidence``: tool → confidence (a tool without one sorts last).
    """
    from tcplab.generator import coverage_curve

    tools = [t for t in modal if t in labels]
    if not confidence or not tools:
        return []
    return coverage_curve(
        [labels[t] for t in tools],
        [modal[t] for t in tools],
        [confidence.get(t, -1.0) for t in tools],
        points,
    )
