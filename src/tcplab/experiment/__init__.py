"""Experiments: spec, seeded plan, calibrated timing, executors, crash-safe trial records."""

from tcplab.experiment._executors import (
    Executor,
    InlineExecutor,
    LocalExecutor,
    RayExecutor,
    make_executor,
)
from tcplab.experiment._plan import Plan, build_plan, read_plan
from tcplab.experiment.trials import (
    TRIAL_SCHEMA,
    TRIAL_SCHEMA_VERSION,
    completed_shards,
    read_trials,
    write_shard,
)
from tcplab.experiment._run import (
    RUN_SCHEMA_VERSION,
    Progress,
    RunOutcome,
    find_run,
    prepare_run,
    run_experiment,
    runs_dir,
)
from tcplab.experiment._spec import ExperimentSpec, SpecError, load_spec, validate_spec
from tcplab.experiment._timing import ClockCalibration, MicroTimer, calibrate_clock

__all__ = [
    "RUN_SCHEMA_VERSION",
    "TRIAL_SCHEMA",
    "TRIAL_SCHEMA_VERSION",
    "ClockCalibration",
    "Executor",
    "ExperimentSpec",
    "InlineExecutor",
    "LocalExecutor",
    "MicroTimer",
    "Plan",
    "Progress",
    "RayExecutor",
    "RunOutcome",
    "SpecError",
    "build_plan",
    "calibrate_clock",
    "completed_shards",
    "find_run",
    "load_spec",
    "make_executor",
    "prepare_run",
    "read_plan",
    "read_trials",
    "run_experiment",
    "runs_dir",
    "validate_spec",
    "write_shard",
]
