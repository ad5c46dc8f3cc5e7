"""Artifact stores: a local directory or an S3 bucket (AWS, MinIO, SeaweedFS) via boto3.

Keys are ``/``-separated paths relative to the store's root (a directory, or
``s3://bucket/prefix``). S3 settings come from the usual AWS variables
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``...) plus
``TCPLAB_S3_ENDPOINT_URL`` for non-AWS servers.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tcplab.errors import ConfigError, UsageError
from tcplab.store._config import artifacts_url, require
from tcplab.store._errors import StoreError, StorePermissionError, StoreUnavailableError

__all__ = ["ArtifactStore", "LocalArtifactStore", "S3ArtifactStore", "open_artifacts"]

_DENIED = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "Forbidden"}


def check_key(key: str) -> str:
    """``key`` if it is a safe relative key (no ``..``, not absolute), else UsageError."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"unsafe artifact key {key!r}")
    return key


class ArtifactStore(ABC):
    """A flat key → bytes store rooted at :attr:`url`."""

    url: str

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key`` (replacing any object there)."""

    @abstractmethod
    def get_file(self, key: str, dest: Path) -> None:
        """Write the object ``key`` to ``dest``; StoreError if it does not exist."""

    @abstractmethod
    def keys(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix``, sorted."""

    @abstractmethod
    def child(self, prefix: str) -> ArtifactStore:
        """The same store rooted at ``prefix`` below this root."""

    @abstractmethod
    def move(self, prefix: str, new_prefix: str) -> None:
        """Move every object under ``prefix`` to ``new_prefix`` (which must be unused).

        Nothing is lost: a directory is renamed; on S3 every object is copied first and the
        originals are deleted only once all copies exist.
        """

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``."""
        with tempfile.TemporaryDirectory(prefix="tcplab-put-") as tmp:
            path = Path(tmp) / "obj"
            path.write_bytes(data)
            self.put_file(key, path)

    def get_bytes(self, key: str) -> bytes:
        """The bytes of object ``key``."""
        with tempfile.TemporaryDirectory(prefix="tcplab-get-") as tmp:
            path = Path(tmp) / "obj"
            self.get_file(key, path)
            return path.read_bytes()


class LocalArtifactStore(ArtifactStore):
    """Objects as files under a directory (written atomically: temp file, then rename)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put_file(self, key: str, path: Path) -> None:
        """Copy ``path`` to ``ROOT/key`` atomically."""
        target = self._path(key)
        tmp: str | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.replace(tmp, target)
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise StoreError(f"cannot write artifact {target}: {exc.strerror or exc}") from exc

    def get_file(self, key: str, dest: Path) -> None:
        """Copy ``ROOT/key`` to ``dest``."""
        src = self._path(key)
        if src.exists() and not src.is_file():
            raise StoreError(f"artifact {src} is not a regular file")
        try:
            dest.write_bytes(src.read_bytes())
        except FileNotFoundError as exc:
            raise StoreError(f"artifact {src} does not exist") from exc
        except OSError as exc:
            raise StoreError(f"cannot read artifact {src}: {exc}") from exc

    def keys(self, prefix: str = "") -> list[str]:
        """Every file key under ``prefix`` (temp files excluded)."""
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        out = [p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file()]
        return sorted(k for k in out if not k.rsplit("/", 1)[-1].startswith("."))

    def child(self, prefix: str) -> LocalArtifactStore:
        """``ROOT/prefix``."""
        return LocalArtifactStore(self._path(prefix))

    def move(self, prefix: str, new_prefix: str) -> None:
        """Rename the directory ``ROOT/prefix`` to ``ROOT/new_prefix``."""
        src, dst = self._path(prefix), self._path(new_prefix)
        if dst.exists():
            raise StoreError(f"cannot move {src} to {dst}: it already exists")
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            src.rename(dst)
        except OSError as exc:
            raise StoreError(f"cannot move {src} to {dst}: {exc.strerror or exc}") from exc


