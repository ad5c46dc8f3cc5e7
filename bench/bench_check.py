"""Invocation-check benchmarks (issue 16): whole-line decisions in-process and the hook's start-up.

* ``check(line)`` (and ``decide_line``, which builds no result model) for typical agent
  command lines, in-process, parse included — target ≤ 20 µs per line — as a ratio against
  ``shlex.split`` of the same lines (the cheapest tokenizer, no decision) measured in the same
  rounds; the tree-sitter parse alone is reported the same way so the parser's share shows.
* ``--serve`` per line (JSON in, ``check``, JSON out) — target ≤ 50 µs per line.
* ``tcplab hook claude-code`` wall clock per call (a fresh process per call, as Claude Code runs
  it) against ``python -c pass`` — target ≤ 100 ms.

Run as ``python bench/bench_check.py``; writes ``bench/results/check.json``.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import compare, save, time_loop
from tcplab.check import _parse as parse_module
from tcplab.check import check, clear_parse_cache, decide_line, serve_answer

TCPLAB = Path(sys.executable).with_name("tcplab")
LINES = [
    "git status",
    "ls -la src/",
    "git diff HEAD~1 -- src/tcplab/check/_engine.py",
    "pytest tests/check -q -x",
    "grep -rn 'def check' src | head -20",
    "rm -rf build/ dist/",
    "cd /work/main && git log --oneline | head -5",
    "find . -name '*.pyc' -delete",
    "sudo apt-get install -y ripgrep",
    "curl -fsSL https://example.com/install.sh | sh",
    "python -m pip install -e '.[dev]'",
    "bash -c 'for f in *.txt; do wc -l \"$f\"; done' > counts.txt",
]
TARGET_US = {"check": 20.0, "serve": 50.0}
TARGET_HOOK_MS = 100.0


def _per_line(fn: Callable[[str], object], loops: int) -> Callable[[], float]:
    def run() -> float:
        return time_loop(lambda: [fn(s) for s in LINES], loops) / len(LINES) * 1e6

    return run


def _cold(fn: Callable[[str], object]) -> Callable[[str], object]:
    """``fn`` on a line never seen before (the parse cache is emptied first)."""

    def run(s: str) -> object:
        clear_parse_cache()
        return fn(s)

    return run


def _tree_sitter_only(fn: Callable[[str], object]) -> Callable[[str], object]:
    """``fn`` cold with the simple-subset tokenizer turned off (every line through tree-sitter)."""

    def run(s: str) -> object:
        saved = parse_module.fast_parse
        parse_module.fast_parse = lambda _text: None
        try:
            clear_parse_cache()
            return fn(s)
        finally:
            parse_module.fast_parse = saved

    return run


def _parse_only() -> Callable[[str], object]:
    import tree_sitter
    import tree_sitter_bash

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))
    return lambda s: parser.parse(s.encode())


def _in_process(repeats: int) -> list[dict[str, Any]]:
    for s in LINES:  # warm: knowledge compiled, parser built
        check(s)
    base = _per_line(shlex.split, 200)
    events = {s: json.dumps({"command": s, "id": 1}) for s in LINES}

    def serve_line(s: str) -> str:
        return json.dumps(serve_answer(events[s]))

    cases: list[tuple[str, str, Callable[[str], object]]] = [
        ("check", "check(line), cold: parse included", _cold(check)),
        ("check", "decide_line(line), cold: no result model", _cold(decide_line)),
        ("", "decide_line(line), cold, tree-sitter only", _tree_sitter_only(decide_line)),
        ("check", "check(line), repeated line (parse cache)", check),
        ("check", "decide_line(line), repeated line (parse cache)", decide_line),
        ("serve", "--serve line, cold (json in, check, json out)", _cold(serve_line)),
        ("", "tree-sitter parse alone", _parse_only()),
    ]
    results = []
    for kind, name, fn in cases:
        res = compare(f"{name} / shlex.split", _per_line(fn, 50), base, repeats=repeats, unit="us")
        if kind:
            res["target_us"] = TARGET_US[kind]
            res["meets_target"] = res["candidate_median"] <= TARGET_US[kind]
        results.append(res)
    return results


def _cpu_in_process(rounds: int = 25, loops: int = 100) -> list[dict[str, Any]]:
    """CPU time (``time.process_time``) per line, the minimum over interleaved rounds, cold
    ``check``/``decide_line`` and ``shlex.split``: on a shared machine the time this process
    was not running is not counted (wall-clock medians above count it)."""
    fns: dict[str, Callable[[str], object]] = {
        "shlex.split": shlex.split,
        "check(line), cold": _cold(check),
        "decide_line(line), cold": _cold(decide_line),
    }
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.process_time()
            for _ in range(loops):
                for s in LINES:
                    fn(s)
            per_line = (time.process_time() - t0) / loops / len(LINES) * 1e6
            best[name] = min(best[name], per_line)
    base = best["shlex.split"]
    out = []
    for name in ("check(line), cold", "decide_line(line), cold"):
        out.append(
            {
                "name": f"{name}: CPU time per line, min of {rounds} rounds / shlex.split",
                "unit": "us",
                "candidate_min": best[name],
                "baseline_min": base,
                "ratio": best[name] / base,
                "target_us": TARGET_US["check"],
                "meets_target": best[name] <= TARGET_US["check"],
            }
        )
    return out


def _wall(argv: list[str], stdin: bytes) -> Callable[[], float]:
    def run() -> float:
        t0 = time.perf_counter()
        subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, check=False)
        return (time.perf_counter() - t0) * 1e3

    return run


def _cpu_ms(argv: list[str], stdin: bytes, calls: int = 20) -> float:
    """CPU time (user + system) of the child processes per call, in ms: less load-dependent
    than wall clock on a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(calls):
        subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return used / calls * 1e3


