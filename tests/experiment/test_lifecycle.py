"""The run lifecycle owned by the library: checks before the run exists, typed worker errors,
input fingerprints on resume, shards known from the plan, locking and liveness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tcplab.analyzers import AnalyzerRegistry
from tcplab.descriptor import encode
from tcplab.errors import (
    CorpusError,
    RegistryError,
    RunLockedError,
    UsageError,
    WorkerLostError,
)
from tcplab.experiment import (
    InlineExecutor,
    RunDir,
    completed_shards,
    load_spec,
    make_executor,
    prepare_run,
    read_trials,
    run_experiment,
)
from tcplab.registry import write_registry

from .conftest import LEVELS, TOOLS

TCPLAB = Path(sys.executable).with_name("tcplab")
KNOWN = ["tcp", "rules", "embedding", "llm", "fake"]

PLUGIN = textwrap.dedent(
    '''
    """An analyzer that lives outside tcplab (a user's plugin)."""
    import os
    from typing import Any, ClassVar

    from tcplab.analyzers import Analyzer, Assessment, Status, ToolInput
    from tcplab.descriptor import RiskLevel
    from tcplab.errors import UsageError


    class OutsideAnalyzer(Analyzer):
        name: ClassVar[str] = "outside"

        def __init__(
            self,
            fail_in_worker: int = 0,
            die_on: str | None = None,
            warn: str | None = None,
            **params: Any,
        ) -> None:
            super().__init__(**params)
            self.fail_in_worker = fail_in_worker
            self.die_on = die_on
            self.warn = warn

        def drain_warnings(self) -> list[str]:
            out, self.warn = ([self.warn] if self.warn else []), None
            return out

        def open(self) -> None:
            # fail_in_worker is the driver's pid, passed as a parameter: an environment
            # variable set by the test would not reach a forkserver started earlier.
            if self.fail_in_worker and self.fail_in_worker != os.getpid():
                raise UsageError("outside analyzer: the worker cannot load its model [/x]")
            super().open()

        def describe(self) -> dict[str, Any]:
            return {"name": self.name, "pid_free": True}

        def _analyze(self, tool: ToolInput) -> Assessment:
            if tool.name == self.die_on:
                import signal
                os.kill(os.getpid(), signal.SIGKILL)
            return Assessment(
                tool=tool.name, analyzer=self.name, status=Status.OK,
                risk_level=RiskLevel.SAFE, capabilities=(),
            )
    '''
)


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AnalyzerRegistry]:
    """A plugin module on PYTHONPATH (so every worker can import it), registered by hand."""
    pkg = tmp_path / "plugin_pkg"
    pkg.mkdir()
    (pkg / "outside_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(pkg))
    monkeypatch.setenv("PYTHONPATH", f"{pkg}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    import outside_plugin

    registry = AnalyzerRegistry()
    registry.register("outside")(outside_plugin.OutsideAnalyzer)
    yield registry
    sys.modules.pop("outside_plugin", None)


def _outside_spec(write_spec: Callable[..., Path], **params: object) -> Path:
    return write_spec(
        arms=[{"name": "outside", "analyzer": "outside", "params": params}],
        iterations=1,
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["local", "ray"])
def test_analyzer_registered_outside_the_package_reaches_workers(
    kind: str, plugin: AnalyzerRegistry, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    path = _outside_spec(write_spec)
    spec = load_spec(path, [*KNOWN, "outside"])
    run_dir, _rec, plan = prepare_run(spec, path.parent, tmp_path / "runs", registry=plugin)
    outcome = run_experiment(
        run_dir, executor=make_executor(kind, 2), registry=plugin, use_store=False
    )
    assert outcome.status == "completed"
    t = read_trials(run_dir, ["analyzer", "status"])
    assert t.num_rows == plan.n_trials
    assert set(t["analyzer"].to_pylist()) == {"outside"}
    assert set(t["status"].to_pylist()) == {"OK"}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["local", "ray"])
def test_worker_start_error_comes_back_as_the_same_typed_error(
    kind: str, plugin: AnalyzerRegistry, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    path = _outside_spec(write_spec, fail_in_worker=os.getpid())
    spec = load_spec(path, [*KNOWN, "outside"])
    run_dir, _rec, _plan = prepare_run(spec, path.parent, tmp_path / "runs", registry=plugin)
    with pytest.raises(UsageError, match=r"the worker cannot load its model \[/x\]") as info:
        run_experiment(run_dir, executor=make_executor(kind, 2), registry=plugin, use_store=False)
    assert "BrokenProcessPool" not in str(info.value)
    record = RunDir(run_dir).read_record()
    assert record.status == "failed"
    assert record.error is not None and "cannot load its model" in record.error
    assert record.owner is None


def test_spec_that_cannot_run_leaves_no_run_directory(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.tcpdb"
    path = write_spec(arms=[{"name": "t", "analyzer": "tcp", "params": {"registry": str(missing)}}])
    spec = load_spec(path, KNOWN)
    with pytest.raises(RegistryError, match="does not exist"):
        prepare_run(spec, path.parent, tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_cli_run_with_empty_home_is_one_line_and_creates_no_run(tmp_path: Path) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    env = {**os.environ, "TCPLAB_HOME": str(home)}
    spec = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"
    res = subprocess.run(
        [str(TCPLAB), "run", str(spec), "--no-db"], capture_output=True, text=True, env=env
    )
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and "BrokenProcessPool" not in res.stderr
    assert res.stderr.strip().count("\n") == 0, res.stderr
    assert "does not exist" in res.stderr
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())


def test_missing_corpus_is_an_error_for_documentation_arms(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_spec(
        corpus=str(tmp_path / "no-such-corpus.parquet"),
        arms=[{"name": "rules", "analyzer": "rules"}],
    )
    spec = load_spec(path, KNOWN)
    with pytest.raises(CorpusError, match=r"corpus: .* does not exist, and an arm reads"):
        prepare_run(spec, path.parent, tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def _stop_after_first_shard() -> Callable[[], str | None]:
    calls = {"n": 0}

    def stop() -> str | None:
        calls["n"] += 1
        return "test interrupt" if calls["n"] >= 1 else None

    return stop


def _partial_run(write_spec: Callable[..., Path], tmp_path: Path) -> Path:
    path = write_spec()
    run_dir, _rec, plan = prepare_run(load_spec(path, KNOWN), path.parent, tmp_path / "runs")
    out = run_experiment(
        run_dir,
        executor=InlineExecutor(),
        use_store=False,
        should_stop=_stop_after_first_shard(),
    )
    assert out.status == "cancelled" and out.shards_run == 1 < plan.n_shards
    return run_dir


def test_resume_refuses_when_the_registry_changed(
    write_spec: Callable[..., Path], lab: dict[str, Path], tmp_path: Path
) -> None:
    run_dir = _partial_run(write_spec, tmp_path)
    write_registry(lab["registry"], [(t, encode(t, LEVELS[4])) for t in TOOLS])  # regenerated
    with pytest.raises(UsageError, match=r"inputs changed.*arm 'tcp'.*registry_sha256"):
        run_experiment(run_dir, executor=InlineExecutor(), use_store=False)
    assert RunDir(run_dir).read_record().status == "cancelled"


def test_resume_refuses_when_the_labels_changed(
    write_spec: Callable[..., Path], lab: dict[str, Path], tmp_path: Path
) -> None:
    run_dir = _partial_run(write_spec, tmp_path)
    lab["labels"].write_text(lab["labels"].read_text().replace("tool01,LOW_RISK", "tool01,SAFE"))
    with pytest.raises(UsageError, match=r"labels changed"):
        run_experiment(run_dir, executor=InlineExecutor(), use_store=False)


def test_resume_with_unchanged_inputs_completes_exactly_once(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _partial_run(write_spec, tmp_path)
    out = run_experiment(run_dir, executor=InlineExecutor(), use_store=False)
    assert out.status == "completed"
    seqs = read_trials(run_dir, ["seq"])["seq"].to_pylist()
    assert sorted(seqs) == list(range(RunDir(run_dir).read_record().n_trials))


def _complete_run(write_spec: Callable[..., Path], tmp_path: Path) -> Path:
    path = write_spec()
    run_dir, _rec, _plan = prepare_run(load_spec(path, KNOWN), path.parent, tmp_path / "runs")
    assert run_experiment(run_dir, executor=InlineExecutor(), use_store=False).status == (
        "completed"
    )
    return run_dir


def test_stray_shard_file_is_ignored_not_counted(
    write_spec: Callable[..., Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_dir = _complete_run(write_spec, tmp_path)
    n = RunDir(run_dir).read_record().n_trials
    src = run_dir / "trials" / "shard-000000.parquet"
    (run_dir / "trials" / "shard-009999.parquet").write_bytes(src.read_bytes())
    with caplog.at_level("WARNING", logger="tcplab"):
        assert read_trials(run_dir, ["seq"]).num_rows == n
    assert "shard-009999.parquet: not a shard of this run's plan" in caplog.text


def test_truncated_shard_is_named_and_rerun_by_resume(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _complete_run(write_spec, tmp_path)
    shard = run_dir / "trials" / "shard-000001.parquet"
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(UsageError, match=r"shard-000001\.parquet: corrupt shard.*--resume"):
        read_trials(run_dir)
    assert 1 not in completed_shards(run_dir)
    out = run_experiment(run_dir, executor=InlineExecutor(), use_store=False)
    assert out.status == "completed" and out.shards_run == 1
    t = read_trials(run_dir, ["seq"])
    assert sorted(t["seq"].to_pylist()) == list(range(RunDir(run_dir).read_record().n_trials))
    assert list((run_dir / "trials").glob("shard-000001.parquet.corrupt-*"))  # kept, not deleted
    assert "shard 1 was corrupt" in " ".join(RunDir(run_dir).read_record().warnings)


def test_shard_written_before_a_crash_is_adopted_on_resume(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _partial_run(write_spec, tmp_path)
    rd = RunDir(run_dir)
    rec = rd.read_record()
    rec.shards.clear()  # as if killed between the shard rename and the run.json update
    rd.write_record(rec)
    assert completed_shards(run_dir) == {0}
    out = run_experiment(run_dir, executor=InlineExecutor(), use_store=False)
    assert out.shards_run == rec.n_shards - 1
    assert pq.read_metadata(run_dir / "trials" / "shard-000000.parquet").num_rows > 0


def test_concurrent_resume_is_refused_while_the_lock_is_held(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _partial_run(write_spec, tmp_path)
    rd = RunDir(run_dir)
    code = (
        "import sys, time\n"
        "from tcplab.experiment import RunDir\n"
        f"rd = RunDir({str(run_dir)!r})\n"
        "with rd.lock(rd.read_record()):\n"
        "    print('locked', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert rd.is_locked()
        with pytest.raises(RunLockedError, match="is being executed by"):
            run_experiment(run_dir, executor=InlineExecutor(), use_store=False)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
    assert not rd.is_locked()


def test_killed_run_is_shown_as_dead_not_running(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_spec(shard_size=1, iterations=20)
    env = {**os.environ, "TCPLAB_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [str(TCPLAB), "run", str(path), "--no-db", "--out", str(tmp_path / "runs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        run_dir = None
        for _ in range(600):
            found = list((tmp_path / "runs").glob("*/trials/shard-*.parquet"))
            if found:
                run_dir = found[0].parents[1]
                break
            proc.poll()
            if proc.returncode is not None:
                break
            import time

            time.sleep(0.05)
        assert run_dir is not None, "the run wrote no shard"
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    rd = RunDir(run_dir)
    rec = rd.read_record()
    assert rec.status == "running" and rec.owner is not None
    assert rd.liveness(rec) == "dead"
    res = subprocess.run(
        [str(TCPLAB), "runs", "show", str(run_dir), "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    shown = json.loads(res.stdout)
    assert shown["liveness"] == "dead" and shown["owner"]["pid"] == proc.pid


def test_executor_cancel_and_close_are_safe_in_every_state() -> None:
    for kind in ("inline", "local"):
        ex = make_executor(kind, 1)
        assert ex.state == "new"
        ex.cancel()
        ex.close()
        ex.close()
        assert ex.state == "closed"
        with pytest.raises(UsageError, match="closed"):
            ex.start(None)  # type: ignore[arg-type]


@pytest.mark.slow
def test_worker_killed_mid_run_is_a_typed_error_and_the_run_stays_resumable(
    plugin: AnalyzerRegistry, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    path = _outside_spec(write_spec, die_on="tool05")
    spec = load_spec(path, [*KNOWN, "outside"])
    run_dir, _rec, _plan = prepare_run(spec, path.parent, tmp_path / "runs", registry=plugin)
    with pytest.raises(WorkerLostError, match=r"worker process died.*--resume"):
        run_experiment(
            run_dir, executor=make_executor("local", 1), registry=plugin, use_store=False
        )
    assert RunDir(run_dir).read_record().status == "failed"


def test_unknown_run_schema_version_is_a_clear_error(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _complete_run(write_spec, tmp_path)
    doc = json.loads((run_dir / "run.json").read_text())
    doc["schema_version"] = 99
    (run_dir / "run.json").write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="run schema version 99 is not supported"):
        RunDir(run_dir).read_record()
    for bad in ("", "[]", "{not json", '{"schema_version": 2}'):
        (run_dir / "run.json").write_text(bad)
        with pytest.raises(UsageError, match=r"run\.json"):
            RunDir(run_dir).read_record()


def test_library_run_finishes_like_the_cli(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    path = write_spec()
    run_dir, _rec, _plan = prepare_run(load_spec(path, KNOWN), path.parent, tmp_path / "runs")
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    out = run_experiment(
        run_dir, executor=InlineExecutor(), db=db, artifacts=str(tmp_path / "artifacts")
    )
    assert out.status == "completed"
    assert out.stored_in is not None and out.artifacts_url is not None
    assert (tmp_path / "artifacts").exists()
    from tcplab.store import open_store

    with open_store(db) as store:
        rows = [r for r in store.query_results() if r["run_id"] == out.run_id]
    assert {r["arm"] for r in rows} == {"tcp", "fake"}
    assert len(rows) == 2 * len(TOOLS)


def test_adopted_shard_reaches_the_result_store_on_resume(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    """Killed between the shard file and the database write: resume writes it to the store."""
    pytest.importorskip("sqlalchemy")
    import sqlite3

    run_dir = _partial_run(write_spec, tmp_path)  # shard 0 on disk, never in the database
    rd = RunDir(run_dir)
    rec = rd.read_record()
    rec.shards.clear()
    rd.write_record(rec)
    db_file = tmp_path / "store.sqlite"
    out = run_experiment(run_dir, executor=InlineExecutor(), db=f"sqlite:///{db_file}")
    assert out.status == "completed"
    with sqlite3.connect(db_file) as con:
        (n,) = con.execute("SELECT count(*) FROM trials WHERE run_id = ?", (out.run_id,)).fetchone()
        (distinct,) = con.execute(
            "SELECT count(DISTINCT seq) FROM trials WHERE run_id = ?", (out.run_id,)
        ).fetchone()
    assert n == distinct == rec.n_trials


def test_arm_warnings_reach_the_run_record_from_workers(
    plugin: AnalyzerRegistry, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    """An arm's warning (e.g. a saturated LLM client) raised in a worker process is kept in
    run.json once, prefixed with the arm, and returned to the caller."""
    path = _outside_spec(write_spec, warn="client could not keep up [/x]")
    spec = load_spec(path, [*KNOWN, "outside"])
    run_dir, _rec, _plan = prepare_run(spec, path.parent, tmp_path / "runs", registry=plugin)
    out = run_experiment(
        run_dir, executor=make_executor("local", 1), registry=plugin, use_store=False
    )
    expected = "arm outside: client could not keep up [/x]"
    warnings = RunDir(run_dir).read_record().warnings  # a busy machine may add its own
    assert warnings.count(expected) == 1
    assert expected in out.warnings
