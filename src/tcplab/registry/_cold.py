"""The cold decision path: look up, validate and decode 24 bytes on every call.

Two implementations give identical answers (``tests/registry`` pins them to each other):

* :func:`python_decider` — pure Python, always available;
* a compiled one (``_tcpcold.c``, a tiny CPython extension), built on first use with the C
  compiler Python was built with and cached under ``$XDG_CACHE_HOME/tcplab/native`` (keyed by
  the source hash and the interpreter ABI). Without a compiler, headers or the source file,
  tcplab falls back to the pure-Python path. ``TCPLAB_NATIVE=0`` disables the compiled path;
  ``TCPLAB_NATIVE=1`` makes its absence an error.

Nothing here runs on import: the light CLI commands never call it.
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from tcplab.descriptor import FORMAT_VERSION, MAGIC, Decision, RiskLevel, decide
from tcplab.errors import UsageError

TYPE_CHECKING = False  # not `typing`: the per-decision CLI commands import this module
if TYPE_CHECKING:
    from typing import Any

    from tcplab.registry._file import Registry
    from tcplab.registry._layout import Layout

__all__ = ["RESULTS", "UNKNOWN", "load_native", "native_decider", "python_decider"]

_SOURCE = Path(__file__).with_name("_tcpcold.c")
_HEAD = MAGIC + FORMAT_VERSION.to_bytes(2, "big")
UNKNOWN: tuple[RiskLevel, Decision] = (RiskLevel.UNKNOWN, Decision.REQUIRE_APPROVAL)
# Indexed by the five risk bits of byte 13: the highest bit set wins, none is UNKNOWN.
RESULTS: tuple[tuple[RiskLevel, Decision], ...] = tuple(
    UNKNOWN if bits == 0 else (lvl := RiskLevel(bits.bit_length() - 1), decide(lvl))
    for bits in range(32)
)


def python_decider(registry: Registry) -> Callable[[str], tuple[RiskLevel, Decision]]:
    """The pure-Python cold path bound to an open registry (same steps as ``_tcpcold.c``)."""
    mm, slots, offs, blob, mask, n = registry.tables()
    crc32, results, unknown, head = zlib.crc32, RESULTS, UNKNOWN, _HEAD

    def decide_cold(command: str) -> tuple[RiskLevel, Decision]:
        try:
            name = command.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: no stored (UTF-8) name can match
            return unknown
        h = crc32(name) & mask
        idx = slots[h]
        probes = 0
        while idx:
            if mm[blob + offs[idx - 1] : blob + offs[idx]] == name:
                break
            probes += 1
            if probes > n:  # unreachable for a checked file (N occupied slots of ≥ 2N)
                return unknown
            h = (h + 1) & mask
            idx = slots[h]
        else:
            return unknown
        off = 40 + 24 * idx  # 64 + 24 * (idx - 1)
        raw = mm[off : off + 24]
        if raw[:6] != head or (raw[22] << 8 | raw[23]) != crc32(raw[:22]) & 0xFFFF:
            return unknown
        return results[raw[13] & 0x1F]

    return decide_cold


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tcplab" / "native"


def _target(source: bytes) -> Path:
    import hashlib
    import sysconfig

    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    key = hashlib.sha256(source + sys.version.encode() + suffix.encode()).hexdigest()[:16]
    return _cache_dir() / key / f"_tcpcold{suffix}"


def _compile(source: Path, target: Path) -> None:
    import shlex
    import subprocess
    import sysconfig
    import tempfile

    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    include = sysconfig.get_paths()["include"]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".build-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        subprocess.run(
            [*cc, "-O2", "-shared", "-fPIC", f"-I{include}", str(source), "-o", tmp],
            check=True,
            capture_output=True,
            timeout=120,
        )
        os.replace(tmp, target)  # atomic: concurrent builders each install a whole file
    finally:
        Path(tmp).unlink(missing_ok=True)


_loaded: dict[str, ModuleType | None] = {}


def load_native(build: bool = True) -> ModuleType | None:
    """The compiled module, building it when needed and allowed; None when unavailable."""
    if os.environ.get("TCPLAB_NATIVE", "").strip() == "0":
        return None
    if "module" in _loaded:
        return _loaded["module"]
    import importlib.util
    import subprocess

    module: ModuleType | None = None
    try:
        target = _target(_SOURCE.read_bytes())
        if not target.is_file() and build:
            _compile(_SOURCE, target)
        if target.is_file():
            spec = importlib.util.spec_from_file_location("tcplab.registry._tcpcold", target)
            if spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
    except (OSError, ImportError, subprocess.SubprocessError):
        module = None  # no compiler, no headers, read-only cache...: the Python path is used
    if module is not None or build:
        _loaded["module"] = module
    return module


def native_decider(buf: Any, layout: Layout, require: bool | None) -> Any:
    """A compiled ``Decider`` over the registry's mapped buffer, or None.

    Raises:
        UsageError: ``require`` is true (or ``TCPLAB_NATIVE=1``) and it is unavailable.
    """
    required = require or os.environ.get("TCPLAB_NATIVE", "").strip() == "1"
    module = load_native()
    if module is None:
        if required:
            raise UsageError(
                "the compiled cold path is unavailable (it needs a C compiler and the Python "
                f"headers to build {_SOURCE.name}); unset TCPLAB_NATIVE=1 to use pure Python"
            )
        return None
    return module.Decider(
        buf,
        layout.n,
        layout.names_off,
        layout.slots_off,
        layout.slots_n,
        layout.blob_off,
        layout.blob_len,
        RESULTS,
        UNKNOWN,
    )
