"""The knowledge compiled into a v3 registry decides exactly like the YAML it came from."""

from __future__ import annotations

import ast
import csv
import random
from importlib import resources
from pathlib import Path

import pytest
import yaml

from tcplab.check import build_registry, check
from tcplab.check._compiled import CompiledKnowledge, RegistryView, build_nodes, knowledge_meta
from tcplab.check._engine import _Ctx, _text
from tcplab.check._knowledge import Knowledge, load_knowledge
from tcplab.check._sources import Sources, _V2View, shipped_knowledge, shipped_paths
from tcplab.descriptor import encode
from tcplab.registry import Registry, Tree, write_registry
from tcplab.registry._tree import tree_bytes


def _lines() -> list[str]:
    out = set()
    for f in Path(__file__).parent.glob("test_*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.add(node.value)
    rng = random.Random(7)
    text = "git push status -f --force -n rm -rf / find -delete -exec sed -i dd of=/dev/sda "
    text += "docker run --privileged kubectl delete apt-get install -y tar xzf curl -o x"
    words = text.split()
    for _ in range(2000):
        out.add(" ".join(rng.choice(words) for _ in range(rng.randint(1, 6))))
    # the labelled dev lines, and long-tail tools with flags that lower or take values
    labels = resources.files("tcplab").joinpath("data/labels")
    for name in ("invocations-v1.csv", "invocations-v2-test.csv"):
        with labels.joinpath(name).open(encoding="utf-8") as f:
            out.update(row["command_line"] for row in csv.DictReader(f))
    tools = sorted(load_knowledge().tools)
    flags = "-n -l -L -s -S -x -o -c -d -t --dry-run --list --output --delete -avn -Enodiscard"
    for _ in range(3000):
        picked = rng.sample(flags.split(), rng.randint(1, 3))
        out.add(" ".join([rng.choice(tools), *picked, rng.choice(["/dev/sdb", "x.txt", "y"])]))
    return sorted(s for s in out if 0 < len(s) < 400)


def _parts(sources: Sources, line: str) -> list[tuple[object, ...]]:
    ctx = _Ctx(sources)
    _text(ctx, line, 0)
    return list(ctx.parts)


def test_shipped_compiled_file_is_a_rebuild_of_the_yaml(tmp_path: Path) -> None:
    _yaml, tcpdb = shipped_paths()
    build_registry(tmp_path / "k.tcpdb")
    assert (tmp_path / "k.tcpdb").read_bytes() == tcpdb.read_bytes(), (
        f"rebuild it: python -c 'from tcplab.check import build_registry as b; b(\"{tcpdb}\")'"
    )
    assert isinstance(shipped_knowledge(), CompiledKnowledge)


def test_compiled_knowledge_decides_like_the_yaml() -> None:
    compiled = Sources(shipped_knowledge(), None, None)
    plain = Sources(load_knowledge(), None, None)
    assert isinstance(plain.knowledge, Knowledge)
    for line in _lines():
        assert _parts(compiled, line) == _parts(plain, line), line


def test_v3_registry_merged_with_a_tool_registry_decides_like_v2_plus_yaml(
    tmp_path: Path,
) -> None:
    entries = {"mytool": "LOW_RISK", "git": "HIGH_RISK", "git push": "CRITICAL", "rm": "SAFE"}
    v2 = tmp_path / "tools.tcpdb"
    write_registry(v2, [(n, encode(n, lvl)) for n, lvl in entries.items()])
    v3 = tmp_path / "tree.tcpdb"
    build_registry(v3, v2)
    reg2, reg3 = Registry(v2), Registry(v3)
    assert reg3.version == 3 and reg2.version == 1
    old = Sources(load_knowledge(), _V2View(reg2), reg2)
    tree = Tree(reg3)
    new = Sources(CompiledKnowledge(tree), RegistryView(tree), reg3)
    for line in [*_lines(), "mytool x", "git push", "git status", "rm -rf /"]:
        assert _parts(new, line) == _parts(old, line), line
    assert check("mytool", registry=v3).decision == "APPROVE"
    assert check("mytool", registry=v3).reasons[0].rule == "mytool"
    assert check("git push", registry=v3).decision == check("git push", registry=v2).decision
    assert check("git push", registry=v3).registry == str(v3)


def test_explain_names_where_each_node_came_from() -> None:
    knowledge = shipped_knowledge()
    assert isinstance(knowledge, CompiledKnowledge)
    rules = yaml.safe_load(shipped_paths()[0].read_text(encoding="utf-8"))["tools"]["git"]["rules"]
    i = next(
        i
        for i, r in enumerate(rules)
        if r.get("sub") == ["push"] and "--force" in r.get("flags", [])
    )
    info = knowledge.explain(f"git#{i + 1}")  # push --force
    assert info is not None
    assert info["path"] == ["git", "git push", f"git#{i + 1}"]
    assert info["kind"] == "pattern" and info["effect"] == "raise"
    assert info["risk_level"] == "CRITICAL"
    assert info["source"].endswith(f"invocations_v1.yaml: tools.git.rules[{i}]")
    assert knowledge.explain("git push")["kind"] == "subcommand"  # type: ignore[index]
    assert knowledge.explain("no such node") is None


def test_a_stale_missing_or_damaged_compiled_file_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tcplab.check import _sources

    yaml_path, _ = shipped_paths()
    text = yaml_path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    (tmp_path / "k.yaml").write_text(text, encoding="utf-8")
    compiled = tmp_path / "k.tcpdb"
    monkeypatch.setattr(_sources, "shipped_paths", lambda: (tmp_path / "k.yaml", compiled))

    def fresh() -> object:
        _sources._SHIPPED.clear()
        return shipped_knowledge()

    try:
        compiled.write_bytes(tree_bytes(build_nodes(raw, "k.yaml"), knowledge_meta(text, "k", raw)))
        assert isinstance(fresh(), CompiledKnowledge)  # matches the YAML: used
        stale = knowledge_meta(text + "\n# edited", "k", raw)
        compiled.write_bytes(tree_bytes(build_nodes(raw, "k.yaml"), stale))
        assert isinstance(fresh(), Knowledge)  # older than the YAML: the YAML is compiled
        compiled.write_bytes(b"not a registry")
        assert isinstance(fresh(), Knowledge)  # damaged
        compiled.unlink()
        assert isinstance(fresh(), Knowledge)  # missing
    finally:
        _sources._SHIPPED.clear()


def test_registry_names_clashing_with_pattern_nodes_are_refused(tmp_path: Path) -> None:
    from tcplab.errors import UsageError

    v2 = tmp_path / "tools.tcpdb"
    write_registry(v2, [("rm#1", encode("rm#1", "SAFE"))])
    with pytest.raises(UsageError, match="clashes"):
        build_registry(tmp_path / "out.tcpdb", v2)


def test_knowledge_refuses_unknown_keys() -> None:
    """A misspelt condition must not leave an unconditional rule (`set` would lower every line)."""
    from tcplab.errors import TcplabError

    base = {"version": 1, "defaults": [], "tools": {}}
    misspelt = {
        "foo": {"level": "HIGH_RISK", "rules": [{"effect": "set", "flag": ["-l"], "level": "SAFE"}]}
    }
    with pytest.raises(TcplabError, match=r"tools\.foo\.rules\[0\]: unknown keys \['flag'\]"):
        Knowledge({**base, "tools": misspelt}, "k.yaml")
    with pytest.raises(TcplabError, match=r"tools\.bar: unknown keys \['levle'\]"):
        Knowledge({**base, "tools": {"bar": {"levle": "SAFE"}}}, "k.yaml")
    # a why with a comma must be quoted in flow style, or it becomes stray keys
    raw = yaml.safe_load("tools: {baz: {level: SAFE, why: reads, writes}}")
    with pytest.raises(TcplabError, match="unknown keys"):
        Knowledge({**base, "tools": raw["tools"]}, "k.yaml")


def test_knowledge_file_names_each_tool_once() -> None:
    """YAML keeps the last of two equal keys silently: a second entry would hide the first."""
    text, _tcpdb = shipped_paths()
    root = yaml.compose(text.read_text(encoding="utf-8"))
    tools = next(v for k, v in root.value if k.value == "tools")
    names = [k.value for k, _ in tools.value]
    assert len(names) > 1200
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
