"""Resource requests of a job, from its plan (formula version 1; docs/service.md).

    processes  = 1 for inline and ray executors (ray: the trials run on the cluster; only the
                 driver runs on the worker), else the spec's executor.workers
    cpu        = min(CPU_CAP, processes)
    memory_mib = min(MEMORY_CAP_MIB,
                     BASE_MIB
                     + processes × (ARM_MIB × arms + MODEL_MIB × local-model arms)
                     + ceil(trials × TRIAL_BYTES / 2^20))
    gpu, fpga  = 1 when the constraints ask for that hardware, else 0

Local-model arms are the analyzers in :data:`LOCAL_MODEL_ANALYZERS` (each worker process
loads the model once). The trial term is the driver reading every trial at the end of the run
(results, report); it is linear in trials but capped with everything else by MEMORY_CAP_MIB.
"""

from __future__ import annotations

import math

from tcplab.experiment import ExperimentSpec
from tcplab.service._models import Constraints, ResourceRequest

__all__ = [
    "ARM_MIB",
    "BASE_MIB",
    "CPU_CAP",
    "LOCAL_MODEL_ANALYZERS",
    "MEMORY_CAP_MIB",
    "MODEL_MIB",
    "TRIAL_BYTES",
    "estimate_resources",
]

CPU_CAP = 16
BASE_MIB = 512
ARM_MIB = 64
MODEL_MIB = 1024
#: bytes per trial row held by the driver (Arrow); 309 B measured for ``fake`` trials here,
#: rounded up for the longer explanations of real arms
TRIAL_BYTES = 512
MEMORY_CAP_MIB = 65_536
LOCAL_MODEL_ANALYZERS = frozenset({"embedding"})


def estimate_resources(
    spec: ExperimentSpec, n_trials: int, constraints: Constraints
) -> ResourceRequest:
    """The :class:`ResourceRequest` of ``spec`` with ``n_trials`` planned trials."""
    kind = spec.executor.kind
    processes = spec.executor.workers if kind == "local" else 1
    models = sum(1 for a in spec.arms if a.analyzer in LOCAL_MODEL_ANALYZERS)
    per_process = ARM_MIB * len(spec.arms) + MODEL_MIB * models
    trial_mib = math.ceil(n_trials * TRIAL_BYTES / 2**20)
    memory = min(MEMORY_CAP_MIB, BASE_MIB + processes * per_process + trial_mib)
    return ResourceRequest(
        processes=processes,
        cpu=float(min(CPU_CAP, processes)),
        memory_mib=memory,
        gpu=1 if constraints.hardware == "gpu" else 0,
        fpga=1 if constraints.hardware == "fpga" else 0,
    )
