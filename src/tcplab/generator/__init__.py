"""Descriptor generation from documentation, and its evaluation against labels.

Generators (``tcplab descriptors generate --generator NAME``, see ``docs/generators.md``):
``rules`` (the default), the learned ``ordinal`` and ``knn`` with calibrated abstention, and
``ensemble`` (``ordinal`` with rules as upward overrides). :func:`get_generator` returns one by
name; :func:`generate_registry` writes its registry and explanation records.
"""

from tcplab.generator._abstain import (
    Abstention,
    calibration_error,
    choose_threshold,
    coverage_curve,
    decide_levels,
    reliability,
)
from tcplab.generator._base import (
    Generator,
    GeneratorContext,
    Prediction,
    generator_names,
    get_generator,
    register_generator,
)
from tcplab.generator._evaluate import Evaluation, decision_safety, evaluate_registry
from tcplab.generator._generate import (
    GenerationResult,
    default_explain_path,
    generate_registry,
    read_explanations,
)
from tcplab.generator._nested import C_GRID, NestedResult, nested_cross_validate, training_cv

__all__ = [
    "C_GRID",
    "Abstention",
    "Evaluation",
    "GenerationResult",
    "Generator",
    "GeneratorContext",
    "NestedResult",
    "Prediction",
    "calibration_error",
    "choose_threshold",
    "coverage_curve",
    "decide_levels",
    "decision_safety",
    "default_explain_path",
    "evaluate_registry",
    "generate_registry",
    "generator_names",
    "get_generator",
    "nested_cross_validate",
    "read_explanations",
    "register_generator",
    "reliability",
    "training_cv",
]
