"""A seeded, loop-based fuzzer for the descriptor decoder, the batch validators, the streaming line
validator and the registry opener.

Inputs are random bytes and mutations of valid descriptors and registry files (bit flips, byte
rewrites, truncation, extension, splicing, rewritten header and table fields, and a re-sealed
checksum so that the structural checks behind it are reached). Every target states which errors
are allowed (tcplab's typed errors); anything else is a crash. The differential checks (numba
kernel, numpy backend and scalar path; compiled and pure-Python cold decisions; streaming and
line-by-line validation) count as crashes too when they disagree.

    python -m tests.fuzz.engine --n 1000000 --seed 1     # `make fuzz`
    python -m tests.fuzz.engine --n 100000 --json        # the CI slice (tests/fuzz)

The registry target writes each mutant (at most a few KiB) to a temporary directory and opens
it. The exit status is 1 when there was any crash; examples are printed (and kept with --out).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import struct
import sys
import tempfile
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tcplab.descriptor import (
    Reason,
    RiskLevel,
    decode,
    encode,
    lint,
    parse_hex,
    validate,
    validate_batch,
    validate_batch_numpy,
)
from tcplab.descriptor.lines import classify_line, iter_line_reasons
from tcplab.descriptor.reports import decode_report
from tcplab.errors import DecodeError, RegistryError, UsageError
from tcplab.registry import DecisionCache, Registry, export_csv, write_registry
from tcplab.registry._cold import load_native

LEVELS = [lv for lv in RiskLevel if lv is not RiskLevel.UNKNOWN]
_HEADER = struct.Struct("<8sHHIQQQQQII")
# Share of the inputs each target gets; the registry target is the slowest per input.
WEIGHTS = {"decoder": 0.55, "batch": 0.3, "lines": 0.05, "registry": 0.1}


@dataclass
class Stats:
    """What one target saw."""

    inputs: int = 0
    crashes: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def crash(self, what: str, data: bytes) -> None:
        self.crashes += 1
        if len(self.examples) < 5:
            self.examples.append(f"{what}\ninput: {data.hex()}")


class Mutator:
    """Random and mutated byte strings from a fixed seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def mutate(
        self, seed: bytes, seeds: list[bytes], max_len: int, in_place: bool = False
    ) -> bytes:
        """1-5 mutations; ``in_place`` keeps the length (flips and rewrites only)."""
        rng = self.rng
        buf = bytearray(seed)
        for _ in range(rng.choice((1, 1, 1, 2, 3, 5))):
            op = rng.choice((0, 1, 2, 5)) if in_place else rng.randrange(8)
            if op == 0 and buf:  # flip one bit
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
            elif op == 1 and buf:  # rewrite a byte with an interesting value
                buf[rng.randrange(len(buf))] = rng.choice((0, 1, 2, 0x7F, 0x80, 0xFF))
            elif op == 2 and buf:  # random byte
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            elif op == 3:  # truncate
                del buf[rng.randrange(len(buf) + 1) :]
            elif op == 4:  # extend
                buf += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
            elif op == 5 and len(buf) >= 8:  # rewrite an aligned little-endian word
                at = rng.randrange(len(buf) - 7) & ~7
                word = rng.choice((0, 1, 2, 7, 8, 2**31, 2**32 - 1, 2**63, 2**64 - 1))
                buf[at : at + 8] = word.to_bytes(8, "little")
            elif op == 6:  # splice with another seed
                other = rng.choice(seeds)
                cut = rng.randrange(min(len(buf), len(other)) + 1)
                buf = buf[:cut] + bytearray(other[cut:])
            elif op == 7 and buf:  # duplicate a slice
                a = rng.randrange(len(buf))
                b = min(len(buf), a + rng.randrange(1, 17))
                buf[a:a] = buf[a:b]
        return bytes(buf[:max_len])

    def random_bytes(self, max_len: int) -> bytes:
        return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(max_len + 1)))


