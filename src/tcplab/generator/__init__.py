"""Descriptor generation from documentation, and its evaluation against labels."""

from tcplab.generator._evaluate import Evaluation, evaluate_registry
from tcplab.generator._generate import (
    GenerationResult,
    default_explain_path,
    generate_registry,
    read_explanations,
)

__all__ = [
    "Evaluation",
    "GenerationResult",
    "default_explain_path",
    "evaluate_registry",
    "generate_registry",
    "read_explanations",
]
