"""Push a run to an artifact store and fetch it back, with a SHA-256 manifest.

Layout under the store root (``tcplab-run/2``)::

    runs/RUN_ID/run.json
    runs/RUN_ID/plan.parquet                         (if the run has one)
    runs/RUN_ID/report/...                           (every file under RUN_DIR/report/)
    runs/RUN_ID/shards/shard-SSSSSS.parquet          (each shard file, byte for byte)
    runs/RUN_ID/trials/arm=NAME/part-SSSSSS.parquet  (shard SSSSSS's trials of arm NAME)
    runs/RUN_ID/manifest.json                        (written last)

Trial parts follow Hive partitioning: the ``arm`` column lives in the path (percent-encoded),
not in the file; they are there to be queried. ``manifest.json`` lists the SHA-256 and size
of every other object; fetching verifies each one and restores the run directory with its
shard files exactly as written (``run.json`` records their hashes). A ``tcplab-run/1`` push
(no ``shards/``) has its shards rebuilt from the parts.

An existing copy is never deleted: see :func:`push_run` and :func:`fetch_run`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tcplab.errors import UsageError
from tcplab.experiment.trials import TRIAL_SCHEMA, write_shard
from tcplab.store._artifacts import (
    ArtifactStore,
    LocalArtifactStore,
    check_key,
    open_artifacts,
)
from tcplab.store._errors import ArtifactIntegrityError, StoreError
from tcplab.store._replace import (
    aside_name,
    file_sha256,
    install_dir,
    local_shards,
    local_summary,
    manifest_shards,
    matches_manifest,
    summary,
)
from tcplab.store._sync import read_run_meta, resolve_run_dir

__all__ = ["LAYOUT", "MANIFEST", "SHARDS", "fetch_run", "push_run", "verify_object"]

MANIFEST = "manifest.json"
#: Where the shard files go, byte for byte (fetch restores them; run.json records their hashes).
SHARDS = "shards"
LAYOUT = "tcplab-run/2"
NULL_ARM = "__HIVE_DEFAULT_PARTITION__"


def _trial_parts(shard: int, path: Path, tmp: Path) -> Iterator[tuple[str, Path]]:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(
            f"{path}: cannot read the shard ({exc}); `tcplab run --resume` re-runs a damaged shard"
        ) from exc
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
    metrics = run_dir / "metrics"  # the resource samples (tcplab.monitor), when recorded
    if metrics.is_dir():
        for path in sorted(p for p in metrics.iterdir() if p.is_file()):
            yield f"metrics/{path.name}", path
    for shard, path in local_shards(run_dir).items():
        # the shard file as written (run.json records its SHA-256), then its rows by arm
        yield f"{SHARDS}/{path.name}", path
        yield from _trial_parts(shard, path, tmp)


def push_run(
    run: str | Path,
    url: str | None = None,
    *,
    force: bool = False,
    on_replace: Callable[[str, str], None] | None = None,
) -> str:
    """Upload a run (id or directory) to the artifact store at ``url``.

    A copy already at ``URL/runs/RUN_ID`` is replaced only when this push supersedes it
    (the same run and plan, and every shard it holds is in this run too, e.g. after a
    resume) or when it is an interrupted push (no manifest). Otherwise the push is refused,
    unless ``force``: the old copy is then moved aside to ``runs/RUN_ID.replaced-<UTC time>``
    (nothing is deleted) and ``on_replace(old_url, new_url)`` is called.

    Returns:
        The URL of the pushed run (``URL/runs/RUN_ID``), which :func:`fetch_run` takes.

    Raises:
        UsageError: not a run, or the destination is the run directory itself.
        StoreError (and subclasses): the store failed, or it holds a copy this push would
            not supersede (and ``force`` is false).
    """
    run_dir = resolve_run_dir(run)
    meta = read_run_meta(run_dir)
    run_id = check_key(str(meta["run_id"]))
    root = open_artifacts(url)
    _refuse_self(root, run_id, run_dir)
    store = root.child(f"runs/{run_id}")
    reason = _push_conflict(store, run_dir, meta)
    if reason is not None:
        if not force:
            raise StoreError(
                f"{store.url} already holds a copy of {run_id} that this push would not "
                f"supersede ({reason}); pass --force to move it aside to "
                f"runs/{run_id}.replaced-<UTC time> first (nothing is deleted), or push "
                "to another location"
            )
        aside = aside_name(run_id, lambda name: bool(root.keys(f"runs/{name}")))
        root.move(f"runs/{run_id}", f"runs/{aside}")
        if on_replace is not None:
            on_replace(store.url, root.child(f"runs/{aside}").url)
    objects: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tcplab-push-") as tmp_s:
        for key, path in _local_objects(run_dir, Path(tmp_s)):
            try:
                entry = {"key": key, "sha256": file_sha256(path), "size": path.stat().st_size}
            except OSError as exc:
                raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
            objects.append(entry)
            store.put_file(key, path)
    manifest = {
        "schema_version": 1,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(),
        "layout": LAYOUT,
        "objects": objects,
    }
    store.put_bytes(MANIFEST, json.dumps(manifest, indent=2).encode())
    return store.url


def _refuse_self(root: ArtifactStore, run_id: str, run_dir: Path) -> None:
    """UsageError when a local store's ``runs/RUN_ID`` is (inside) the run directory."""
    if not isinstance(root, LocalArtifactStore):
        return
    target = (root.root / "runs" / run_id).resolve()
    source = run_dir.resolve()
    if target == source or source in target.parents or target in source.parents:
        raise UsageError(
            f"cannot push {run_id} to {root.url}: {target} is the run directory itself; "
            "push to another directory"
        )


