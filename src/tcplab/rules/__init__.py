"""The rule engine: versioned rules over man-page text → risk level, capabilities, explanation."""

from tcplab.rules._engine import Firing, RuleEngine, RuleVerdict, name_entry
from tcplab.rules._model import CapabilityRule, LevelRule, RuleSet, load_rules

__all__ = [
    "CapabilityRule",
    "Firing",
    "LevelRule",
    "RuleEngine",
    "RuleSet",
    "RuleVerdict",
    "load_rules",
    "name_entry",
]