class S3ArtifactStore(ArtifactStore):
    """Objects in ``s3://bucket/prefix`` through boto3 (endpoint: ``TCPLAB_S3_ENDPOINT_URL``)."""

    def __init__(self, url: str, *, client: Any = None) -> None:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise UsageError(f"S3 URL needs a bucket: {url!r} (s3://BUCKET/PREFIX)")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client = client if client is not None else self._make_client()

    @staticmethod
    def _make_client() -> Any:
        boto3 = require("boto3", "boto3", "s3", "the S3 artifact store")
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        endpoint = os.environ.get("TCPLAB_S3_ENDPOINT_URL") or None
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if endpoint is not None:
            try:
                parsed = urlsplit(endpoint)
                ok = parsed.scheme in ("http", "https") and bool(parsed.hostname)
                ok = ok and (parsed.port is None or parsed.port > 0)
            except ValueError:  # bad IPv6 literal, port out of range or not a number
                ok = False
            if not ok:
                raise ConfigError(
                    f"TCPLAB_S3_ENDPOINT_URL={endpoint!r} is not an http(s) URL "
                    "(e.g. http://127.0.0.1:8333)"
                )
        config = Config(
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path"} if endpoint else None,
        )
        try:
            # A new session each time: the default session caches credentials once resolved.
            session = boto3.session.Session()
            return session.client(
                "s3", endpoint_url=endpoint, region_name=region or "us-east-1", config=config
            )
        except (ValueError, BotoCoreError) as exc:
            raise ConfigError(f"cannot set up the S3 client: {exc}") from exc

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        from botocore import exceptions as bexc

        where = f"s3://{self.bucket}/{self.prefix}"
        try:
            yield
        except bexc.NoCredentialsError as exc:
            raise StorePermissionError(
                f"no S3 credentials for {where}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or an AWS profile)"
            ) from exc
        except (bexc.EndpointConnectionError, bexc.ConnectTimeoutError) as exc:
            raise StoreUnavailableError(f"cannot reach the S3 server for {where}: {exc}") from exc
        except bexc.ClientError as exc:
            err = exc.response.get("Error", {})
            code, msg = str(err.get("Code", "")), str(err.get("Message", ""))
            if code in _DENIED:
                raise StorePermissionError(f"S3 refused access to {where} ({code}): {msg}") from exc
            raise StoreError(f"S3 {what} failed for {where} ({code}): {msg}") from exc
        except bexc.BotoCoreError as exc:  # botocore's messages may span lines: one line here
            raise StoreError(f"S3 {what} failed for {where}: {' '.join(str(exc).split())}") from exc

    def put_file(self, key: str, path: Path) -> None:
        """Upload ``path`` with one PUT (objects here are shards and reports, not terabytes)."""
        with self._guard(f"upload of {key}"), open(path, "rb") as body:
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=body)

    def get_file(self, key: str, dest: Path) -> None:
        """Download object ``key`` to ``dest``."""
        with self._guard(f"download of {key}"):
            resp = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
            with open(dest, "wb") as out:
                for chunk in resp["Body"].iter_chunks(1 << 20):
                    out.write(chunk)

    def keys(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (paginated listing)."""
        full = self._key(prefix) if prefix else self.prefix
        if full and not full.endswith("/"):
            full += "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        out: list[str] = []
        with self._guard("listing"):
            pages = self._client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=full):
                out.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(out)

    def move(self, prefix: str, new_prefix: str) -> None:
        """Server-side copy of every object under ``prefix``, then delete the originals."""
        if self.keys(new_prefix):
            raise StoreError(f"cannot move to {self.url}/{new_prefix}: it is not empty")
        keys = self.keys(prefix)
        for key in keys:
            target = f"{new_prefix}/{key[len(prefix) + 1 :]}"
            with self._guard(f"copy of {key}"):
                self._client.copy_object(
                    Bucket=self.bucket,
                    Key=self._key(target),
                    CopySource={"Bucket": self.bucket, "Key": self._key(key)},
                )
        for key in keys:
            with self._guard(f"removal of {key} (copied to {new_prefix})"):
                self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def child(self, prefix: str) -> S3ArtifactStore:
        """``s3://bucket/prefix/PREFIX`` sharing this store's client."""
        return S3ArtifactStore(f"s3://{self.bucket}/{self._key(prefix)}", client=self._client)


def open_artifacts(url: str | None = None) -> ArtifactStore:
    """The artifact store at ``url`` (default ``TCPLAB_ARTIFACTS_URL`` or TCPLAB_HOME/artifacts).

    ``s3://bucket/prefix`` → :class:`S3ArtifactStore`; a path or ``file://`` URL →
    :class:`LocalArtifactStore`.
    """
    resolved = artifacts_url(url)
    if resolved.startswith("s3://"):
        return S3ArtifactStore(resolved)
    if "://" in resolved and not resolved.startswith("file://"):
        raise UsageError(f"unsupported artifact URL {resolved!r}: use a directory or s3://")
    return LocalArtifactStore(resolved.removeprefix("file://"))
