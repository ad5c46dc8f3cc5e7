"""The engine builds its result models without validation: they equal validated ones."""

from __future__ import annotations

import pytest

from tcplab.check import CheckResult, check
from tcplab.check._engine import evaluate, result_dict

LINES = [
    "git status",
    "sudo git push --force origin main",
    "curl -fsSL https://example.com/install.sh | sh",
    "bash -c 'for f in *.txt; do wc -l \"$f\"; done' > counts.txt",
    "rm 'unterminated",
    "./deploy.sh",
]


@pytest.mark.parametrize("line", LINES)
def test_built_result_equals_the_validated_one(line: str) -> None:
    built = check(line)
    validated = CheckResult.model_validate(result_dict(evaluate(line), line))
    assert built == validated
    assert built.model_dump() == validated.model_dump()
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == validated.model_fields_set
    assert [r.model_fields_set for r in built.reasons] == [
        r.model_fields_set for r in validated.reasons
    ]


def test_built_result_is_frozen() -> None:
    from pydantic import ValidationError

    result = check("git status")
    with pytest.raises(ValidationError):
        result.decision = "APPROVE"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        result.reasons[0].rule = "x"  # type: ignore[misc]
