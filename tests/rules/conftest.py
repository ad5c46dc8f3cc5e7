"""Real man pages of this machine for the rule tests, scanned once per session."""

from __future__ import annotations

import shutil

import pytest

from tcplab.corpus import ToolDoc, scan_tools
from tcplab.rules import load_rules
from tcplab.rules._model import SHIPPED_RULES

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def example_tools() -> list[str]:
    names: set[str] = set()
    for ruleset in SHIPPED_RULES:
        rules = load_rules(ruleset)
        names |= {ex for r in [*rules.level_rules, *rules.capability_rules] for ex in r.examples}
    return sorted(names)


@pytest.fixture(scope="session")
def real_docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ToolDoc, str]]:
    """Each rule example tool's corpus row (scanned from its real man page) and real path."""
    bin_dir = tmp_path_factory.mktemp("example-bin")
    real: dict[str, str] = {}
    for name in example_tools():
        found = shutil.which(name, path=SYSTEM_PATH)
        if found is None:
            continue
        (bin_dir / name).symlink_to(found)
        real[name] = found
    result = scan_tools([bin_dir])
    return {row.name: (row, real[row.name]) for row in result.rows if row.name in real}
