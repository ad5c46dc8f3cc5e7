"""Capturing ``--help`` output in a sandbox (opt-in: ``scan_tools(allow_help=True)``).

Running an arbitrary binary is dangerous even with ``--help``: some tools ignore the
flag and do their default action, which can be destructive, network-facing or
privileged. ``docs/corpus.md`` lists the risks. The sandbox layers, outermost first:

* ``unshare --net`` (or ``unshare --net --map-root-user`` when not root): a network
  namespace with only a down loopback, so no connection leaves the machine;
* ``prlimit``: CPU seconds and the size of any file written are capped;
* ``setpriv --reuid/--regid nobody --clear-groups --nnp`` when running as root: no
  root, no supplementary groups, and setuid binaries cannot regain privileges;
* an empty environment, stdin closed (``/dev/null``), a fresh empty working directory
  nobody can write to, its own session (the whole process group is killed on timeout).

When a layer is unavailable it is skipped and listed in :attr:`Sandbox.missing`;
as root, ``--help`` is never run without dropping privileges.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO

from tcplab.corpus._text import clean_text

__all__ = ["HELP_TIMEOUT_S", "Sandbox", "capture_help", "detect_sandbox"]

HELP_TIMEOUT_S = 5.0
_MAX_OUTPUT = 1 << 20  # bytes kept from stdout/stderr
_MAX_FILE = 4 << 20  # RLIMIT_FSIZE inside the sandbox
_EXEC_FAILED = (126, 127)  # shell / setpriv convention: could not execute


@dataclass(frozen=True)
class Sandbox:
    """How ``--help`` is run.

    Attributes:
        prefix: the command prefix that confines the tool.
        missing: the layers that are not available on this machine.
        refused: why no tool may be run at all (``None`` when the sandbox is usable).
    """

    prefix: tuple[str, ...]
    missing: tuple[str, ...]
    refused: str | None = None


def _works(cmd: list[str]) -> bool:
    true = shutil.which("true") or "/bin/true"
    try:
        done = subprocess.run(
            [*cmd, true], stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def detect_sandbox() -> Sandbox:
    """Probe which sandbox layers work here (a few ``true`` runs)."""
    prefix: list[str] = []
    missing: list[str] = []
    unshare = shutil.which("unshare")
    net = None
    if unshare:
        for cmd in ([unshare, "--net", "--"], [unshare, "--net", "--map-root-user", "--"]):
            if _works(cmd):
                net = cmd
                break
    if net:
        prefix += net
    else:
        missing.append("network namespace (unshare --net)")
    prlimit = shutil.which("prlimit")
    limits = [str(prlimit), f"--fsize={_MAX_FILE}", f"--cpu={int(HELP_TIMEOUT_S) + 1}", "--"]
    if prlimit and _works(limits):
        prefix += limits
    else:
        missing.append("resource limits (prlimit)")
    if os.geteuid() != 0:
        return Sandbox(tuple(prefix), tuple(missing))
    setpriv = shutil.which("setpriv")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return Sandbox((), tuple(missing), "running as root and there is no 'nobody' user")
    drop = [
        str(setpriv), f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
        "--clear-groups", "--nnp", "--",
    ]  # fmt: skip
    if setpriv is None or not _works(drop):
        return Sandbox((), tuple(missing), "running as root and setpriv cannot drop to 'nobody'")
    return Sandbox((*prefix, *drop), tuple(missing))


def _read_capped(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read(_MAX_OUTPUT).decode("utf-8", "replace")


def capture_help(
    path: str, sandbox: Sandbox, timeout: float = HELP_TIMEOUT_S
) -> tuple[str | None, str | None]:
    """Run ``path --help`` inside ``sandbox``.

    Args:
        path: the executable (its ``PATH`` name is kept as ``argv[0]``).
        sandbox: from :func:`detect_sandbox`.
        timeout: seconds before the whole process group is killed.

    Returns:
        ``(text, None)`` with the cleaned output (stdout, or stderr when stdout is
        empty), or ``(None, reason)`` when nothing usable came out.
    """
    if sandbox.refused:
        return None, f"--help not run: {sandbox.refused}"
    with (
        tempfile.TemporaryDirectory(prefix="tcplab-help-") as workdir,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        os.chmod(workdir, 0o555)  # empty and read-only for the tool
        try:
            proc = subprocess.Popen(
                [*sandbox.prefix, path, "--help"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env={}, cwd=workdir,
                start_new_session=True, close_fds=True,
            )  # fmt: skip
        except OSError as exc:
            return None, f"--help could not be run: {exc.strerror or exc}"
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None, f"--help timed out after {timeout:g}s"
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # leftovers that daemonized
            os.chmod(workdir, 0o755)
        stdout, stderr = _read_capped(out), _read_capped(err)
    text = clean_text(stdout) or clean_text(stderr)
    if rc in _EXEC_FAILED and not clean_text(stdout):
        first = text.splitlines()[0] if text else ""
        return None, f"--help could not be run (exit {rc}): {first}".rstrip(": ")
    if rc < 0:
        return None, f"--help killed by signal {-rc}"
    if not text:
        return None, f"--help printed nothing (exit {rc})"
    return text, None
