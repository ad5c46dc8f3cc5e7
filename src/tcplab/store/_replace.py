"""When a fetch or push meets an existing copy: compare, describe, move aside (never delete).

A copy that is replaced is renamed to ``NAME.replaced-<UTC time>`` next to it, so the user's
files and the older run's data stay where they can be found.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tcplab.store._errors import StoreError

__all__ = [
    "aside_name",
    "file_sha256",
    "install_dir",
    "local_shards",
    "local_summary",
    "manifest_shards",
    "matches_manifest",
    "summary",
]

#: Files a run directory may hold besides the manifest's objects and its shards.
_RUN_OWN = frozenset({".lock", "heartbeat"})


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def aside_name(name: str, taken: Callable[[str], bool]) -> str:
    """``NAME.replaced-YYYYMMDDTHHMMSSZ`` (with ``-N`` appended while ``taken``)."""
    base = f"{name}.replaced-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    candidate, n = base, 1
    while taken(candidate):
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def local_shards(run_dir: Path) -> dict[int, Path]:
    """``trials/shard-NNNNNN.parquet`` files by shard index."""
    out: dict[int, Path] = {}
    for path in sorted((run_dir / "trials").glob("shard-*.parquet")):
        try:
            out[int(path.stem.removeprefix("shard-"))] = path
        except ValueError:
            continue
    return out


def manifest_shards(manifest: dict[str, Any]) -> set[int]:
    """Shard indices of a manifest's ``shards/shard-SSSSSS.parquet`` and
    ``trials/arm=*/part-SSSSSS.parquet`` objects."""
    out: set[int] = set()
    for entry in manifest.get("objects", []):
        key = str(entry.get("key", "")) if isinstance(entry, dict) else ""
        name = key.rsplit("/", 1)[-1].removesuffix(".parquet")
        for folder, stem in (("trials/", "part-"), ("shards/", "shard-")):
            if key.startswith(folder) and name.startswith(stem):
                try:
                    out.add(int(name.removeprefix(stem)))
                except ValueError:
                    continue
    return out


def summary(meta: dict[str, Any], manifest: dict[str, Any]) -> str:
    """``status S, N shard(s)`` of a pushed copy."""
    status = meta.get("status", "unknown") if meta else "unknown"
    return f"status {status}, {len(manifest_shards(manifest))} shard(s)"


def local_summary(run_dir: Path) -> str:
    """``status S, N shard(s), T trial(s)`` of a local directory (or what it is instead)."""
    if not run_dir.is_dir():
        return "not a directory"
    try:
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        status = meta.get("status", "unknown") if isinstance(meta, dict) else "unknown"
    except FileNotFoundError:
        status = "no run.json"
    except (OSError, ValueError):
        status = "unreadable run.json"
    shards = local_shards(run_dir)
    rows = 0
    for path in shards.values():
        try:
            rows += pq.ParquetFile(path).metadata.num_rows
        except Exception:  # a summary for a message: an unreadable shard counts as 0
            continue
    return f"status {status}, {len(shards)} shard(s), {rows:,} trial(s)"


def _files(run_dir: Path) -> Iterable[str]:
    for path in run_dir.rglob("*"):
        if not path.is_dir():
            yield path.relative_to(run_dir).as_posix()


def _expected_files(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Local relative path → manifest entry, for the run's data a fetch writes as it is
    (``run.json``, the plan, whole shard files; not reports, which are derived)."""
    out: dict[str, dict[str, Any]] = {}
    for entry in manifest.get("objects", []):
        key = str(entry.get("key", ""))
        if key.startswith("shards/"):
            out["trials/" + key.removeprefix("shards/")] = entry
        elif not key.startswith(("trials/", "report/")):
            out[key] = entry
    return out


def matches_manifest(run_dir: Path, manifest: dict[str, Any]) -> bool:
    """True when ``run_dir`` holds the pushed run's data: ``run.json``, the plan and every
    whole shard file with the same size and SHA-256, the same shard indices, and no other
    file (``.lock``, ``heartbeat`` and ``report/``, which ``tcplab report`` rewrites, aside)."""
    if run_dir.is_symlink() or not run_dir.is_dir():
        return False
    expected = _expected_files(manifest)
    shards = local_shards(run_dir)
    if set(shards) != manifest_shards(manifest):
        return False
    allowed = set(expected) | _RUN_OWN
    allowed |= {p.relative_to(run_dir).as_posix() for p in shards.values()}
    try:
        if any(n not in allowed and not n.startswith("report/") for n in _files(run_dir)):
            return False
        for name, entry in expected.items():
            path = run_dir.joinpath(*name.split("/"))
            if not path.is_file() or path.stat().st_size != int(entry["size"]):
                return False
            if file_sha256(path) != entry["sha256"]:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def install_dir(staged: Path, target: Path) -> Path | None:
    """Move ``staged`` to ``target``; an existing ``target`` is first moved aside.

    The staged tree is moved next to ``target`` first (same file system), so the final step
    is a rename: a reader never sees a half-copied run.

    Returns:
        Where the previous ``target`` went, or None if there was none.

    Raises:
        StoreError: a move failed (the previous ``target`` is put back).
    """
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        landing = Path(tempfile.mkdtemp(prefix=f".{target.name}.fetch-", dir=parent))
    except OSError as exc:
        raise StoreError(f"cannot write to {parent}: {exc.strerror or exc}") from exc
    try:
        shutil.move(str(staged), landing / "run")
        aside: Path | None = None
        if target.exists() or target.is_symlink():
            aside = parent / aside_name(target.name, lambda n: (parent / n).exists())
            os.rename(target, aside)
        try:
            os.rename(landing / "run", target)
        except OSError:
            if aside is not None:
                os.rename(aside, target)
            raise
    except OSError as exc:
        raise StoreError(f"cannot put the run at {target}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(landing, ignore_errors=True)  # our own staging directory only
    return aside
