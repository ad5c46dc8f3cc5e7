"""Flag rules generated from real man pages: raise-only, with their source shown by explain."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tcplab.check import (
    GENERATOR,
    build_registry,
    check,
    decide_line,
    explain_rule,
    generate_flag_rules,
)
from tcplab.check._generate import option_entries
from tcplab.corpus import ToolDoc, scan_tools
from tcplab.labels import read_invocation_labels
from tcplab.resources import resolve_data_ref

TOOLS = ("rm", "shred", "sed", "ls", "find")
_SEVERITY = {"SAFE": 0, "LOW_RISK": 1, "MEDIUM_RISK": 2, "HIGH_RISK": 3, "CRITICAL": 4}


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list[ToolDoc]:
    if shutil.which("groff") is None:  # pragma: no cover - environment dependent
        pytest.fail("groff is needed to render the man pages", pytrace=False)
    bin_dir = tmp_path_factory.mktemp("bin")
    for name in TOOLS:
        target = shutil.which(name, path="/usr/bin:/bin")
        assert target, f"{name} is not installed"
        (bin_dir / name).symlink_to(target)
    rows = scan_tools([bin_dir]).rows
    assert all(r.doc_text for r in rows)
    return list(rows)


@pytest.fixture(scope="module")
def generated(pages: list[ToolDoc], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "generated.tcpdb"
    build_registry(out, generated=generate_flag_rules(pages))
    return out


def test_option_entries_of_a_rendered_section() -> None:
    text = "-f, --force\n       ignore nonexistent files\n\n-i     prompt before every removal\n"
    assert option_entries(text) == [
        ("-f, --force", ["-f", "--force"], "ignore nonexistent files"),
        ("-i", ["-i"], "prompt before every removal"),
    ]


def test_rules_from_real_pages_only_raise(pages: list[ToolDoc]) -> None:
    rules = generate_flag_rules(pages)
    rm = {f for r in rules["rm"] for f in r["flags"]}
    assert {"-r", "--recursive"} <= rm and "-f" not in rm  # -f: "ignore nonexistent files"
    assert any("-u" in r["flags"] or "--remove" in r["flags"] for r in rules["shred"])
    for tool_rules in rules.values():
        for r in tool_rules:
            assert r["effect"] == "raise" and _SEVERITY[r["level"]] >= _SEVERITY["MEDIUM_RISK"]
            assert r["source"].startswith(f"generated ({GENERATOR}) from ")
            assert "--help" not in r["flags"] and "--version" not in r["flags"]
    assert generate_flag_rules(pages, tools=["ls"]).keys() <= {"ls"}


def test_explain_shows_the_generated_source(generated: Path) -> None:
    result = check("rm -r build/", registry=generated)
    sources = [explain_rule(r.rule, generated, r.source) for r in result.reasons]
    gen = [s for s in sources if s and "generated" in str(s["source"])]
    assert gen and "rm.1.gz: OPTIONS '-r, -R, --recursive'" in str(gen[0]["source"])
    assert gen[0]["kind"] == "pattern" and gen[0]["path"][0] == "rm"


def test_generated_rules_never_add_an_approval_on_the_dev_lines(generated: Path) -> None:
    labels = read_invocation_labels(resolve_data_ref("tcplab:labels/invocations-v1.csv", Path()))
    for lb in labels.subset("dev"):  # dev only: the test split is not for generation work
        with_generated = decide_line(lb.command_line, generated)[0].value
        if with_generated == "APPROVE":
            assert decide_line(lb.command_line)[0].value == "APPROVE", lb.command_line
