"""tcplab: honest, reproducible experiments on the Tool Capability Protocol (TCP).

The curated top level re-exports the names most users need; everything else lives in its
package (``tcplab.descriptor``, ``tcplab.registry``, ``tcplab.corpus``, ``tcplab.labels``,
``tcplab.rules``, ``tcplab.generator``, ``tcplab.analyzers``, ``tcplab.experiment``,
``tcplab.stats``, ``tcplab.report``, ``tcplab.store``). Importing it loads no optional SDK.
"""

from importlib.metadata import PackageNotFoundError, version

from tcplab.descriptor import Capability, Decision, RiskLevel, decode, encode, validate_batch
from tcplab.errors import TcplabError
from tcplab.registry import DecisionCache, Registry

try:
    __version__ = version("tcplab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "Capability",
    "Decision",
    "DecisionCache",
    "Registry",
    "RiskLevel",
    "TcplabError",
    "__version__",
    "decode",
    "encode",
    "validate_batch",
]
