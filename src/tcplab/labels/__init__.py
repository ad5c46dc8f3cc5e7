"""Ground-truth labels: the file format, checks, the dev/test split, labeler agreement."""

from tcplab.labels._agree import AgreementReport, agreement
from tcplab.labels._invocations import (
    INVOCATION_COLUMNS,
    InvocationLabel,
    InvocationLabelSet,
    check_invocation_labels,
    invocation_agreement,
    invocation_group,
    invocation_split_of,
    is_invocation_file,
    read_invocation_labels,
)
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
    "INVOCATION_COLUMNS",
    "AgreementReport",
    "InvocationLabel",
    "InvocationLabelSet",
    "Label",
    "LabelSet",
    "Split",
    "agreement",
    "check_invocation_labels",
    "check_labels",
    "invocation_agreement",
    "invocation_group",
    "invocation_split_of",
    "is_invocation_file",
    "read_invocation_labels",
    "read_labels",
    "split_of",
]
