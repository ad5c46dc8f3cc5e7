"""Building registries from CSV and deciding from them (cold and cached paths)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path

from tcplab.descriptor import (
    Decision,
    RiskLevel,
    command_hash,
    decide,
    parse_hex,
    unpack,
    validate,
)
from tcplab.errors import DecodeError, RegistryBuildError, RegistryFormatError, UsageError
from tcplab.registry._file import Registry, write_registry

__all__ = [
    "DecisionCache",
    "build_from_csv",
    "check_rows",
    "decide_cold",
    "export_csv",
]

_REQUIRED = ("command", "hex")


def check_rows(rows: Iterable[tuple[int, str, str]]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Check ``(line, command, hex)`` rows; return the good entries and every problem found.

    A row is refused when the hex is not a valid descriptor, when the descriptor's command hash
    or length does not match the command, when the command is empty, or when it repeats.
    """
    good: list[tuple[str, bytes]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for line, command, hex_text in rows:
        if not command.strip():
            problems.append(f"line {line}: empty command")
            continue
        if command in seen:
            problems.append(
                f"line {line}: duplicate command {command!r} (first on line {seen[command]})"
            )
            continue
        seen[command] = line
        try:
            raw = parse_hex(hex_text)
        except DecodeError as exc:
            problems.append(f"line {line}: {command!r}: {exc} [{', '.join(exc.reasons)}]")
            continue
        reasons = validate(raw)
        if reasons:
            problems.append(
                f"line {line}: {command!r}: invalid descriptor "
                f"[{', '.join(r.name for r in reasons)}]"
            )
            continue
        desc = unpack(raw)
        if desc.command_hash != command_hash(command):
            problems.append(
                f"line {line}: {command!r}: descriptor hash {desc.command_hash.hex()} does not "
                f"match md5(command)[:4] = {command_hash(command).hex()} [HASH_MISMATCH]"
            )
            continue
        if desc.command_length != min(len(command.encode("utf-8")), 0xFFFF):
            problems.append(
                f"line {line}: {command!r}: command_length {desc.command_length} does not match "
                f"the command [LENGTH_MISMATCH]"
            )
            continue
        good.append((command, raw))
    return good, problems


def _read_csv(path: Path) -> list[tuple[int, str, str]]:
    try:
        text = path.read_text(encoding="utf-8") if str(path) != "-" else ""
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{path}: is a directory, not a CSV file") from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    missing = [c for c in _REQUIRED if c not in fields]
    if missing:
        raise UsageError(
            f"{path}: CSV header must have columns command,hex; missing {', '.join(missing)} "
            f"(found: {', '.join(fields) or 'nothing'})"
        )
    rows: list[tuple[int, str, str]] = []
    for rec in reader:
        rows.append((reader.line_num, rec.get("command") or "", rec.get("hex") or ""))
    return rows


def build_from_csv(csv_path: str | os.PathLike[str], out: str | os.PathLike[str]) -> int:
    """Build ``out`` (.tcpdb) from a ``command,hex`` CSV; return the entry count.

    Nothing is written unless every row is valid.

    Raises:
        RegistryBuildError: some rows were refused; ``problems`` names each with its line number.
        UsageError: the CSV cannot be read or lacks the required columns.
    """
    rows = _read_csv(Path(csv_path))
    good, problems = check_rows(rows)
    if problems:
        raise RegistryBuildError(
            f"{csv_path}: {len(problems)} of {len(rows)} rows refused; nothing was written",
            problems,
        )
    return write_registry(out, good)


def export_csv(
    registry: Registry, out: io.TextIOBase | None = None, *, allow_invalid: bool = False
) -> str:
    """The registry as ``command,hex`` CSV text (round-trips through :func:`build_from_csv`).

    Entries that cannot be trusted (:meth:`Registry.invalid_entries`) are refused: nothing is
    written. With ``allow_invalid=True`` every row is written with a third column,
    ``problems``, that flags them (empty for good rows).

    Raises:
        RegistryFormatError: some entries are invalid and ``allow_invalid`` is false; the
            message names up to five of them.
    """
    invalid = {i: problems for i, _name, problems in registry.invalid_entries()}
    if invalid and not allow_invalid:
        first = [
            f"{registry.name_bytes_at(i).decode('utf-8', 'replace')!r} [{', '.join(problems)}]"
            for i, problems in list(invalid.items())[:5]
        ]
        raise RegistryFormatError(
            f"{registry.path}: {len(invalid)} of {len(registry)} entries are invalid "
            f"(first: {'; '.join(first)}); nothing exported (--allow-invalid flags them)"
        )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow((*_REQUIRED, "problems") if allow_invalid else _REQUIRED)
    for i in range(len(registry)):
        name = registry.name_bytes_at(i).decode("utf-8", "replace")
        row: tuple[str, ...] = (name, registry.bytes_at(i).hex())
        if allow_invalid:
            row = (*row, " ".join(invalid.get(i, ())))
        writer.writerow(row)
    text = buf.getvalue()
    if out is not None:
        out.write(text)
    return text


def decide_cold(registry: Registry, command: str) -> tuple[RiskLevel, Decision]:
    """Cold path: look up the 24 bytes, validate them, decode the risk, apply the policy.

    Validation is the full structural check (magic, version, CRC); decoding reads the risk bits
    (highest wins). Unknown commands and invalid descriptors are UNKNOWN → REQUIRE_APPROVAL.
    This calls :meth:`Registry.decide_cold` (compiled when available); bind that method once
    (``decide = registry.decide_cold``) to save a call per decision.
    """
    return registry.decide_cold(command)


class _DecisionMap(dict[str, Decision]):
    def __missing__(self, key: str) -> Decision:
        return Decision.REQUIRE_APPROVAL


class DecisionCache:
    """Cached path: the registry verified once at load, then one hash-map probe per decision.

    ``decide(name)`` is the bound ``__getitem__`` of a dict of pre-computed decisions; names
    the registry lacks give ``REQUIRE_APPROVAL`` (UNKNOWN, fail closed).

    Raises:
        RegistryFormatError: on load, when any entry is not a valid descriptor.
    """

    def __init__(self, registry: Registry) -> None:
        from tcplab.descriptor import validate_batch

        arr = registry.descriptor_array()
        result = validate_batch(arr)
        if not result.valid.all():
            bad = [registry.name_at(int(i)) for i in (~result.valid).nonzero()[0][:5]]
            raise RegistryFormatError(
                f"{registry.path}: {int((~result.valid).sum())} invalid descriptors "
                f"(first: {', '.join(bad)}); rebuild the registry"
            )
        self.levels: dict[str, RiskLevel] = {}
        decisions = _DecisionMap()
        for i in range(len(registry)):
            name = registry.name_at(i)
            level = unpack(registry.bytes_at(i)).risk_level
            self.levels[name] = level
            decisions[name] = decide(level)
        self._decisions = decisions
        self.decide = decisions.__getitem__

    def risk(self, command: str) -> RiskLevel:
        """Risk level of ``command`` (UNKNOWN when absent)."""
        return self.levels.get(command, RiskLevel.UNKNOWN)

    def __len__(self) -> int:
        return len(self._decisions)