def _descriptor_seeds() -> list[bytes]:
    seeds = [
        encode(f"tool-{i}", LEVELS[i % 5], exec_time_ms=i * 37 % 65536, vendor_bits=i * 911)
        for i in range(64)
    ]
    seeds.append(encode("git add", "UNKNOWN"))
    seeds.append(encode("x" * 70_000, "CRITICAL", ["DESTRUCTIVE", "REQUIRES_ROOT"]))
    return seeds


def _resealed_descriptor(raw: bytes) -> bytes:
    """Fix the checksum of a 24-byte mutant so decoding reaches its fields."""
    if len(raw) != 24:
        return raw
    return raw[:22] + (zlib.crc32(raw[:22]) & 0xFFFF).to_bytes(2, "big")


def _hex_text(rng: random.Random, raw: bytes) -> str:
    text = raw.hex()
    kind = rng.randrange(6)
    if kind == 0:
        text = text.upper()
    elif kind == 1:
        text = rng.choice(("0x", "0X", " ", "\t", "\n")) + text + rng.choice(("", " ", "\r\n"))
    elif kind == 2 and text:
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice("g xZ-é\u00a0\x00[/]😀") + text[at + 1 :]
    elif kind == 3:
        text = "".join(rng.choice("0123456789abcdefABCDEF \t") for _ in range(rng.randrange(60)))
    return text


def fuzz_decoder(n: int, rng: random.Random, stats: Stats) -> None:
    """decode / validate / lint / parse_hex / decode_report on random and mutated inputs."""
    mut, seeds = Mutator(rng), _descriptor_seeds()
    for _ in range(n):
        kind = rng.randrange(4)
        if kind == 0:
            data = mut.random_bytes(48)
        else:
            data = mut.mutate(rng.choice(seeds), seeds, 64, in_place=kind >= 2)
            if kind == 3:
                data = _resealed_descriptor(data)
        stats.inputs += 1
        try:
            _check_decoder(data, _hex_text(rng, data), stats)
        except Exception:
            stats.crash(traceback.format_exc(limit=6), data)


def _check_decoder(data: bytes, text: str, stats: Stats) -> None:
    reasons = validate(data)
    try:
        desc = decode(data)
    except DecodeError as exc:
        if list(exc.reasons) != [r.name for r in reasons] or not reasons:
            raise AssertionError(f"decode reasons {exc.reasons} != validate {reasons}") from exc
        stats.count(f"invalid:{exc.reasons[0]}")
    else:
        if reasons:
            raise AssertionError(f"decoded although validate says {reasons}")
        lint(desc)
        desc.to_json_dict()
        stats.count(f"valid:{desc.risk_level.name}")
    try:
        parsed: bytes | None = parse_hex(text)
    except DecodeError as exc:
        if not exc.reasons:
            raise AssertionError("DecodeError without reasons") from exc
        parsed = None
    report = decode_report(text)
    if report["valid"] != (parsed is not None and not validate(parsed)):
        raise AssertionError(f"decode_report valid={report['valid']} for {text!r}")
    if not report["valid"] and report["decision"] != "REQUIRE_APPROVAL":
        raise AssertionError("an invalid descriptor must require approval")
    json.dumps(report)


