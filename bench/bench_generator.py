"""Descriptor generator benchmarks (issue 15 §4).

(a) generation of every tool of a corpus: each learned generator vs ``rules`` in the same run
    (the ratio), in three states: ``warm`` (embeddings and trained model cached: a second
    generation), ``retrain`` (embeddings cached, model retrained with CV: ``--no-cache``) and,
    with ``--cold``, ``cold`` (empty caches: every documented tool embedded with MiniLM on the
    CPU, torch's default threads) plus ``cold-1thread`` for ``ordinal`` (one encoding thread;
    same levels, last-bit embedding differences, see docs/generators.md). Each entry records
    the CPU seconds (user + system, this process) beside the wall seconds, and the load
    average before and after: on shared cores the wall time is mostly waiting.
(b) cached decision: ``DecisionCache.decide`` on a learned generator's registry vs on the rules
    registry, interleaved; target ratio ≈ 1 (same registry format, same dict probe).

Usage: ``python bench/bench_generator.py --corpus CORPUS [--cold] [--no-decide]`` (default corpus:
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


def _generate(name: str, corpus: Path, out: Path, cache: Path, **ctx: Any) -> dict[str, Any]:
    tools = read_corpus(corpus)
    load0, c0, t0 = os.getloadavg()[0], time.process_time(), time.perf_counter()
    gen = get_generator(name, GeneratorContext(cache_dir=cache, **ctx))
    res = generate_registry(tools, out, generator=gen)
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
            "load_before": load0, "load_after": os.getloadavg()[0],
            "model": (res.info or {}).get("model_cache")}  # fmt: skip


def _entry(name: str, run: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, **run, "rules_seconds": rules["seconds"],
            "ratio": run["seconds"] / rules["seconds"]}  # fmt: skip


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
    ap.add_argument("--no-decide", action="store_true", help="skip (b), the cached decision")
    args = ap.parse_args()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        cache = tmp / "cache"
        rules = _generate("rules", args.corpus, tmp / "rules.tcpdb", cache)
        if args.cold:
            for label, ctx in (("cold", {}), ("cold-1thread", {"threads": 1})):
                run = _generate("ordinal", args.corpus, tmp / "cold.tcpdb", tmp / label, **ctx)
                results.append(_entry(f"generate-ordinal-{label}", run, rules))
        for name in LEARNED:
            out = tmp / f"{name}.tcpdb"
            _generate(name, args.corpus, out, cache)  # fill the caches
            retrain = _generate(name, args.corpus, out, cache, model_cache=False)
            results.append(_entry(f"generate-{name}-retrain", retrain, rules))
            warm = _generate(name, args.corpus, out, cache)
            results.append(_entry(f"generate-{name}-warm", warm, rules))
        if not args.no_decide:
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
