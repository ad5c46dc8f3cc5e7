"""The ``embedding`` arm: all-MiniLM-L6-v2 sentence embeddings, zero-shot or with a trained head."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from tcplab.analyzers._base import Analyzer
from tcplab.analyzers._types import (
    Assessment,
    ModelIdentity,
    Status,
    Timing,
    ToolInput,
    failure,
)
from tcplab.analyzers.embedding import _prompts as prompts
from tcplab.analyzers.embedding._head import CAPABILITIES, Head, default_head_dir, load_head
from tcplab.analyzers.embedding._model import (
    MODEL_ID,
    MODEL_PACKAGE,
    encode,
    load_model,
    model_dir,
    model_package_version,
)
from tcplab.analyzers.embedding._text import BODY_CHARS, TEXT_RECIPE, build_text
from tcplab.descriptor import RiskLevel
from tcplab.errors import UsageError

__all__ = ["MODES", "EmbeddingAnalyzer"]

MODES = ("zero-shot", "trained")
_LEVELS: tuple[str, ...] = tuple(prompts.RISK_DESCRIPTIONS)
F32 = npt.NDArray[np.float32]


def _dist_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _fmt(names: Sequence[str], values: Any, signed: bool = False) -> str:
    pairs = zip(names, [float(v) for v in values], strict=True)
    return " ".join(f"{k}={v:+.3f}" if signed else f"{k}={v:.3f}" for k, v in pairs)


class EmbeddingAnalyzer(Analyzer):
    """Risk level and capabilities from a sentence embedding of the tool's documentation.

    Args:
        mode: ``zero-shot`` (cosine similarity to written class descriptions) or ``trained``
            (logistic-regression head trained with :func:`train_head`).
        head: head file for ``trained`` (default: the only ``embedding-head-*.npz`` in
            ``TCPLAB_HOME/models``).
        force: evaluate tools the head was trained on instead of refusing them.
        refuse_same_doc: in ``trained`` mode also refuse a tool whose document is identical
            to a training tool's (e.g. ``gawk`` when ``awk`` was trained on).
        batch_size: encoder batch size.
    """

    name: ClassVar[str] = "embedding"
    #: the arm answers from documentation: a run refuses to start without a corpus
    reads_documentation: ClassVar[bool] = True

    def __init__(
        self,
        mode: str = "zero-shot",
        head: str | Path | None = None,
        force: bool = False,
        refuse_same_doc: bool = True,
        batch_size: int = 32,
        threads: int | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise UsageError("embedding analyzer: threads must be a positive integer")
        self.threads = threads
        if mode not in MODES:
            raise UsageError(f"embedding analyzer: mode must be one of {', '.join(MODES)}")
        if head is not None and mode != "trained":
            raise UsageError("embedding analyzer: head= applies to mode=trained only")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise UsageError("embedding analyzer: batch_size must be a positive integer")
        self.mode = mode
        self.head_path = Path(head) if head else None
        self.force = bool(force)
        self.refuse_same_doc = bool(refuse_same_doc)
        self.batch_size = batch_size
        self._model: Any = None
        self._head: Head | None = None
        self._risk_proto: F32 | None = None
        self._cap_proto: F32 | None = None
        self._neutral: F32 | None = None
        self._identity = ModelIdentity(model_id=MODEL_ID, version=model_package_version())

    # -- lifecycle -----------------------------------------------------------------------
    def _resolve_head(self) -> Path:
        if self.head_path is not None:
            return self.head_path
        found = sorted(default_head_dir().glob("embedding-head-*.npz"))
        if len(found) == 1:
            return found[0]
        if not found:
            raise UsageError(
                f"embedding analyzer: no head in {default_head_dir()}; train one with "
                "`tcplab train-embedding` or pass -p head=FILE"
            )
        raise UsageError(
            f"embedding analyzer: {len(found)} heads in {default_head_dir()}; "
            "choose one with -p head=FILE"
        )

    def _prototype(self, sentences: Sequence[str]) -> F32:
        mean = encode(self._model, list(sentences), self.batch_size).mean(axis=0)
        out: F32 = (mean / np.linalg.norm(mean)).astype(np.float32)
        return out

    def open(self) -> None:
        if self._model is None:
            if self.threads is not None:  # e.g. 1 per worker when workers share the cores
                import torch

                torch.set_num_threads(self.threads)
            if self.mode == "trained":
                self._head = load_head(self._resolve_head())
            self._model = load_model()
            if self.mode == "zero-shot":
                self._risk_proto = np.stack(
                    [self._prototype(prompts.RISK_DESCRIPTIONS[k]) for k in _LEVELS]
                )
                self._cap_proto = np.stack(
                    [self._prototype(prompts.CAPABILITY_DESCRIPTIONS[c]) for c in CAPABILITIES]
                )
                self._neutral = self._prototype(prompts.NEUTRAL_DESCRIPTIONS)
        super().open()

    def close(self) -> None:
        self._model, self._head = None, None  # the loaded model itself stays cached
        self._risk_proto = self._cap_proto = self._neutral = None
        super().close()

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "name": self.name,
            "mode": self.mode,
            "model_id": MODEL_ID,
            "model_package": MODEL_PACKAGE,
            "model_package_version": model_package_version(),
            "sentence_transformers_version": _dist_version("sentence-transformers"),
            "torch_version": _dist_version("torch"),
            "text_recipe": TEXT_RECIPE,
            "text_body_chars": BODY_CHARS,
            "max_seq_length": 256,
            "batch_size": self.batch_size,
            "threads": self.threads,
        }
        try:
            info["model_path"] = str(model_dir())
        except ImportError:
            info["model_path"] = None
        if self.mode == "zero-shot":
            info["prompts_version"] = prompts.PROMPTS_VERSION
            info["capability_margin"] = prompts.CAPABILITY_MARGIN
            return info
        head = self._head
        if head is None:
            try:
                head = load_head(self._resolve_head())
            except UsageError:
                head = None
        info["head"] = str(head.path) if head else None
        info["head_training_set_sha256"] = head.training_set_sha256 if head else None
        info["head_training_commands"] = len(head.commands) if head else None
        info["force"] = self.force
        info["refuse_same_doc"] = self.refuse_same_doc
        return info

    # -- decisions -----------------------------------------------------------------------
    def _early(self, tool: ToolInput, text: str) -> Assessment | None:
        """The answer for a tool that is not embedded (no documentation, refused), else None."""
        if not text:
            return Assessment(
                tool=tool.name, analyzer=self.name, status=Status.OK,
                risk_level=RiskLevel.UNKNOWN, explanation="no documentation", model=self._identity,
            )  # fmt: skip
        head = self._head
        if head is None or self.force:
            return None
        why = None
        if tool.name in head.commands:
            why = f"{tool.name!r} is in the head's training set"
        elif self.refuse_same_doc and tool.doc_sha256 in head.doc_hashes:
            why = f"{tool.name!r} has the same document as a tool in the head's training set"
        if why is None:
            return None
        return failure(
            tool.name, self.name, Status.REFUSED,
            f"{why} (training_set_sha256 {head.training_set_sha256[:16]}); "
            "pass -p force=true to evaluate anyway",
            model=self._identity,
        )  # fmt: skip

    def _score(self, tools: Sequence[ToolInput], x: F32, batch: int) -> list[Assessment]:
        out: list[Assessment] = []
        if self.mode == "zero-shot":
            assert self._risk_proto is not None and self._cap_proto is not None
            assert self._neutral is not None
            sims = x @ self._risk_proto.T
            margins = x @ self._cap_proto.T - (x @ self._neutral)[:, None]
            for tool, s, m in zip(tools, sims, margins, strict=True):
                caps = tuple(
                    c for c, v in zip(CAPABILITIES, m, strict=True) if v > prompts.CAPABILITY_MARGIN
                )
                why = (
                    f"zero-shot {prompts.PROMPTS_VERSION}: cosine {_fmt(_LEVELS, s)}; "
                    f"capability margin (>{prompts.CAPABILITY_MARGIN}) "
                    f"{_fmt(CAPABILITIES, m, signed=True)}; batch n={batch}"
                )
                out.append(self._ok(tool, _LEVELS[int(np.argmax(s))], caps, why))
            return out
        head = self._head
        assert head is not None
        risk_p, cap_p = head.predict(x)
        for tool, rp, cp in zip(tools, risk_p, cap_p, strict=True):
            caps = tuple(c for c, v in zip(CAPABILITIES, cp, strict=True) if v >= 0.5)
            why = (
                f"trained head {head.training_set_sha256[:16]}: p {_fmt(head.risk_classes, rp)}; "
                f"capability p (>=0.5) {_fmt(CAPABILITIES, cp)}; batch n={batch}"
            )
            out.append(self._ok(tool, head.risk_classes[int(np.argmax(rp))], caps, why))
        return out

    def _ok(self, tool: ToolInput, level: str, caps: tuple[str, ...], why: str) -> Assessment:
        return Assessment(
            tool=tool.name, analyzer=self.name, status=Status.OK, risk_level=RiskLevel[level],
            capabilities=caps, explanation=why, model=self._identity,
        )  # fmt: skip

    def _run(self, tools: Sequence[ToolInput]) -> list[Assessment]:
        texts = [build_text(t) for t in tools]
        results: list[Assessment | None] = [
            self._early(t, s) for t, s in zip(tools, texts, strict=True)
        ]
        todo = [i for i, r in enumerate(results) if r is None]
        if todo:
            x = encode(self._model, [texts[i] for i in todo], self.batch_size)
            scored = self._score([tools[i] for i in todo], x, len(tools))
            for i, res in zip(todo, scored, strict=True):
                results[i] = res
        return [r for r in results if r is not None]

    def _analyze(self, tool: ToolInput) -> Assessment:
        return self._run([tool])[0]

    def analyze_batch(self, tools: Sequence[ToolInput]) -> list[Assessment]:
        """Analyze ``tools`` with one ``model.encode`` call; order preserved.

        Each assessment's ``timing`` is the batch's wall time divided by ``len(tools)``
        (documented tools, undocumented and refused ones alike); the explanation records the
        batch size (``batch n=...``). A failure of the batch turns every tool into an ERROR
        assessment; nothing is raised for per-tool problems.
        """
        if not tools:
            return []
        if not self._opened:
            self.open()
        t0 = time.perf_counter_ns()
        try:
            results = self._run(tools)
        except Exception as exc:  # a failed trial is data, not a crash
            return [self._guard(t, exc, t0) for t in tools]
        share = (time.perf_counter_ns() - t0) // len(tools)
        timing = Timing(service_ns=share, total_ns=share)
        return [r.with_timing(timing) for r in results]

    async def analyze_batch_async(
        self, tools: Sequence[ToolInput], *, concurrency: int = 8
    ) -> list[Assessment]:
        """Like :meth:`analyze_batch` (one encode call in a worker thread); ``concurrency``
        is ignored because one batched encode uses the CPU better than concurrent ones."""
        return await asyncio.to_thread(self.analyze_batch, list(tools))