def fuzz_batch(n: int, rng: random.Random, stats: Stats) -> None:
    """The numba kernel and the numpy backend against the scalar path, row by row."""
    mut, seeds = Mutator(rng), _descriptor_seeds()
    done = 0
    while done < n:
        rows = min(2048, n - done)
        raws = []
        for _ in range(rows):
            raw = mut.mutate(rng.choice(seeds), seeds, 24) if rng.random() < 0.9 else b""
            raw = (raw + mut.random_bytes(24))[:24].ljust(24, b"\0")
            raws.append(_resealed_descriptor(raw) if rng.random() < 0.2 else raw)
        blob = b"".join(raws)
        arr = np.frombuffer(blob, dtype=np.uint8).reshape(rows, 24)
        done += rows
        stats.inputs += rows
        try:
            fast, slow = validate_batch(arr).reasons, validate_batch_numpy(arr).reasons
            for i, raw in enumerate(raws):
                found = validate(raw)
                want = int(found[0]) if found else 0
                if int(fast[i]) != want or int(slow[i]) != want:
                    stats.crash(f"batch {int(fast[i])} numpy {int(slow[i])} scalar {want}", raw)
                stats.count(Reason(want).name)
            odd = np.frombuffer(b"\0" + blob, dtype=np.uint8)[1:].reshape(rows, 24)
            if not np.array_equal(validate_batch(odd).reasons, fast):
                stats.crash("unaligned batch differs", blob[:24])
        except Exception:
            stats.crash(traceback.format_exc(limit=6), blob[:48])
    for bad in (np.zeros((3, 23), np.uint8), np.zeros(24, np.uint8), [[0] * 24]):
        try:
            validate_batch(bad)  # type: ignore[arg-type]
            stats.crash("a wrong shape was accepted", b"")
        except UsageError:
            pass


def _reference_lines(data: bytes) -> list[int]:
    out = []
    for line in data.splitlines():
        reason, raw = classify_line(line)
        if raw is not None:
            found = validate(raw)
            reason = int(found[0]) if found else 0
        out.append(reason)
    return out


def fuzz_lines(n: int, rng: random.Random, stats: Stats) -> None:
    """The streaming validator against the obvious line-by-line implementation."""
    mut, seeds = Mutator(rng), [s.hex().encode() + b"\n" for s in _descriptor_seeds()]
    for _ in range(n):
        data = b"".join(mut.mutate(rng.choice(seeds), seeds, 200) for _ in range(rng.randrange(6)))
        chunk, max_line = rng.choice(((1, 8), (5, 60), (64, 100), (4096, 1 << 16)))
        stats.inputs += 1
        try:
            stream = io.BytesIO(data)
            got = [r for b in iter_line_reasons(stream.read, chunk, max_line) for r in b]
            if got != _reference_lines(data):
                stats.crash(f"streamed {got} != reference (chunk {chunk})", data)
            stats.count(f"lines:{len(got)}")
        except Exception:
            stats.crash(traceback.format_exc(limit=6), data)


def _registry_seeds(tmp: Path) -> tuple[list[bytes], list[str]]:
    names: list[str] = []
    seeds = []
    for size in (0, 1, 2, 5, 17, 40):
        rows = []
        for i in range(size):
            name = ["cmd", "git add", "ünï", "[/x]", "a"][i % 5] + str(i)
            raw = encode(name, LEVELS[i % 5])
            if i % 7 == 3:
                raw = raw[:23] + bytes([raw[23] ^ 1])  # an invalid entry
            rows.append((name, raw))
            names.append(name)
        path = tmp / f"seed{size}.tcpdb"
        write_registry(path, rows)
        seeds.append(path.read_bytes())
    return seeds, sorted(set(names))


def _reseal_registry(buf: bytes) -> bytes:
    if len(buf) < 64:
        return buf
    crc = zlib.crc32(buf[64:], zlib.crc32(buf[:56]))
    return buf[:56] + crc.to_bytes(4, "little") + buf[60:]


def _header_tweak(rng: random.Random, buf: bytes) -> bytes:
    if len(buf) < 64:
        return buf
    vals = list(_HEADER.unpack_from(buf))
    slot = rng.choice((4, 5, 6, 7, 8))
    vals[slot] = rng.choice(
        (0, 1, 8, 16, vals[slot] + 1, max(vals[slot] - 1, 0), 2**32, 2**62, 2**64 - 1)
    )
    return _HEADER.pack(*vals) + buf[64:]


