"""Every rule fires on the real man page of each tool it was written for."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcplab.corpus import ToolDoc
from tcplab.descriptor import Decision, RiskLevel, decide
from tcplab.errors import ConfigError
from tcplab.rules import RuleEngine, load_rules, name_entry
from tcplab.rules._model import SHIPPED_RULES

from ..conftest import in_ci

RULES = load_rules()
RULESETS = {name: load_rules(name) for name in SHIPPED_RULES}
CASES = [
    pytest.param(name, rule, tool, id=f"{name.removesuffix('.yaml')}-{rule.id}-for-{tool}")
    for name, rules in RULESETS.items()
    for rule in [*rules.level_rules, *rules.capability_rules]
    for tool in rule.examples
]


@pytest.mark.parametrize(("ruleset", "rule", "tool"), CASES)
def test_rule_fires_on_the_tool_it_was_written_for(
    ruleset: str, rule: object, tool: str, real_docs: dict[str, tuple[ToolDoc, str]]
) -> None:
    if tool not in real_docs:
        if in_ci():
            pytest.fail(f"{tool} is not installed on this machine; CI needs it")
        pytest.skip(f"{tool} is not installed here")
    doc, real_path = real_docs[tool]
    assert doc.doc_source == "man", f"{tool} has no man page here"
    engine = RuleEngine(RULESETS[ruleset])
    texts = engine.texts(tool, doc.sections, real_path)
    rule_id = rule.id  # type: ignore[attr-defined]
    assert engine._fire(rule, texts), f"{rule_id} does not match {tool}: {texts['NAME']!r}"  # type: ignore[arg-type]
    verdict = engine.assess(tool, doc.sections, real_path)
    if hasattr(rule, "level"):  # an earlier rule may fire first, but must agree on the level
        assert verdict.level is RiskLevel[rule.level], verdict.explanation()
    else:
        for cap in rule.capabilities:  # type: ignore[attr-defined]
            assert cap in verdict.capabilities


def test_no_documentation_is_unknown_never_safe() -> None:
    verdict = RuleEngine(RULES).assess("mystery", {}, "/usr/bin/mystery")
    assert verdict.level is RiskLevel.UNKNOWN
    assert verdict.capabilities == ()
    assert "no documentation" in verdict.explanation()


def test_undocumented_behaviour_falls_back_to_default_level() -> None:
    verdict = RuleEngine(RULES).assess("zz", {"NAME": "zz - quux the frobnicator"})
    assert verdict.level is RiskLevel[RULES.default_level]
    assert "default" in verdict.reason


def test_name_entry_picks_the_tools_own_entry_of_a_shared_page() -> None:
    text = "bzip2, bunzip2 - a block-sorting file compressor bzcat - decompresses files to stdout"
    assert name_entry("bzcat", text) == "bzcat - decompresses files to stdout"
    assert name_entry("bunzip2", text).startswith("bzip2, bunzip2 - a block-sorting")
    assert "Compress or decompress" in name_entry(
        "lz4", "lz4 - lz4, unlz4, lz4cat - Compress or decompress .lz4 files"
    )


def test_rules_file_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("version: '1'\nlevel_rules:\n  - id: x\n    level: DEADLY\n    match: '('\n")
    with pytest.raises(ConfigError) as info:
        load_rules(bad)
    assert "level_rules.0.match" in str(info.value) and "level_rules.0.level" in str(info.value)
    with pytest.raises(ConfigError, match="cannot read rules file"):
        load_rules(tmp_path / "absent.yaml")


def test_shipped_rules_are_versioned_and_hashed() -> None:
    assert RULES.version == "3.0"  # the default
    assert RULESETS["rules_v1.yaml"].version == "1.0"
    assert len(RULES.sha256) == 64 and RULES.sha256 != RULESETS["rules_v1.yaml"].sha256
    assert RULES.sha256 != RULESETS["rules_v2.yaml"].sha256


def test_v3_is_v2_with_a_fallback_that_never_approves() -> None:
    v2, v3 = RULESETS["rules_v2.yaml"], RULESETS["rules_v3.yaml"]
    assert v3.level_rules == v2.level_rules and v3.capability_rules == v2.capability_rules
    assert v2.default_level == "LOW_RISK" and v3.default_level == "UNKNOWN"
    verdict = RuleEngine(v3).assess("zz", {"NAME": "zz - quux the frobnicator"})
    assert verdict.level is RiskLevel.UNKNOWN
    assert decide(verdict.level) is Decision.REQUIRE_APPROVAL


def test_extends_only_shipped_rule_sets(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("extends: /etc/passwd\nversion: x\n")
    with pytest.raises(ConfigError, match="only shipped rule sets"):
        load_rules(bad)
