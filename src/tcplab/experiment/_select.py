"""Resolving a spec's tool selection against the corpus and the labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tcplab.analyzers import default_corpus_path
from tcplab.corpus import read_corpus
from tcplab.experiment._spec import ExperimentSpec, SpecError
from tcplab.labels import LabelSet, is_invocation_file, read_invocation_labels, read_labels
from tcplab.resources import resolve_data_ref

__all__ = ["resolve_inputs", "select_tools"]


def resolve_inputs(spec: ExperimentSpec, base: Path) -> tuple[Path | None, Path | None]:
    """Absolute corpus and labels paths (relative to the spec's folder; ``tcplab:NAME`` is
    a file shipped with the package)."""

    def fix(value: str | None) -> Path | None:
        return None if value is None else resolve_data_ref(value, base)

    corpus = fix(spec.corpus) or default_corpus_path()
    return corpus, fix(spec.labels)


def _stratified(labels: LabelSet, n: int, seed: int) -> list[str]:
    by_level: dict[str, list[str]] = {}
    for lb in labels:
        by_level.setdefault(lb.risk_level.name, []).append(lb.command)
    total = len(labels)
    if n >= total:
        return sorted(lb.command for lb in labels)
    rng = np.random.default_rng(seed)
    quotas = {lv: n * len(names) / total for lv, names in by_level.items()}
    alloc = {lv: int(q) for lv, q in quotas.items()}
    for lv in sorted(quotas, key=lambda k: quotas[k] - alloc[k], reverse=True):
        if sum(alloc.values()) >= n:
            break
        alloc[lv] += 1
    chosen: list[str] = []
    for lv in sorted(by_level):
        names = sorted(by_level[lv])
        idx = rng.choice(len(names), size=min(alloc[lv], len(names)), replace=False)
        chosen.extend(names[i] for i in sorted(idx))
    return sorted(chosen)


def select_tools(spec: ExperimentSpec, corpus: Path | None, labels: Path | None) -> list[str]:
    """The tool names of the spec's selection (sorted).

    Raises:
        SpecError: the selection needs labels or a corpus that is missing.
    """
    sel = spec.tools
    if sel.kind == "list":
        return sorted(set(sel.names))
    if sel.kind == "all":
        if corpus is None or not corpus.exists():
            raise SpecError(
                "tools: all needs a corpus",
                [f"corpus: {corpus} does not exist; run `tcplab corpus scan`"],
            )
        return sorted({row.name for row in read_corpus(corpus)})
    if labels is None:
        raise SpecError(f"tools: {sel.kind} needs labels", ["labels: no labels file given"])
    if sel.kind != "sample" and is_invocation_file(labels):
        # invocation inputs (issue 16): every labelled command line of the split, UNKNOWN
        # levels included (their decision is labelled), split by tool group
        lines = read_invocation_labels(labels).subset(spec.label_split())
        return sorted(lb.command_line for lb in lines)
    label_set = read_labels(labels)
    if sel.kind == "sample":
        assert sel.n is not None
        return _stratified(label_set, sel.n, spec.seed)
    return [lb.command for lb in label_set.subset(spec.label_split())]
