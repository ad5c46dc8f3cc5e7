"""Generate a descriptor registry from a documentation corpus with a generator (default: rules).

Performance fields (exec time, memory, output size) are written as 0 = unknown: tcplab does
not run the tools it describes, and invented constants would look like measurements.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tcplab.corpus import ToolDoc
from tcplab.descriptor import RiskLevel, encode
from tcplab.errors import RegistryError, RegistryFormatError, UsageError
from tcplab.generator._base import Generator, GeneratorContext
from tcplab.registry import write_registry
from tcplab.rules import RuleEngine

__all__ = ["GenerationResult", "default_explain_path", "generate_registry", "read_explanations"]


@dataclass(frozen=True)
class GenerationResult:
    """What :func:`generate_registry` wrote."""

    registry: Path
    explain: Path
    n_tools: int
    by_level: dict[str, int]
    seconds: float
    rules_version: str
    rules_sha256: str
    generator: str = "rules"
    #: the generator's provenance (model hash, threshold...) and, for learned ones, its CV report
    info: dict[str, object] | None = None


def default_explain_path(registry: Path) -> Path:
    """``tools.tcpdb`` → ``tools.explain.jsonl`` (next to the registry)."""
    return registry.with_suffix(".explain.jsonl")


def _atomic_write_text(path: Path, lines: Iterable[str]) -> None:
    """Write ``lines`` to ``path`` atomically; RegistryError when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot write explanations: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise RegistryError(f"{path}: cannot write explanations: {exc.strerror or exc}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_output(path: Path, what: str) -> None:
    """Refuse an output path that is a directory (before any work is done)."""
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; give the {what} file to write")


def generate_registry(
    tools: Iterable[ToolDoc],
    out: Path,
    *,
    explain: Path | None = None,
    engine: RuleEngine | None = None,
    generator: Generator | None = None,
    progress: Callable[[int], None] | None = None,
) -> GenerationResult:
    """Run a generator (default: the rules) over every tool; write the registry and explanations.

    Every tool gets a descriptor, so every scanned tool can be looked up; tools without
    documentation get UNKNOWN (no risk bit). When a name occurs twice, the first row wins
    (PATH order, as a shell would resolve it).
    """
    from tcplab.generator._builtin import RulesGenerator

    t0 = time.perf_counter()
    explain_path = explain or default_explain_path(out)
    _check_output(out, "registry (.tcpdb)")
    _check_output(explain_path, "explanations (.jsonl)")
    gen = generator or RulesGenerator(GeneratorContext())
    if engine is not None and isinstance(gen, RulesGenerator):
        gen.engine = engine
    unique: dict[str, ToolDoc] = {}
    for doc in tools:
        unique.setdefault(doc.name, doc)
    docs = list(unique.values())
    predictions = gen.predict(docs)
    entries: list[tuple[str, bytes]] = []
    records: list[str] = []
    by_level: dict[str, int] = {}
    for i, (doc, pred) in enumerate(zip(docs, predictions, strict=True)):
        entries.append((doc.name, encode(doc.name, pred.level, pred.capabilities)))
        by_level[pred.level.name] = by_level.get(pred.level.name, 0) + 1
        rec = {**pred.record, "tool": doc.name, "risk_level": pred.level.name,
               "capabilities": list(pred.capabilities)}  # fmt: skip
        rec.update(doc_source=doc.doc_source, doc_sha256=doc.doc_sha256, path=doc.path)
        records.append(json.dumps(rec, sort_keys=True) + "\n")
        if progress is not None:
            progress(i + 1)
    n = write_registry(out, entries)
    _atomic_write_text(explain_path, records)
    info = gen.info()
    learned = getattr(gen, "learned", gen)  # the ensemble's learned part
    report = getattr(learned, "cv_report", None)
    cached = getattr(learned, "model_cache_status", None)
    extra = {"cv": report} if report else {}
    if cached:
        extra["model_cache"] = cached
    return GenerationResult(
        registry=out,
        explain=explain_path,
        n_tools=n,
        by_level=dict(sorted(by_level.items(), key=lambda kv: RiskLevel[kv[0]])),
        seconds=time.perf_counter() - t0,
        rules_version=str(info.get("rules_version", "")),
        rules_sha256=str(info.get("rules_sha256", "")),
        generator=gen.name,
        info={**info, **extra},
    )


def read_explanations(path: Path) -> dict[str, dict[str, object]]:
    """Explanation records by tool (empty when the file does not exist).

    Raises:
        RegistryFormatError: the path exists but is not a readable explanations file (a
            directory, a symlink loop, unreadable, not UTF-8, a line that is not a record).
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return {}
    hint = "regenerate it with `tcplab descriptors generate`"
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise RegistryFormatError(
            f"{path}: cannot read explanations: {exc.strerror or exc}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise RegistryFormatError(f"{path}: not an explanations file (not UTF-8); {hint}") from exc
    out: dict[str, dict[str, object]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise RegistryFormatError(
                f"{path}:{lineno}: not an explanations file (not JSON); {hint}"
            ) from exc
        if not isinstance(rec, dict) or "tool" not in rec:
            raise RegistryFormatError(
                f"{path}:{lineno}: not an explanation record (no 'tool'); {hint}"
            )
        out[str(rec["tool"])] = rec
    return out