def _push_conflict(store: ArtifactStore, run_dir: Path, meta: dict[str, Any]) -> str | None:
    """Why the copy at ``store`` must not be overwritten by this run, or None if it may."""
    keys = store.keys()
    if not keys:
        return None
    if MANIFEST not in keys:
        if all(_is_layout_key(k) for k in keys):
            return None  # an interrupted push (the manifest is written last)
        return "files that are not a pushed run"
    old = _read_manifest(store)
    if old.get("run_id") != meta["run_id"]:
        return f"it is run {old.get('run_id')!r}"
    try:
        old_meta = json.loads(store.get_bytes("run.json"))
    except (StoreError, ValueError):
        return "its run.json is missing or unreadable"
    if isinstance(old_meta, dict) and old_meta.get("plan_hash") != meta.get("plan_hash"):
        return "a different plan"
    missing = manifest_shards(old) - set(local_shards(run_dir))
    if missing:
        return f"{len(missing)} shard(s) this run lacks ({summary(old_meta, old)})"
    return None


def _is_layout_key(key: str) -> bool:
    return (
        key in ("run.json", "plan.parquet")
        or key.startswith("report/")
        or (key.startswith((f"{SHARDS}/shard-", "trials/arm=")) and key.endswith(".parquet"))
    )


def verify_object(store: ArtifactStore, entry: dict[str, Any], dest: Path) -> None:
    """Download one manifest entry to ``dest`` and check its size and SHA-256.

    Raises:
        ArtifactIntegrityError: size or SHA-256 differs from the manifest.
    """
    key = check_key(str(entry["key"]))
    store.get_file(key, dest)
    size, digest = dest.stat().st_size, file_sha256(dest)
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


