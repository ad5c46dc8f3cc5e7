"""Debian package records of the scanned tools, read-only, in one ``dpkg-query`` call.

For every installed package, one ``dpkg-query -W -f`` call prints the version, section
(``admin``, ``net``, ``utils``...), priority, the ``Depends``/``Pre-Depends`` package names
(version constraints and alternatives' ``|`` flattened) and the one-line summary. Nothing is
run but ``dpkg-query``; no tool is executed. The database it reads, ``/var/lib/dpkg/status``,
is hashed: when a previous corpus recorded the same hash, its records are reused and
``dpkg-query`` is not called at all (the reuse cache, like the man-page renderings).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DPKG_STATUS", "PackageInfo", "dpkg_status_sha256", "package_infos", "query_packages"]

DPKG_STATUS = Path("/var/lib/dpkg/status")
_FIELDS = ("Package", "Version", "Section", "Priority", "Depends", "Pre-Depends", "binary:Summary")
_FORMAT = "\\t".join(f"${{{f}}}" for f in _FIELDS) + "\\n"
_DEP_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9+.\-]*)")


@dataclass(frozen=True)
class PackageInfo:
    """The package record of one Debian package (the corpus columns ``pkg_*``)."""

    package: str
    version: str | None
    section: str | None
    priority: str | None
    depends: str | None  # package names joined with ", " (no versions), None when none
    summary: str | None


def _dep_names(*fields: str) -> str | None:
    names: list[str] = []
    for field in fields:
        for part in re.split(r"[,|]", field):
            m = _DEP_NAME.match(part)
            if m and m.group(1).split(":")[0] not in names:
                names.append(m.group(1).split(":")[0])
    return ", ".join(names) or None


def dpkg_status_sha256(status: Path = DPKG_STATUS) -> str | None:
    """sha256 of dpkg's status database (the reuse key); None when there is none."""
    try:
        return hashlib.sha256(status.read_bytes()).hexdigest()
    except OSError:
        return None


def query_packages(timeout: float = 60.0) -> dict[str, PackageInfo]:
    """Every installed package's record, from one ``dpkg-query -W`` call ({} without dpkg)."""
    exe = shutil.which("dpkg-query")
    if exe is None:
        return {}
    try:
        done = subprocess.run(
            [exe, "-W", "-f", _FORMAT],
            capture_output=True,
            timeout=timeout,
            check=False,
            env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    out: dict[str, PackageInfo] = {}
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) != 7 or not parts[0]:
            continue
        pkg, ver, section, priority, dep, predep, summary = parts
        out.setdefault(
            pkg,
            PackageInfo(
                package=pkg,
                version=ver or None,
                section=section or None,
                priority=priority or None,
                depends=_dep_names(predep, dep),
                summary=summary.strip() or None,
            ),
        )
    return out


def package_infos(
    owners: Iterable[str | None],
    previous: Mapping[str, PackageInfo] | None,
    status_sha: str | None,
    previous_sha: str | None,
) -> tuple[dict[str, PackageInfo], bool]:
    """Records for the owning packages; ``(records, reused)``.

    ``owners`` are the corpus ``package`` values (several owners joined with ``", "``: the
    first is used). The previous records are reused when ``status_sha`` equals
    ``previous_sha`` and they cover every owner; otherwise ``dpkg-query`` runs once.
    """
    wanted = {o.split(", ")[0] for o in owners if o}
    if (
        previous
        and status_sha is not None
        and status_sha == previous_sha
        and wanted <= set(previous)
    ):
        return {p: previous[p] for p in wanted}, True
    every = query_packages()
    return {p: every[p] for p in wanted if p in every}, False