def fuzz_registry(n: int, rng: random.Random, stats: Stats, tmp: Path) -> None:
    """Mutated registry files, written to disk and opened, then used every way the CLI does."""
    mut = Mutator(rng)
    seeds, names = _registry_seeds(tmp)
    native = load_native(build=True) is not None
    path = tmp / "mutant.tcpdb"
    for _ in range(n):
        data = mut.mutate(rng.choice(seeds), seeds, 4096, in_place=rng.random() < 0.7)
        if rng.random() < 0.15:
            data = _header_tweak(rng, data)
        if rng.random() < 0.6:
            data = _reseal_registry(data)
        path.write_bytes(data)
        stats.inputs += 1
        try:
            stats.count(_check_registry(path, names, native, rng))
        except Exception:
            stats.crash(traceback.format_exc(limit=8), data)


def _check_registry(path: Path, names: list[str], native: bool, rng: random.Random) -> str:
    try:
        reg = Registry(path)
    except RegistryError as exc:
        reason = str(exc).split(": ")[-1].split(" (")[0]
        return "refused:" + "".join(c for c in reason if not c.isdigit())[:40]
    with reg:
        queries = [*rng.sample(names, min(8, len(names))), "", "absent", "\udcff", "x" * 99]
        slow = reg.cold_decider(native=False)
        fast = reg.cold_decider(native=True) if native else slow
        for q in queries:
            i = reg.index_of(q)
            if i >= 0 and reg.name_at(i) != q:
                raise AssertionError(f"index_of({q!r}) = {i} names {reg.name_at(i)!r}")
            if fast(q) != slow(q):
                raise AssertionError(f"cold paths differ on {q!r}: {fast(q)} vs {slow(q)}")
            reg.get_bytes(q)
        invalid = reg.invalid_entries()
        reg.info()
        for action in (
            lambda: list(reg.items()),
            lambda: export_csv(reg),
            lambda: DecisionCache(reg),
        ):
            try:
                action()
            except RegistryError:
                if not invalid:
                    raise
        export_csv(reg, allow_invalid=True)
    return "opened:invalid" if invalid else "opened:clean"


TARGETS: dict[str, Callable[..., None]] = {
    "decoder": fuzz_decoder,
    "batch": fuzz_batch,
    "lines": fuzz_lines,
    "registry": fuzz_registry,
}


def run(n: int, seed: int, targets: list[str] | None = None) -> dict[str, Stats]:
    """Run ``n`` inputs in all, shared between the targets by :data:`WEIGHTS`."""
    chosen = targets or list(TARGETS)
    total = sum(WEIGHTS[t] for t in chosen)
    results: dict[str, Stats] = {}
    with tempfile.TemporaryDirectory(prefix="tcplab-fuzz-") as tmp_s:
        for name in chosen:
            rng = random.Random(f"{seed}:{name}")
            share = max(1, round(n * WEIGHTS[name] / total))
            stats = Stats()
            t0 = time.perf_counter()
            if name == "registry":
                fuzz_registry(share, rng, stats, Path(tmp_s))
            else:
                TARGETS[name](share, rng, stats)
            stats.seconds = round(time.perf_counter() - t0, 2)
            results[name] = stats
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="inputs in all (default 10^6)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--targets", nargs="*", choices=list(TARGETS), default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON summary")
    parser.add_argument("--out", type=Path, help="directory for crash examples")
    args = parser.parse_args(argv)
    results = run(args.n, args.seed, args.targets)
    crashes = sum(s.crashes for s in results.values())
    if args.out is not None and crashes:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, s in results.items():
            for i, example in enumerate(s.examples):
                (args.out / f"{name}-{i}.txt").write_text(example)
    if args.json:
        doc = {name: s.__dict__ for name, s in results.items()}
        print(json.dumps({"seed": args.seed, "n": args.n, "targets": doc}))
    else:
        for name, s in results.items():
            print(f"{name:<9} {s.inputs:>9,} inputs  {s.crashes} crashes  {s.seconds:7.1f} s")
            for example in s.examples:
                print("  " + example.replace("\n", "\n  "))
        print(f"total     {sum(s.inputs for s in results.values()):>9,} inputs  {crashes} crashes")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
