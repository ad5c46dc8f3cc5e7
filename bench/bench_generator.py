"""Descriptor generator benchmarks (issue 15 §4).

(a) generation of every tool of a corpus: each learned generator vs ``rules`` in the same run,
    with the embedding cache warm (second run) and, with ``--cold``, empty (first run: every
    documented tool is embedded with MiniLM on the CPU). Reports seconds and the ratio.
(b) cached decision: ``DecisionCache.decide`` on a learned generator's registry vs on the rules
    registry, interleaved; target ratio ≈ 1 (same registry format, same dict probe).

Usage: ``python bench/bench_generator.py --corpus CORPUS [--cold]`` (default corpus:
TCPLAB_HOME/corpus/corpus.parquet). Prints JSON and writes ``bench/results/generator.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import compare, save, time_loop
from tcplab.config import get_settings
from tcplab.corpus import read_corpus
from tcplab.generator import GeneratorContext, generate_registry, get_generator
from tcplab.registry import DecisionCache, Registry

LEARNED = ("ordinal", "knn", "ensemble")


def _generate(name: str, corpus: Path, out: Path, cache: Path) -> float:
    tools = read_corpus(corpus)
    t0 = time.perf_counter()
    generate_registry(tools, out, generator=get_generator(name, GeneratorContext(cache_dir=cache)))
    return time.perf_counter() - t0


def _decide_ns(reg_path: Path, names: list[str]) -> float:
    with Registry(reg_path) as reg:
        cache = DecisionCache(reg)
    decide = cache.decide
    k = len(names)

    def loop() -> None:
        for n in names:
            decide(n)

    return time_loop(loop, 200) / k * 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=get_settings().corpus_dir / "corpus.parquet")
    ap.add_argument("--cold", action="store_true", help="also time a first run (empty cache)")
    args = ap.parse_args()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        cache = tmp / "cache"
        rules_s = _generate("rules", args.corpus, tmp / "rules.tcpdb", cache)
        for name in LEARNED:
            if args.cold:
                cold = _generate(name, args.corpus, tmp / f"{name}.tcpdb", tmp / f"cold-{name}")
                results.append({"name": f"generate-{name}-cold", "seconds": cold,
                                "rules_seconds": rules_s, "ratio": cold / rules_s})  # fmt: skip
            _generate(name, args.corpus, tmp / f"{name}.tcpdb", cache)  # fill the cache
            warm = _generate(name, args.corpus, tmp / f"{name}.tcpdb", cache)
            results.append({"name": f"generate-{name}-warm", "seconds": warm,
                            "rules_seconds": rules_s, "ratio": warm / rules_s})  # fmt: skip
        with Registry(tmp / "rules.tcpdb") as reg:
            names = [reg.name_at(i) for i in range(len(reg))]
        res = compare(
            "cached-decision-ensemble-vs-rules",
            lambda: _decide_ns(tmp / "ensemble.tcpdb", names),
            lambda: _decide_ns(tmp / "rules.tcpdb", names),
            repeats=9,
            unit="ns",
        )
        results.append(res)
    results.append({"name": "load_average", "value": list(os.getloadavg())})
    save("generator", results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
