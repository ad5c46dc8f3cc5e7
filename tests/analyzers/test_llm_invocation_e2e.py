"""The shipped examples/invocations.yaml through the real engine, its LLM arm answered by
``transformers serve`` running the tiny random model (tests/analyzers/llm_tiny.py).

The model's answers are noise: this checks the plumbing of invocation inputs for every arm of
the example (the command line and its first tool's man page in the prompt, decisions scored
against the labels), never accuracy. In CI (CI=true) a missing component fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
import yaml

from tcplab.analyzers import default_registry, load_inputs
from tcplab.check import score_trials
from tcplab.corpus import scan_tools, write_corpus
from tcplab.experiment import InlineExecutor, load_spec, prepare_run, read_trials, run_experiment
from tcplab.labels import read_invocation_labels
from tcplab.resources import resolve_data_ref
from tests.analyzers.llm_tiny import TinyServer, missing_components, running_tiny_server
from tests.conftest import in_ci

pytestmark = pytest.mark.slow

_missing = missing_components()
if _missing:  # pragma: no cover - environment dependent
    _why = f"the invocation llm test needs {', '.join(_missing)}"
    if in_ci():
        pytest.fail(_why, pytrace=False)
    pytest.skip(_why, allow_module_level=True)

from tcplab.analyzers.llm import LLMAnalyzer  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "invocations.yaml"
LINES = ["git status", "rm -rf /", "ls -la", "git push --force origin main"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyServer]:
    yield from running_tiny_server(tmp_path_factory.mktemp("tiny-llm"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bin_dir = tmp_path_factory.mktemp("bin")
    for name in ("git", "rm", "ls", "find"):
        target = shutil.which(name, path="/usr/bin:/bin")
        assert target, f"{name} is not installed"
        (bin_dir / name).symlink_to(target)
    rows = scan_tools([bin_dir]).rows
    return write_corpus(rows, tmp_path_factory.mktemp("corpus") / "corpus.parquet")


def test_prompt_names_the_line_and_carries_its_first_tools_page(corpus: Path) -> None:
    analyzer = LLMAnalyzer(base_url="http://127.0.0.1:9/v1", model="m", cache="off")
    (inp,) = load_inputs(["rm -rf /"], corpus)
    system, user = analyzer.template.messages(inp)
    assert "shell command line" in system["content"]
    assert (
        "Command line: rm -rf /" in user["content"] and "Documentation of `rm`" in user["content"]
    )
    assert "remove" in user["content"].lower()  # rm's man page
    (tool_msg,) = [m for m in analyzer.template.messages(load_inputs(["rm"], corpus)[0])][1:]
    assert "Tool: rm" in tool_msg["content"]  # a tool name keeps the tool prompt


def test_example_spec_runs_every_arm_on_command_lines(
    tiny: TinyServer, corpus: Path, tmp_path: Path
) -> None:
    raw: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    assert {a["analyzer"] for a in raw["arms"]} == {"invocation", "rules", "embedding", "llm"}
    assert raw["split"] == "dev"
    labels = read_invocation_labels(resolve_data_ref(raw["labels"], EXAMPLE.parent))
    assert all(labels.labels[ln].split == "dev" for ln in LINES)  # dev lines only
    for arm in raw["arms"]:
        if arm["analyzer"] == "llm":
            arm["params"].update(
                base_url=tiny.base_url, model=tiny.model, max_tokens=12, cache="off", timeout_s=60
            )
    raw.update(
        labels=str(labels.path),
        corpus=str(corpus),
        tools={"kind": "list", "names": LINES},
        iterations=1,
        warmup=0,
        executor={"kind": "inline"},
        limits={"max_trials": 100},
    )
    del raw["split"]  # a list of lines, not a split
    spec_path = tmp_path / "invocations.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    spec = load_spec(spec_path, default_registry().names())
    run_dir, _meta, _plan = prepare_run(spec, tmp_path, tmp_path / "runs")
    assert run_experiment(run_dir, executor=InlineExecutor()).status == "completed"
    t = read_trials(run_dir)
    assert t.num_rows == len(LINES) * 4
    assert set(t["label_decision"].to_pylist()) <= {
        "APPROVE",
        "REQUIRE_APPROVAL",
        "REJECT",
        "CAUTION",
    }
    llm = t.filter(pc.equal(t["arm"], "llm")).to_pylist()
    assert {r["status"] for r in llm} <= {"OK", "PARSE_FAILURE"}
    assert all(r["completion_tokens"] > 0 for r in llm)
    for r in llm:  # a failed answer is never an approval, and never counted correct
        if r["status"] != "OK":
            assert r["decision"] == "REQUIRE_APPROVAL" and r["correct"] is False
    scores = score_trials(run_dir)
    assert set(scores) == {"invocation", "rules", "embedding", "llm"}
    assert scores["invocation"]["unsafe_approval"]["count"] == 0
    assert scores["invocation"]["exact"]["count"] == len(LINES)  # dev lines, tuned on
