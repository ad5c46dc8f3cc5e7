"""Trial schema version 2 (confidence, label_decision) and reading version 1 files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tcplab.errors import UsageError
from tcplab.experiment.trials import (
    TRIAL_COLUMNS,
    TRIAL_SCHEMA,
    TRIAL_SCHEMA_VERSION,
    read_trial_files,
    to_table,
    write_shard,
)

_V2_ONLY = ("confidence", "label_decision")


def _rec(seq: int, **extra: object) -> dict[str, object]:
    return {"run_id": "r", "shard": 0, "seq": seq, "tool": "ls", "arm": "tcp", **extra}


def _write_v1(path: Path, n: int) -> None:
    """A file exactly as TRIAL_SCHEMA_VERSION 1 wrote it: no v2 columns, version 1 metadata."""
    table = to_table([_rec(i) for i in range(n)]).drop_columns(list(_V2_ONLY))
    table = table.set_column(0, "schema_version", pa.array([1] * n, pa.int16()))
    v1 = table.replace_schema_metadata({b"tcplab.trial_schema_version": b"1"})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(v1, path)


def test_version_2_has_the_nullable_columns_at_the_end() -> None:
    assert TRIAL_SCHEMA_VERSION == 2
    assert TRIAL_COLUMNS[-2:] == _V2_ONLY
    assert TRIAL_SCHEMA.field("confidence").type == pa.float64()
    assert TRIAL_SCHEMA.field("label_decision").type == pa.string()
    assert all(TRIAL_SCHEMA.field(c).nullable for c in _V2_ONLY)


def test_version_2_round_trip(tmp_path: Path) -> None:
    recs = [_rec(0, confidence=0.75, label_decision="CAUTION"), _rec(1)]
    path = write_shard(tmp_path, 0, recs)
    t = read_trial_files([path])
    assert t.schema == TRIAL_SCHEMA
    assert t["confidence"].to_pylist() == [0.75, None]
    assert t["label_decision"].to_pylist() == ["CAUTION", None]
    assert t["schema_version"].to_pylist() == [2, 2]


def test_version_1_file_reads_with_null_new_columns(tmp_path: Path) -> None:
    old = tmp_path / "old.parquet"
    _write_v1(old, 3)
    new = write_shard(tmp_path, 1, [_rec(9, confidence=0.5)])
    t = read_trial_files([old, new])
    assert t.schema == TRIAL_SCHEMA
    assert t["seq"].to_pylist() == [0, 1, 2, 9]
    assert t["confidence"].to_pylist() == [None, None, None, 0.5]
    assert t["label_decision"].null_count == 4
    assert t["schema_version"].to_pylist() == [1, 1, 1, 2]


def test_version_1_file_with_selected_columns(tmp_path: Path) -> None:
    old = tmp_path / "old.parquet"
    _write_v1(old, 2)
    t = read_trial_files([old], ["seq", "confidence", "label_decision"])
    assert t.column_names == ["seq", "confidence", "label_decision"]
    assert t["confidence"].type == pa.float64()
    assert t.to_pylist() == [
        {"seq": 0, "confidence": None, "label_decision": None},
        {"seq": 1, "confidence": None, "label_decision": None},
    ]
    assert read_trial_files([old], ["seq"]).column_names == ["seq"]


@pytest.mark.parametrize("version", [b"0", b"3", b"x"])
def test_unknown_versions_are_refused(tmp_path: Path, version: bytes) -> None:
    path = tmp_path / "future.parquet"
    meta = {b"tcplab.trial_schema_version": version}
    pq.write_table(to_table([_rec(0)]).replace_schema_metadata(meta), path)
    with pytest.raises(UsageError, match=r"future\.parquet"):
        read_trial_files([path])


def test_the_engine_records_an_assessments_confidence(tmp_path: Path) -> None:
    """An arm whose assessments carry ``confidence`` gets it in the trial column; others null."""
    from dataclasses import dataclass
    from typing import Any, ClassVar

    import yaml

    from tcplab.analyzers import (
        Analyzer,
        AnalyzerRegistry,
        Assessment,
        Status,
        ToolInput,
        default_registry,
    )
    from tcplab.descriptor import RiskLevel
    from tcplab.experiment import (
        InlineExecutor,
        load_spec,
        prepare_run,
        read_trials,
        run_experiment,
    )

    @dataclass(frozen=True, slots=True)
    class Confident(Assessment):
        confidence: float | None = None

    class ConfidentArm(Analyzer):
        name: ClassVar[str] = "confident"

        def describe(self) -> dict[str, Any]:
            return {"name": self.name}

        def _analyze(self, tool: ToolInput) -> Assessment:
            level = RiskLevel.SAFE
            return Confident(tool.name, self.name, Status.OK, level, confidence=0.25)

    registry = AnalyzerRegistry()
    registry.register("confident")(ConfidentArm)
    registry.register("fake")(default_registry().get("fake"))
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(
        yaml.safe_dump(
            {
                "spec_version": 1,
                "name": "confidence",
                "tools": {"kind": "list", "names": ["ls", "rm"]},
                "arms": [
                    {"name": "c", "analyzer": "confident"},
                    {"name": "f", "analyzer": "fake"},
                ],
                "executor": {"kind": "inline"},
                "warmup": 0,
            }
        )
    )
    spec = load_spec(spec_path, ["confident", "fake"])
    run_dir, _meta, _plan = prepare_run(spec, tmp_path, tmp_path / "runs", registry=registry)
    outcome = run_experiment(run_dir, executor=InlineExecutor(), registry=registry, use_store=False)
    assert outcome.status == "completed"
    rows = read_trials(run_dir, ["arm", "confidence"]).to_pylist()
    assert {r["arm"]: r["confidence"] for r in rows} == {"c": 0.25, "f": None}
