"""Push a run to an artifact store and fetch it back, with a SHA-256 manifest.

Layout under the store root::

    runs/RUN_ID/run.json
    runs/RUN_ID/plan.parquet                       (if the run has one)
    runs/RUN_ID/report/...                         (every file under RUN_DIR/report/)
    runs/RUN_ID/trials/arm=NAME/part-SSSSSS.parquet  (shard SSSSSS's trials of arm NAME)
    runs/RUN_ID/manifest.json                      (written last)

Trial parts follow Hive partitioning: the ``arm`` column lives in the path (percent-encoded),
not in the file. ``manifest.json`` lists the SHA-256 and size of every other object; fetching
verifies each one and rebuilds the standard run directory (``trials/shard-NNNNNN.parquet``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tcplab.errors import UsageError
from tcplab.experiment.trials import TRIAL_SCHEMA, write_shard
from tcplab.store._artifacts import ArtifactStore, check_key, open_artifacts
from tcplab.store._errors import ArtifactIntegrityError
from tcplab.store._sync import read_run_meta, resolve_run_dir

__all__ = ["MANIFEST", "fetch_run", "push_run", "verify_object"]

MANIFEST = "manifest.json"
NULL_ARM = "__HIVE_DEFAULT_PARTITION__"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _trial_parts(run_dir: Path, tmp: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted((run_dir / "trials").glob("shard-*.parquet")):
        shard = int(path.stem.split("-")[1])
        table = pq.read_table(path)
        for arm in pc.unique(table["arm"]).to_pylist():
            mask = pc.is_null(table["arm"]) if arm is None else pc.equal(table["arm"], arm)
            part = table.filter(mask).drop_columns(["arm"])
            name = NULL_ARM if arm is None else quote(arm, safe="")
            key = f"trials/arm={name}/part-{shard:06d}.parquet"
            out = tmp / key.replace("/", "__")
            pq.write_table(part, out, compression="zstd")
            yield key, out


def _local_objects(run_dir: Path, tmp: Path) -> Iterator[tuple[str, Path]]:
    yield "run.json", run_dir / "run.json"
    if (run_dir / "plan.parquet").is_file():
        yield "plan.parquet", run_dir / "plan.parquet"
    report = run_dir / "report"
    if report.is_dir():
        for path in sorted(p for p in report.rglob("*") if p.is_file()):
            yield f"report/{path.relative_to(report).as_posix()}", path
    yield from _trial_parts(run_dir, tmp)


def push_run(run: str | Path, url: str | None = None) -> str:
    """Upload a run (id or directory) to the artifact store at ``url``.

    Returns:
        The URL of the pushed run (``URL/runs/RUN_ID``), which :func:`fetch_run` takes.

    Raises:
        UsageError: not a run. StoreError (and subclasses): the store failed.
    """
    run_dir = resolve_run_dir(run)
    run_id = str(read_run_meta(run_dir)["run_id"])
    store = open_artifacts(url).child(f"runs/{check_key(run_id)}")
    objects: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tcplab-push-") as tmp_s:
        for key, path in _local_objects(run_dir, Path(tmp_s)):
            objects.append({"key": key, "sha256": _sha256(path), "size": path.stat().st_size})
            store.put_file(key, path)
    manifest = {
        "schema_version": 1,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(),
        "layout": "tcplab-run/1",
        "objects": objects,
    }
    store.put_bytes(MANIFEST, json.dumps(manifest, indent=2).encode())
    return store.url


def verify_object(store: ArtifactStore, entry: dict[str, Any], dest: Path) -> None:
    """Download one manifest entry to ``dest`` and check its size and SHA-256.

    Raises:
        ArtifactIntegrityError: size or SHA-256 differs from the manifest.
    """
    key = check_key(str(entry["key"]))
    store.get_file(key, dest)
    size, digest = dest.stat().st_size, _sha256(dest)
    if size != int(entry["size"]) or digest != entry["sha256"]:
        raise ArtifactIntegrityError(
            f"{store.url}/{key}: does not match manifest.json (size {size} vs "
            f"{entry['size']}, sha256 {digest[:12]}… vs {str(entry['sha256'])[:12]}…)"
        )


def _read_manifest(store: ArtifactStore) -> dict[str, Any]:
    try:
        manifest = json.loads(store.get_bytes(MANIFEST))
        objects = manifest["objects"]
        if not isinstance(objects, list):
            raise TypeError("objects is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactIntegrityError(
            f"{store.url}/{MANIFEST}: not a valid manifest: {exc}"
        ) from exc
    return dict(manifest)


def _rebuild_shards(parts: dict[int, list[tuple[str | None, Path]]], run_dir: Path) -> None:
    for shard, pieces in sorted(parts.items()):
        tables = []
        for arm, path in pieces:
            table = pq.read_table(path)
            tables.append(table.append_column("arm", pa.array([arm] * table.num_rows, pa.string())))
        merged = pa.concat_tables(tables, promote_options="default").select(TRIAL_SCHEMA.names)
        merged = merged.cast(TRIAL_SCHEMA).sort_by("seq")
        write_shard(run_dir, shard, merged)


def fetch_run(url: str, dest_dir: Path | str) -> Path:
    """Download a pushed run (``.../runs/RUN_ID``), verify it, rebuild its run directory.

    Every object is checked against ``manifest.json`` before anything is written to
    ``dest_dir/RUN_ID``; the trial parts become ``trials/shard-NNNNNN.parquet`` again.

    Returns:
        The run directory (``dest_dir/RUN_ID``).

    Raises:
        ArtifactIntegrityError: an object differs from the manifest, or the manifest is bad.
        StoreError (and subclasses): the store failed.
    """
    store = open_artifacts(url.rstrip("/"))
    manifest = _read_manifest(store)
    run_id = check_key(str(manifest.get("run_id", "")) or "unknown")
    run_dir = Path(dest_dir).expanduser() / run_id
    with tempfile.TemporaryDirectory(prefix="tcplab-fetch-") as tmp_s:
        tmp = Path(tmp_s)
        staged = tmp / "run"
        parts: dict[int, list[tuple[str | None, Path]]] = {}
        for i, entry in enumerate(manifest["objects"]):
            key = check_key(str(entry["key"]))
            if key.startswith("trials/"):
                try:
                    _, arm_dir, name = key.split("/")
                except ValueError as exc:
                    raise ArtifactIntegrityError(f"unexpected trial key {key!r}") from exc
                arm_s = unquote(arm_dir.removeprefix("arm="))
                path = tmp / f"part-{i}.parquet"
                verify_object(store, entry, path)
                shard = int(name.removeprefix("part-").removesuffix(".parquet"))
                parts.setdefault(shard, []).append((None if arm_s == NULL_ARM else arm_s, path))
            else:
                path = staged.joinpath(*key.split("/"))
                path.parent.mkdir(parents=True, exist_ok=True)
                verify_object(store, entry, path)
        if not (staged / "run.json").is_file():
            raise ArtifactIntegrityError(f"{store.url}: manifest lists no run.json")
        _rebuild_shards(parts, staged)
        if run_dir.exists():
            if not (run_dir / "run.json").is_file():
                raise UsageError(f"{run_dir} exists and is not a run directory; not replacing it")
            shutil.rmtree(run_dir)
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), run_dir)
    return run_dir
