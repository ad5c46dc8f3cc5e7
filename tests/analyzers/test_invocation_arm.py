"""The ``invocation`` arm decides whole command lines with tcplab.check."""

from __future__ import annotations

from tcplab.analyzers import Status, ToolInput, default_registry
from tcplab.descriptor import Decision, RiskLevel


def test_invocation_arm_decides_command_lines() -> None:
    registry = default_registry()
    assert "invocation" in registry.names()
    with registry.create("invocation") as arm:
        status = arm.analyze(ToolInput.bare("git status"))
        force = arm.analyze(ToolInput.bare("sudo git push --force origin main"))
        unknown = arm.analyze(ToolInput.bare("./deploy.sh"))
        hot = arm.hot_path()
        assert arm.describe()["knowledge_version"] == 1
    assert status.status is Status.OK and status.decision is Decision.APPROVE
    assert force.risk_level is RiskLevel.CRITICAL and force.decision is Decision.REJECT
    assert "PRIVILEGE_ESCALATION" in force.capabilities and "git#" in force.explanation
    assert unknown.decision is Decision.REQUIRE_APPROVAL
    assert hot is not None and hot("rm -rf /")[0] is Decision.REJECT