def fetch_run(
    url: str,
    dest_dir: Path | str,
    *,
    force: bool = False,
    on_replace: Callable[[str, str], None] | None = None,
) -> Path:
    """Download a pushed run (``.../runs/RUN_ID``), verify it, rebuild its run directory.

    Every object is checked against ``manifest.json`` before anything is written to
    ``dest_dir/RUN_ID``; the trial parts become ``trials/shard-NNNNNN.parquet`` again.
    When ``dest_dir/RUN_ID`` exists and holds the pushed run's data (``run.json``, plan and
    shard files byte for byte, no other file; its ``report/`` may differ), nothing is
    downloaded and nothing there changes. When it holds anything else the fetch is
    refused, unless ``force``: the existing directory is then moved aside to
    ``RUN_ID.replaced-<UTC time>`` next to it (nothing is deleted) and
    ``on_replace(old, new)`` is called.

    Returns:
        The run directory (``dest_dir/RUN_ID``).

    Raises:
        ArtifactIntegrityError: an object differs from the manifest, or the manifest is bad.
        StoreError (and subclasses): the store failed, or ``dest_dir/RUN_ID`` holds something
            else (and ``force`` is false).
    """
    store = open_artifacts(url.rstrip("/"))
    manifest = _read_manifest(store)
    run_id = check_key(str(manifest.get("run_id", "")) or "unknown")
    run_dir = Path(dest_dir).expanduser() / run_id
    occupied = run_dir.exists() or run_dir.is_symlink()
    if occupied and matches_manifest(run_dir, manifest):
        return run_dir
    if occupied and not force:
        raise StoreError(
            f"{run_dir} already exists ({local_summary(run_dir)}) and is not the pushed copy "
            f"({summary(_remote_meta(store), manifest)}); not replacing it. Pass --force to "
            f"move it aside to {run_id}.replaced-<UTC time> first (nothing is deleted), or "
            "--to another directory"
        )
    with tempfile.TemporaryDirectory(prefix="tcplab-fetch-") as tmp_s:
        staged = _download(store, manifest, Path(tmp_s))
        aside = install_dir(staged, run_dir)
    if aside is not None and on_replace is not None:
        on_replace(str(run_dir), str(aside))
    return run_dir


def _download(store: ArtifactStore, manifest: dict[str, Any], tmp: Path) -> Path:
    """Verify every manifest object needed into ``tmp/run``.

    Shard files pushed as they are (``shards/``) are restored byte for byte and the
    per-arm parts are not downloaded; a push without them (layout ``tcplab-run/1``) has
    its shards rebuilt from the parts.
    """
    staged = tmp / "run"
    entries = [dict(e) for e in manifest["objects"]]
    keys = [check_key(str(e["key"])) for e in entries]
    whole = any(k.startswith(f"{SHARDS}/") for k in keys)
    parts: dict[int, list[tuple[str | None, Path]]] = {}
    for i, (key, entry) in enumerate(zip(keys, entries, strict=True)):
        if key.startswith("trials/"):
            shard, arm = _part_of(key)
            if whole:
                continue
            path = tmp / f"part-{i}.parquet"
            verify_object(store, entry, path)
            parts.setdefault(shard, []).append((arm, path))
            continue
        if key.startswith(f"{SHARDS}/"):
            path = staged / "trials" / _shard_name(key)
        else:
            path = staged.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        verify_object(store, entry, path)
    if not (staged / "run.json").is_file():
        raise ArtifactIntegrityError(f"{store.url}: manifest lists no run.json")
    _rebuild_shards(parts, staged)
    return staged


def _shard_name(key: str) -> str:
    name = key.removeprefix(f"{SHARDS}/")
    if "/" in name or not (name.startswith("shard-") and name.endswith(".parquet")):
        raise ArtifactIntegrityError(f"unexpected shard key {key!r}")
    return name


def _part_of(key: str) -> tuple[int, str | None]:
    """``(shard, arm)`` of ``trials/arm=NAME/part-SSSSSS.parquet``."""
    try:
        _, arm_dir, name = key.split("/")
        shard = int(name.removeprefix("part-").removesuffix(".parquet"))
    except ValueError as exc:
        raise ArtifactIntegrityError(f"unexpected trial key {key!r}") from exc
    if not arm_dir.startswith("arm="):
        raise ArtifactIntegrityError(f"unexpected trial key {key!r}")
    arm = unquote(arm_dir.removeprefix("arm="))
    return shard, None if arm == NULL_ARM else arm


def _remote_meta(store: ArtifactStore) -> dict[str, Any]:
    try:
        meta = json.loads(store.get_bytes("run.json"))
    except (StoreError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}
