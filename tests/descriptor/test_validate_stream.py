"""``descriptor validate`` streams its input: same verdicts as line-by-line, constant memory."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

from tcplab.descriptor import Reason, RiskLevel, encode, validate
from tcplab.descriptor.lines import classify_line, iter_line_reasons

from ..conftest import TCPLAB

LEVELS = [lv for lv in RiskLevel if lv is not RiskLevel.UNKNOWN]


def reference(data: bytes) -> list[int]:
    """The obvious, unbounded implementation: split everything, classify, validate."""
    out = []
    for line in data.splitlines():
        reason, raw = classify_line(line)
        if raw is not None:
            found = validate(raw)
            reason = int(found[0]) if found else 0
        out.append(reason)
    return out


def streamed(data: bytes, chunk: int, max_line: int) -> list[int]:
    stream = io.BytesIO(data)
    return [r for batch in iter_line_reasons(stream.read, chunk, max_line) for r in batch]


def _random_line(rng: random.Random) -> bytes:
    good = encode(f"t{rng.randrange(99)}", rng.choice(LEVELS)).hex()
    kind = rng.randrange(10)
    if kind == 0:
        return good.upper().encode()
    if kind == 1:
        return b"  \t" + good.encode() + b" \x0b"
    if kind == 2:
        return (good[:10] + " " + good[11:]).encode()
    if kind == 3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(60)))
    if kind == 4:
        return b" " * rng.randrange(200) + good.encode() + b"\t" * rng.randrange(200)
    if kind == 5:
        return (good * rng.randint(2, 40)).encode()
    if kind == 6:
        flipped = bytearray(bytes.fromhex(good))
        flipped[rng.randrange(24)] ^= 1 << rng.randrange(8)
        return flipped.hex().encode()
    return good.encode()


def test_streaming_matches_the_line_by_line_reference_at_every_chunk_size() -> None:
    rng = random.Random(11)
    for trial in range(120):
        lines = [_random_line(rng) for _ in range(rng.randrange(1, 40))]
        seps = [rng.choice([b"\n", b"\r\n", b"\r", b"\n\n"]) for _ in lines]
        data = b"".join(line + sep for line, sep in zip(lines, seps, strict=True))
        if trial % 3 == 0:
            data = data.rstrip(b"\r\n")  # no final line break
        expected = reference(data)
        for chunk, max_line in ((1, 8), (7, 16), (64, 50), (4096, 1 << 16)):
            assert streamed(data, chunk, max_line) == expected, (trial, chunk, max_line)


def test_long_lines_are_followed_in_pieces_with_the_same_verdict() -> None:
    good = encode("ls", "SAFE").hex().encode()
    cases = [
        b" " * 5000 + good + b" " * 5000,  # valid, once stripped
        b" " * 5000 + good[:20] + b" " + good[20:] + b" " * 100,  # inner space: HEX
        b"0" * 10_000,  # hex digits, wrong length: LENGTH
        b"0" * 9_999 + b"g",  # HEX
        b"\t" * 10_000,  # blank: LENGTH
        b" " * 5000 + good[:-1] + b"\r",
    ]
    for case in cases:
        for sep in (b"\n", b"\r\n", b"\r", b""):
            data = case + sep + good + b"\n"
            assert streamed(data, 64, 100) == reference(data), (case[:8], sep)


def test_cli_validate_output_format_is_unchanged(tmp_path: Path) -> None:
    good = encode("ls", "SAFE").hex()
    path = tmp_path / "in.txt"
    path.write_bytes(f"{good}\r\nzz\r\n\r\n{good[:-2]}00".encode())
    res = subprocess.run(
        [str(TCPLAB), "descriptor", "validate", "--input", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1
    assert res.stdout.splitlines() == [
        '{"line": 1, "valid": true, "reason": null}',
        '{"line": 2, "valid": false, "reason": "HEX"}',
        '{"line": 3, "valid": false, "reason": "LENGTH"}',
        '{"line": 4, "valid": false, "reason": "CHECKSUM"}',
    ]
    res = subprocess.run(
        [str(TCPLAB), "descriptor", "validate", "--input", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "is a directory" in res.stderr


_PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "with open(sys.argv[2], 'rb') as fh:\n"
    "    proc = subprocess.run([sys.argv[1], 'descriptor', 'validate', '--input', '-'],\n"
    "                          stdin=fh, stdout=subprocess.DEVNULL)\n"
    "print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _peak_rss_kib(path: Path) -> tuple[int, int]:
    """Exit code and peak RSS (KiB) of `tcplab descriptor validate` run by a fresh parent."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, str(TCPLAB), str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout.split()
    return int(out[0]), int(out[1])


def _lines_file(path: Path, blocks: int) -> int:
    rows = [encode(f"tool-{i}", LEVELS[i % 5]).hex() for i in range(1000)]
    rows[500] = rows[500][:-2] + "00"  # one bad line so every line is reported
    block = ("\n".join(rows) + "\n").encode()
    with path.open("wb") as fh:
        for _ in range(blocks):
            fh.write(block)
    return path.stat().st_size


def test_validate_memory_does_not_grow_with_the_input(tmp_path: Path) -> None:
    medium_bytes = _lines_file(tmp_path / "medium.txt", 160)  # 160,000 lines, 8 MB
    big_bytes = _lines_file(tmp_path / "big.txt", 800)  # 800,000 lines, 39 MB
    rc_medium, rss_medium = _peak_rss_kib(tmp_path / "medium.txt")
    rc_big, rss_big = _peak_rss_kib(tmp_path / "big.txt")
    assert rc_medium == rc_big == 1
    extra_input_kib = (big_bytes - medium_bytes) // 1024
    growth = rss_big - rss_medium
    # Reading the input whole cost ~10x its size (31 MB more input: ~300 MB more RSS);
    # streaming holds one chunk at a time, so 5x more input must not cost more memory.
    assert growth < extra_input_kib // 8, f"RSS grew {growth} KiB for {extra_input_kib} KiB more"
    assert rss_big < 4 * 1024 * 1024, rss_big  # and no absurd baseline either (4 GiB)


def test_validate_lines_are_numbered_across_chunks(tmp_path: Path) -> None:
    good = encode("ls", "SAFE").hex()
    n = 60_000  # about 3 MB: several 1 MiB chunks
    path = tmp_path / "many.txt"
    path.write_text("\n".join([good] * (n - 1) + ["nothex"]) + "\n")
    res = subprocess.run(
        [str(TCPLAB), "descriptor", "validate", "--input", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert len(lines) == n
    assert json.loads(lines[-1]) == {"line": n, "valid": False, "reason": Reason.HEX.name}
    assert json.loads(lines[12345]) == {"line": 12346, "valid": True, "reason": None}
