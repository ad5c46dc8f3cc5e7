"""Ground-truth labels: the file format, checks, the dev/test split, labeler agreement."""

from tcplab.labels._agree import AgreementReport, agreement
from tcplab.labels._io import (
    COLUMNS,
    Label,
    LabelSet,
    Split,
    check_labels,
    read_labels,
    split_of,
)

__all__ = [
    "COLUMNS",
    "AgreementReport",
    "Label",
    "LabelSet",
    "Split",
    "agreement",
    "check_labels",
    "read_labels",
    "split_of",
]
