"""The one exception tree of tcplab.

Every error tcplab raises on purpose derives from :class:`TcplabError`; third-party
errors are translated at the boundary with ``raise ... from exc``. The CLI prints any
``TcplabError`` as one line (no traceback) and exits non-zero::

    TcplabError
    ├── ConfigError                  bad settings or environment
    ├── UsageError                   bad command-line or API input
    ├── DescriptorError              anything about the 24-byte TCP descriptor
    │   ├── EncodeError              impossible input refused by the encoder
    │   └── DecodeError              untrusted bytes that are not a valid descriptor
    │                                (carries ``reasons``: LENGTH, MAGIC, VERSION, CHECKSUM, HEX)
    ├── RegistryError                registry files (.tcpdb)
    │   ├── RegistryFormatError      truncated / corrupted / unsupported file
    │   ├── RegistryBuildError       rows refused while building (carries ``problems``)
    │   └── CommandNotFoundError     lookup of a name the registry does not hold
    ├── CorpusError                  scanning tools and their documentation
    ├── LabelsError                  ground-truth label files (carries ``problems``)
    ├── StoreError                   the SQL result store or the artifact store failed
    │   ├── StoreUnavailableError    the database / object store cannot be used
    │   │   └── StorePermissionError the server refused the credentials or the operation
    │   └── ArtifactIntegrityError   an object's SHA-256 or size differs from manifest.json
    ├── AcceleratorError             a batch-decision backend (tcplab.accel) failed
    │   └── AcceleratorUnavailableError  no device / driver / runtime for the backend
    ├── RunError                     an experiment run cannot proceed
    │   ├── RunLockedError           another live process is executing the run
    │   └── WorkerLostError          a worker process died (the run stays resumable)
    └── MissingDependencyError       an optional extra is not installed (names the pip command)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AcceleratorError",
    "AcceleratorUnavailableError",
    "ArtifactIntegrityError",
    "CommandNotFoundError",
    "ConfigError",
    "CorpusError",
    "DecodeError",
    "DescriptorError",
    "EncodeError",
    "ExecutionFailedError",
    "LabelsError",
    "MissingDependencyError",
    "RegistryBuildError",
    "RegistryError",
    "RegistryFormatError",
    "RunError",
    "RunLockedError",
    "StoreError",
    "StorePermissionError",
    "StoreUnavailableError",
    "TcplabError",
    "UsageError",
    "WorkerLostError",
]


class TcplabError(Exception):
    """Base class of every error tcplab raises on purpose."""


class ConfigError(TcplabError):
    """Settings or environment variables are invalid."""


class UsageError(TcplabError):
    """A caller passed input that cannot be used; the message says what to pass instead."""


class DescriptorError(TcplabError):
    """A problem with a TCP descriptor."""


class EncodeError(DescriptorError):
    """The encoder refused input that cannot be represented (unknown flag, out of range...)."""


class DecodeError(DescriptorError):
    """Bytes that are not a structurally valid TCP v2 descriptor.

    Attributes:
        reasons: the failed checks as reason codes (``LENGTH``, ``MAGIC``, ``VERSION``,
            ``CHECKSUM``, ``HEX``), in check order.
    """

    def __init__(self, message: str, reasons: Sequence[str]) -> None:
        super().__init__(message)
        self.reasons: tuple[str, ...] = tuple(reasons)


class RegistryError(TcplabError):
    """A problem with a descriptor registry file."""


class RegistryFormatError(RegistryError):
    """A registry file is truncated, corrupted or of an unsupported version."""


class _ProblemsMixin:
    problems: tuple[str, ...]


class RegistryBuildError(RegistryError, _ProblemsMixin):
    """Input rows were refused while building a registry; nothing was written.

    Attributes:
        problems: one message per refused row, each naming its line number.
    """

    def __init__(self, message: str, problems: Sequence[str]) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class CommandNotFoundError(RegistryError, KeyError):
    """The registry holds no descriptor for the command."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "command not found"


class CorpusError(TcplabError):
    """Scanning tools or reading a corpus file failed."""


class LabelsError(TcplabError, _ProblemsMixin):
    """A labels file has problems.

    Attributes:
        problems: every problem found, each naming its line number.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class StoreError(TcplabError):
    """A result-store or artifact-store operation failed."""


class StoreUnavailableError(StoreError):
    """The database or object store cannot be reached (connection refused, DNS, timeout).

    The experiment engine catches this one and keeps running; ``tcplab runs sync`` can load
    the run later from its run directory.
    """


class StorePermissionError(StoreUnavailableError):
    """The server refused the credentials (wrong key, wrong password) or the operation."""


class ArtifactIntegrityError(StoreError):
    """A stored object does not match its ``manifest.json`` entry (SHA-256 or size)."""


class AcceleratorError(TcplabError):
    """A batch-decision backend (CPU, CUDA, FPGA) failed; see :mod:`tcplab.accel`."""


class AcceleratorUnavailableError(AcceleratorError):
    """The backend cannot run here (no GPU, driver, XRT or card); the message says why."""


class RunError(TcplabError):
    """An experiment run cannot proceed; the message says what to do (usually resume)."""


class ExecutionFailedError(RunError):
    """A job's execution failed after its backend's own retries (e.g. a Kubernetes Job past
    its ``backoffLimit``): the service fails the job at once instead of retrying it."""


class RunLockedError(RunError):
    """Another live process holds the run's lock."""


class WorkerLostError(RunError):
    """A worker process died (killed, out of memory); finished shards are kept."""


class MissingDependencyError(TcplabError, ImportError):
    """An optional dependency is missing; the message names the exact install command."""

    @classmethod
    def for_extra(cls, package: str, extra: str, feature: str) -> MissingDependencyError:
        """Build the error for ``feature`` needing ``package`` from the ``extra`` extra."""
        return cls(
            f"{feature} needs the '{package}' package, which is not installed. "
            f"Install it with: pip install 'tcplab[{extra}]'"
        )
