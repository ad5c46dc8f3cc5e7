"""What the learned generators read: structured features, cached text embeddings, tool groups.

Inputs are documentation and package metadata only (tools are never run):

* **structured** (:func:`structured_features`): man section (1, 8, other), install path in an
  ``sbin`` directory, dpkg section and priority (one-hot over fixed vocabularies), library
  dependencies that name dangerous domains (``libcryptsetup``, ``libpcap``, ``libdevmapper``...),
  no documentation at all, and counts of risk keywords in NAME + DESCRIPTION + package summary;
* **text** (:func:`embed_tools`): the shipped MiniLM embedding of the embedding arm's text
  recipe, cached under ``TCPLAB_HOME/cache/generator`` by text sha256 and model version, so a
  second generation embeds only tools whose documentation changed;
* **groups** (:func:`tool_groups`): tools that share a real file (links, aliases) or a man page
  source are one group, so cross-validation never trains on one name and tests on the other.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tcplab.analyzers import ToolInput
from tcplab.corpus import ToolDoc

__all__ = [
    "FEATURE_VERSION",
    "embed_tools",
    "embedding_model_version",
    "encode_threads",
    "structured_features",
    "tool_groups",
    "tool_text",
]

FEATURE_VERSION = "features-v1"
_SECTIONS = ("admin", "utils", "net", "devel", "libs", "shells", "text", "misc", "interpreters",
             "perl", "python", "kernel", "database", "web", "otherosfs", "vcs", "editors",
             "mail")  # fmt: skip
_PRIORITIES = ("required", "important", "standard", "optional")
_LIBS = ("libcryptsetup", "libpcap", "libdevmapper", "libblkid", "libmount", "libext2fs",
         "libfdisk", "libparted", "libkmod", "libpam", "libaudit", "libcap", "libsystemd",
         "libxtables", "libnftables", "libnl", "libssl", "libcurl", "libselinux", "libacl",
         "libudev", "libsmartcols", "libapt", "libdpkg", "debconf", "systemd",
         "init-system")  # fmt: skip
_KEYWORDS = {
    "destroy": r"\b(delete|remov|eras|wip|destroy|shred|overwrit|truncat|format|purg)\w*",
    "disk": r"\b(partition|filesystem|file system|block device|disk|volume|mkfs|superblock)\w*",
    "system": r"\b(kernel|module|service|daemon|boot|reboot|shutdown|halt|init|systemd|sysctl)\w*",
    "account": r"\b(user|group|password|passwd|account|login|shadow)\w*",
    "priv": r"\b(root|privilege|superuser|setuid|capabilit|sudo|permission)\w*",
    "network": r"\b(network|remote|server|host|socket|http|url|download|upload|ssh|tcp|ip)\b",
    "firewall": r"\b(firewall|iptables|nftables|packet|route|interface|netfilter)\w*",
    "modify": r"\b(creat|modif|writ|chang|set|updat|install|edit|copy|mov|renam|generat)\w*",
    "read": r"\b(print|display|show|list|report|query|check|dump|view|search|count|compare)\w*",
    "crypt": r"\b(encrypt|decrypt|crypt|luks|key|certificate|sign)\w*",
    "process": r"\b(process|signal|kill|job|schedul|priority)\w*",
    "package": r"\b(package|dpkg|apt|debian)\w*",
}
_KW_RE = {k: re.compile(v, re.IGNORECASE) for k, v in _KEYWORDS.items()}


def tool_text(doc: ToolDoc) -> str:
    """The embedded text: the embedding arm's recipe (NAME entry + start of DESCRIPTION)."""
    from tcplab.analyzers.embedding import build_text

    return build_text(ToolInput(name=doc.name, sections=doc.sections, doc_text=doc.doc_text))


def _one_hot(value: str | None, vocab: Sequence[str]) -> list[float]:
    base = (value or "").split("/")[-1]  # "contrib/net" -> "net"
    return [float(base == v) for v in vocab] + [float(bool(base) and base not in vocab)]


