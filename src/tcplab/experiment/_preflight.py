"""Checking a spec's inputs in the driver before any run directory or worker exists.

Everything the spec references is opened here once: the labels file, the corpus (when an arm
reads documentation), and every arm's analyzer (``open`` + ``describe`` + ``close``). A spec
that cannot run fails here, in the caller's process, with the analyzer's own typed error.
The same pass yields the content fingerprints recorded in ``run.json`` (``inputs``) that
``--resume`` compares, so a run never silently mixes two registries, models or label sets.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcplab.analyzers import Analyzer, AnalyzerRegistry, default_registry
from tcplab.errors import CorpusError, LabelsError, TcplabError
from tcplab.experiment._rundir import file_sha256
from tcplab.experiment._spec import ExperimentSpec, SpecError

__all__ = ["Preflight", "describe_changes", "preflight"]

#: analyzers known to read documentation when the class does not say
_DOC_ANALYZERS = frozenset({"rules", "embedding", "llm"})


@dataclass(frozen=True)
class Preflight:
    """What the driver learned about a spec's inputs."""

    classes: tuple[type[Analyzer], ...]
    arms: list[dict[str, Any]]
    inputs: dict[str, str]


def _reads_docs(name: str, cls: type[Analyzer]) -> bool:
    return bool(getattr(cls, "reads_documentation", name in _DOC_ANALYZERS))


def _check_file(kind: str, path: Path) -> str:
    """SHA-256 of an input file, or a one-line error naming it."""
    err = LabelsError if kind == "labels" else CorpusError
    if not path.exists():
        raise err(f"{kind}: {path} does not exist")
    if not path.is_file():
        raise err(f"{kind}: {path} is not a file")
    try:
        return file_sha256(path)
    except OSError as exc:
        raise err(f"{kind}: cannot read {path}: {exc.strerror or exc}") from exc


def _check_corpus(corpus: Path | None) -> str:
    if corpus is None or not corpus.exists():
        raise CorpusError(
            f"corpus: {corpus} does not exist, and an arm reads documentation; run "
            "`tcplab corpus scan` first (or set `corpus:` in the spec)"
        )
    digest = _check_file("corpus", corpus)
    from tcplab.corpus import read_corpus

    try:
        read_corpus(corpus)
    except TcplabError:
        raise
    except Exception as exc:  # a CSV or damaged file given as a corpus
        raise CorpusError(f"corpus: {corpus} is not a tcplab corpus ({exc})") from exc
    return digest


def _open_arm(i: int, cls: type[Analyzer], params: dict[str, Any]) -> dict[str, Any]:
    try:
        analyzer = cls(**params)
    except TypeError as exc:
        raise SpecError("bad arm parameters", [f"arms[{i}].params: {exc}"]) from exc
    try:
        analyzer.open()
        return analyzer.describe()
    finally:
        analyzer.close()


def preflight(
    spec: ExperimentSpec,
    corpus: Path | None,
    labels: Path | None,
    registry: AnalyzerRegistry | None = None,
) -> Preflight:
    """Open every input of ``spec`` once; raise the first problem as a typed error."""
    registry = registry or default_registry()
    classes = tuple(registry.get(a.analyzer) for a in spec.arms)
    inputs: dict[str, str] = {"spec": spec.spec_hash()}
    if labels is not None:
        inputs["labels"] = _check_file("labels", labels)
        from tcplab.labels import read_labels

        read_labels(labels)
    if any(_reads_docs(a.analyzer, c) for a, c in zip(spec.arms, classes, strict=True)):
        inputs["corpus"] = _check_corpus(corpus)
    elif corpus is not None and corpus.exists():
        inputs["corpus"] = _check_file("corpus", corpus)
    arms: list[dict[str, Any]] = []
    for i, (arm, cls) in enumerate(zip(spec.arms, classes, strict=True)):
        info = _open_arm(i, cls, dict(arm.params))
        arms.append({"name": arm.name, "analyzer": arm.analyzer, "describe": info})
        canonical = json.dumps(info, sort_keys=True, default=str, separators=(",", ":"))
        inputs[f"arm:{arm.name}"] = hashlib.sha256(canonical.encode()).hexdigest()
    return Preflight(classes, arms, inputs)


def describe_changes(
    old_inputs: dict[str, str],
    new: Preflight,
    old_arms: list[dict[str, Any]],
) -> list[str]:
    """What differs between the recorded inputs and now, one readable line each."""
    changes: list[str] = []
    old_describe = {a.get("name"): a.get("describe") or {} for a in old_arms}
    for key in sorted(set(old_inputs) | set(new.inputs)):
        before, after = old_inputs.get(key), new.inputs.get(key)
        if before == after or before is None:
            continue
        if key.startswith("arm:"):
            name = key.removeprefix("arm:")
            now: dict[str, Any] = next((a["describe"] for a in new.arms if a["name"] == name), {})
            was = old_describe.get(name, {})
            fields = sorted(k for k in set(was) | set(now) if was.get(k) != now.get(k))
            detail = ", ".join(f"{k}: {was.get(k)!r} -> {now.get(k)!r}" for k in fields[:4])
            changes.append(f"arm {name!r} changed ({detail or 'identity differs'})")
        else:
            changes.append(f"{key} changed (sha256 {before[:12]}… -> {(after or 'none')[:12]}…)")
    return changes