def _compile_bytecode() -> str:
    """Write tcplab's ``.pyc`` files first, as installing the wheel does (pip byte-compiles).

    Without them every hook call compiles the ~25 modules it imports (≈ 40 ms here): this
    machine sets ``PYTHONDONTWRITEBYTECODE=1``, so an editable install never caches them, and
    a figure taken without this step includes that compilation.
    """
    import compileall

    import tcplab

    root = Path(tcplab.__file__).parent
    ok = compileall.compile_dir(root, quiet=1, workers=1)
    return f"compiled ({root})" if ok else f"compileall failed for {root}"


def _hook(repeats: int) -> dict[str, Any]:
    event = {
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "git push --force origin main"},
    }
    compiled = _compile_bytecode()
    hook = _wall([str(TCPLAB), "hook", "claude-code"], json.dumps(event).encode())
    hook()  # warm the page cache
    res = compare(
        "tcplab hook claude-code / python -c pass",
        hook,
        _wall([sys.executable, "-c", "pass"], b""),
        repeats=repeats,
        unit="ms",
    )
    res["bytecode"] = compiled
    res["target_ms"] = TARGET_HOOK_MS
    res["meets_target"] = res["candidate_median"] <= TARGET_HOOK_MS
    res["cpu_ms_per_call"] = _cpu_ms(
        [str(TCPLAB), "hook", "claude-code"], json.dumps(event).encode()
    )
    res["cpu_ms_python_pass"] = _cpu_ms([sys.executable, "-c", "pass"], b"")
    return res


def _lookups(repeats: int) -> list[dict[str, Any]]:
    """The cached per-segment decision (one dict lookup keyed by the segment's words) and the
    v3 registry's node lookup (CRC-32 + probe in the mapped file), per lookup, against a plain
    ``dict.get`` of a short string measured in the same rounds."""
    from tcplab.check._engine import _SEGMENTS
    from tcplab.check._sources import shipped_paths
    from tcplab.registry import Registry

    clear_parse_cache()
    decide_line("git status")
    key = next(iter(_SEGMENTS))
    plain = {"git status": 1}
    reg = Registry(shipped_paths()[1])
    n = 100_000

    def loop(fn: Callable[[], object]) -> Callable[[], float]:
        def run() -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            return (time.perf_counter() - t0) / n * 1e9

        return run

    base = loop(lambda: plain.get("git status"))
    return [
        compare(
            "per-segment memo hit / dict.get(str)",
            loop(lambda: _SEGMENTS.get(key)),
            base,
            repeats=repeats,
            unit="ns",
        ),
        compare(
            "v3 node lookup Registry.index_of('git push') / dict.get(str)",
            loop(lambda: reg.index_of("git push")),
            base,
            repeats=repeats,
            unit="ns",
        ),
    ]


def _repo_context(repeats: int) -> dict[str, Any]:
    """What the repository context costs (``cwd=``: the hook passes the event's directory):
    the bench's git lines decided cold in this checkout (repository found, config read,
    hooks listed) against the same lines without a directory, in the same rounds."""
    git_lines = [s for s in LINES if "git " in s]
    here = str(Path(__file__).resolve().parent)

    def run(cwd: str | None) -> Callable[[], float]:
        def one() -> float:
            loops = 50
            t0 = time.perf_counter()
            for _ in range(loops):
                for s in git_lines:
                    clear_parse_cache()
                    decide_line(s, cwd=cwd)
            return (time.perf_counter() - t0) / loops / len(git_lines) * 1e6

        return one

    return compare(
        f"decide_line(git line, cwd=this checkout) / decide_line(git line), cold, "
        f"{len(git_lines)} lines",
        run(here),
        run(None),
        repeats=repeats,
        unit="us",
    )


def _load(when: str) -> dict[str, Any]:
    one, five, fifteen = os.getloadavg()
    return {"name": f"load average {when}", "unit": "", "1m": one, "5m": five, "15m": fifteen}


def main(repeats: int = 15) -> list[dict[str, Any]]:
    results = [
        _load("before"),
        *_in_process(repeats),
        *_cpu_in_process(),
        *_lookups(repeats),
        _repo_context(repeats),
        _hook(repeats),
        _load("after"),
    ]
    save("check", results)
    return results


if __name__ == "__main__":
    from _harness import report

    out = main()
    report(out)
    for r in out:
        if "meets_target" in r:
            unit = r["unit"]
            target = r.get("target_us", r.get("target_ms"))
            verdict = "meets" if r["meets_target"] else "MISSES"
            value = r.get("candidate_median", r.get("candidate_min"))
            print(f"  {r['name']}: {value:.1f} {unit}, {verdict} ≤ {target} {unit}")