def structured_row(doc: ToolDoc) -> list[float]:
    """The structured features of one tool (see the module docstring)."""
    sec = (doc.man_section or "")[:1]
    deps = (doc.pkg_depends or "").split(", ")
    text = " ".join(
        (doc.sections.get("NAME", ""), doc.sections.get("DESCRIPTION", "")[:1500],
         doc.pkg_summary or "")
    )  # fmt: skip
    kw = [float(np.log1p(len(rx.findall(text)))) for rx in _KW_RE.values()]
    return [
        float(sec == "1"), float(sec == "8"), float(sec not in ("1", "8")),
        float(doc.in_sbin), float(doc.doc_source == "none"), float(doc.package is None),
        *_one_hot(doc.pkg_section, _SECTIONS),
        *_one_hot(doc.pkg_priority, _PRIORITIES),
        *[float(any(d.startswith(lib) for d in deps)) for lib in _LIBS],
        *kw,
    ]  # fmt: skip


def structured_features(docs: Sequence[ToolDoc]) -> npt.NDArray[np.float64]:
    """One row of :func:`structured_row` per tool."""
    return np.asarray([structured_row(d) for d in docs], dtype=np.float64).reshape(len(docs), -1)


def _cache_file(cache_dir: Path, model_version: str) -> Path:
    tag = hashlib.sha256(f"{model_version}:{FEATURE_VERSION}".encode()).hexdigest()[:16]
    return cache_dir / f"embeddings-{tag}.npz"


def embedding_model_version() -> str:
    """The installed version of the shipped MiniLM package ("?" when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    from tcplab.analyzers.embedding import MODEL_PACKAGE

    try:
        return version(MODEL_PACKAGE)
    except PackageNotFoundError:
        return "?"


def encode_threads(requested: int | None = None) -> int:
    """CPU threads for the MiniLM encoding: ``requested``, else torch's default.

    The default is what the frozen generators were trained with: on this image, 1 thread
    instead of 2 gives the same levels for all 1,552 tools but embeddings that differ in the
    last bits for some texts (another ``model_sha256``, probabilities within 1e-4), so a
    thread count is never chosen behind the user's back (docs/generators.md)."""
    import torch

    return max(1, requested) if requested is not None else int(torch.get_num_threads())


def embed_tools(
    docs: Sequence[ToolDoc],
    cache_dir: Path | None,
    batch_size: int = 64,
    threads: int | None = None,
) -> npt.NDArray[np.float32]:
    """Unit MiniLM embeddings of :func:`tool_text` (zeros for undocumented tools), cached.

    The texts not in the cache are encoded once each (links and shared pages have the same
    text), on :func:`encode_threads` CPU threads (torch's setting is restored afterwards).

    Raises:
        MissingDependencyError: torch, sentence-transformers or the model package is missing.
    """
    from tcplab.analyzers.embedding import load_model

    model_version = embedding_model_version()
    texts = [tool_text(d) for d in docs]
    keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    cached: dict[str, npt.NDArray[np.float32]] = {}
    path = _cache_file(cache_dir, model_version) if cache_dir else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as data:
                cached = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        except (OSError, ValueError, KeyError):
            cached = {}
    todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if t and k not in cached}.items())
    if todo:
        model = load_model()  # first: a missing torch/model raises with the pip line
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(encode_threads(threads))
        try:
            vectors = model.encode(
                [t for _, t in todo], batch_size=batch_size, show_progress_bar=False,
                convert_to_numpy=True, normalize_embeddings=True,
            )  # fmt: skip
        finally:
            torch.set_num_threads(before)
        cached.update(zip((k for k, _ in todo), np.asarray(vectors, dtype=np.float32), strict=True))
        if path is not None:
            _save(path, cached)
    zero = np.zeros(384, dtype=np.float32)
    return np.stack([cached.get(k, zero) if t else zero for k, t in zip(keys, texts, strict=True)])


def _save(path: Path, cached: dict[str, npt.NDArray[np.float32]]) -> None:
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".emb.", suffix=".npz")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, keys=np.asarray(list(cached)), vectors=np.stack(list(cached.values())))
        os.replace(tmp, path)
    except OSError:  # a cache that cannot be written only costs time next run
        return


def tool_groups(docs: Sequence[ToolDoc]) -> list[int]:
    """Group ids: tools sharing a real file or a man page source are in one group."""
    parent = list(range(len(docs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, doc in enumerate(docs):
        for key in (f"r:{doc.real_path}" if doc.real_path else None,
                    f"s:{doc.source_sha256}" if doc.source_sha256 else None):  # fmt: skip
            if key is None:
                continue
            j = first.setdefault(key, i)
            parent[find(i)] = find(j)
    return [find(i) for i in range(len(docs))]
