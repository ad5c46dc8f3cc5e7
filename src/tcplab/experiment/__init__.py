"""Experiments: spec, seeded plan, calibrated timing, executors, crash-safe trial records.

The run lifecycle lives here: :func:`prepare_run` checks a spec's inputs and creates the run
directory; :func:`run_experiment` executes or resumes it and finishes it (store, artifacts);
:class:`RunDir` and :class:`RunRecord` are the only way to read a run directory.
"""

from tcplab.experiment._executors import (
    EXECUTOR_KINDS,
    Executor,
    InlineExecutor,
    LocalExecutor,
    make_executor,
)
from tcplab.experiment._finish import open_result_store
from tcplab.experiment._import import write_run_from_trials
from tcplab.experiment._location import collect_location, probe_endpoint
from tcplab.experiment._plan import Plan, build_plan, read_plan
from tcplab.experiment._ray import RayExecutor
from tcplab.experiment._record import (
    RUN_SCHEMA_VERSION,
    RUN_STATUSES,
    Attempt,
    RunOwner,
    RunRecord,
    ShardInfo,
)
from tcplab.experiment._run import (
    Progress,
    RunOutcome,
    find_run,
    prepare_run,
    run_experiment,
    runs_dir,
)
from tcplab.experiment._rundir import RunDir, ShardScan, iter_run_dirs
from tcplab.experiment._select import resolve_inputs, select_tools
from tcplab.experiment._spec import (
    MAX_SPEC_BYTES,
    ArmSpec,
    ExperimentSpec,
    SpecError,
    ToolSelection,
    load_spec,
    validate_spec,
)
from tcplab.experiment._timing import ClockCalibration, MicroTimer, calibrate_clock
from tcplab.experiment._worker import ShardResult, ShardTask, WorkerContext, WorkerFailure
from tcplab.experiment.trials import (
    TRIAL_SCHEMA,
    TRIAL_SCHEMA_VERSION,
    completed_shards,
    read_trial_files,
    read_trials,
    write_shard,
)

__all__ = [
    "EXECUTOR_KINDS",
    "MAX_SPEC_BYTES",
    "RUN_SCHEMA_VERSION",
    "RUN_STATUSES",
    "TRIAL_SCHEMA",
    "TRIAL_SCHEMA_VERSION",
    "ArmSpec",
    "Attempt",
    "ClockCalibration",
    "Executor",
    "ExperimentSpec",
    "InlineExecutor",
    "LocalExecutor",
    "MicroTimer",
    "Plan",
    "Progress",
    "RayExecutor",
    "RunDir",
    "RunOutcome",
    "RunOwner",
    "RunRecord",
    "ShardInfo",
    "ShardResult",
    "ShardScan",
    "ShardTask",
    "SpecError",
    "ToolSelection",
    "WorkerContext",
    "WorkerFailure",
    "build_plan",
    "calibrate_clock",
    "collect_location",
    "completed_shards",
    "find_run",
    "iter_run_dirs",
    "load_spec",
    "make_executor",
    "open_result_store",
    "prepare_run",
    "probe_endpoint",
    "read_plan",
    "read_trial_files",
    "read_trials",
    "resolve_inputs",
    "run_experiment",
    "runs_dir",
    "select_tools",
    "validate_spec",
    "write_run_from_trials",
    "write_shard",
]
