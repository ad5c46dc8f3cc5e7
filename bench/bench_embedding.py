"""Embedding-arm benchmark (issue: embedding arm).

Throughput (tools/s) of ``EmbeddingAnalyzer.analyze_batch`` over ~200 real tool documents
versus a raw ``SentenceTransformer.encode`` of the very same texts, measured alternately in the
same run. Target: the arm reaches ≥ 0.9× the raw encoder's throughput (the arm adds text
building, scoring and assessments around one encode call).

Documents come from ``$TCPLAB_BENCH_CORPUS``, else the default corpus
(``TCPLAB_HOME/corpus/corpus.parquet``), else a fresh scan of ``/usr/bin``. Needs the ``ml``
extra. Run: ``.venv/bin/python bench/bench_embedding.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from _harness import compare, save
from tcplab.analyzers import ToolInput, default_corpus_path, to_input
from tcplab.analyzers.embedding import EmbeddingAnalyzer, build_text, load_model
from tcplab.corpus import ToolDoc, read_corpus, scan_tools

N_TOOLS = 200
REPEATS = int(os.environ.get("TCPLAB_BENCH_REPEATS", "5"))


def _documents(n: int) -> list[ToolInput]:
    env = os.environ.get("TCPLAB_BENCH_CORPUS")
    path = Path(env) if env else default_corpus_path()
    rows: list[ToolDoc] = (
        read_corpus(path) if path.exists() else list(scan_tools([Path("/usr/bin")]).rows)
    )
    inputs = [to_input(r) for r in sorted(rows, key=lambda r: r.name)]
    documented = [t for t in inputs if build_text(t)]
    step = max(1, len(documented) // n)  # spread over the alphabet, not the first 200 names
    return documented[::step][:n]


def bench_throughput() -> dict[str, Any]:
    inputs = _documents(N_TOOLS)
    texts = [build_text(t) for t in inputs]
    model = load_model()
    arm = EmbeddingAnalyzer(mode="zero-shot", batch_size=32)
    arm.open()

    def run_arm() -> float:
        t0 = time.perf_counter()
        arm.analyze_batch(inputs)
        return len(inputs) / (time.perf_counter() - t0)

    def run_raw() -> float:
        t0 = time.perf_counter()
        model.encode(texts, batch_size=32, show_progress_bar=False, convert_to_numpy=True)
        return len(texts) / (time.perf_counter() - t0)

    run_arm(), run_raw()  # warm-up (allocator, thread pools)
    res = compare(
        f"embedding analyze_batch / raw encode ({len(inputs)} docs, tools/s)",
        run_arm,
        run_raw,
        repeats=REPEATS,
        unit="tools/s",
        higher_is_better=True,
    )
    res["n_tools"] = len(inputs)
    res["mean_text_chars"] = sum(map(len, texts)) / len(texts)
    arm.close()
    return res


def main() -> list[dict[str, Any]]:
    results = [bench_throughput()]
    save("embedding", results)
    return results


if __name__ == "__main__":
    from _harness import report

    report(main())
