"""The TCP v2 descriptor: one frozen 24-byte format (see ``docs/format.md``)."""

from tcplab.descriptor._batch import BatchResult, validate_batch, validate_batch_numpy
from tcplab.descriptor._codec import (
    DESCRIPTOR_SIZE,
    FORMAT_VERSION,
    MAGIC,
    Descriptor,
    checksum,
    command_hash,
    decode,
    encode,
    lint,
    parse_hex,
    unpack,
    validate,
)
from tcplab.descriptor._flags import Capability, Decision, Reason, RiskLevel, decide

__all__ = [
    "DESCRIPTOR_SIZE",
    "FORMAT_VERSION",
    "MAGIC",
    "BatchResult",
    "Capability",
    "Decision",
    "Descriptor",
    "Reason",
    "RiskLevel",
    "checksum",
    "command_hash",
    "decide",
    "decode",
    "encode",
    "lint",
    "parse_hex",
    "unpack",
    "validate",
    "validate_batch",
    "validate_batch_numpy",
]
