"""The plan: the ordered list of trials, fully determined by the spec, the tools and the seed.

A trial is ``(seq, tool, arm, iteration)``. With ``order: interleaved`` each iteration visits
the tools in a seeded random order and, for every tool, the arms in a seeded random order, so
drift and warm caches do not favour one arm; ``sequential`` runs arm after arm. Trials are
grouped into shards of ``shard_size`` consecutive trials. The plan is stored as
``plan.parquet`` with its SHA-256, which identical inputs reproduce byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from tcplab.experiment._spec import MAX_TRIALS_HARD, ExperimentSpec, SpecError

__all__ = ["Plan", "build_plan", "read_plan"]

PLAN_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Plan:
    """Trials as three parallel arrays plus the tool and arm names they index."""

    tools: tuple[str, ...]
    arms: tuple[str, ...]
    tool_idx: npt.NDArray[np.int32]
    arm_idx: npt.NDArray[np.int16]
    iteration: npt.NDArray[np.int32]
    shard_size: int
    seed: int
    order: str

    @property
    def n_trials(self) -> int:
        """Number of trials."""
        return int(self.tool_idx.shape[0])

    @property
    def n_shards(self) -> int:
        """Number of shards."""
        return (self.n_trials + self.shard_size - 1) // self.shard_size

    def shard_range(self, shard: int) -> range:
        """The ``seq`` numbers of one shard."""
        start = shard * self.shard_size
        return range(start, min(start + self.shard_size, self.n_trials))

    def trials_per_arm(self) -> dict[str, int]:
        """How many trials each arm has."""
        counts = np.bincount(self.arm_idx, minlength=len(self.arms))
        return {a: int(c) for a, c in zip(self.arms, counts, strict=True)}

    def header(self) -> dict[str, object]:
        """The non-array part of the plan, as hashed."""
        return {
            "format": PLAN_FORMAT_VERSION,
            "tools": list(self.tools),
            "arms": list(self.arms),
            "shard_size": self.shard_size,
            "seed": self.seed,
            "order": self.order,
        }

    def plan_hash(self) -> str:
        """SHA-256 over the canonical header and the little-endian arrays."""
        h = hashlib.sha256(
            json.dumps(self.header(), sort_keys=True, separators=(",", ":")).encode()
        )
        for arr, dt in ((self.tool_idx, "<i4"), (self.arm_idx, "<i2"), (self.iteration, "<i4")):
            h.update(np.ascontiguousarray(arr, dtype=dt).tobytes())
        return h.hexdigest()

    def write(self, path: Path) -> str:
        """Write ``plan.parquet`` (header and hash in the file metadata); return the hash."""
        digest = self.plan_hash()
        table = pa.table(
            {"tool_idx": self.tool_idx, "arm_idx": self.arm_idx, "iteration": self.iteration}
        )
        meta = {
            b"tcplab.plan_header": json.dumps(self.header(), sort_keys=True).encode(),
            b"tcplab.plan_hash": digest.encode(),
        }
        table = table.replace_schema_metadata(meta)
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
        return digest


def read_plan(path: Path) -> tuple[Plan, str]:
    """Read ``plan.parquet``; returns the plan and its stored hash."""
    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    header = json.loads(meta[b"tcplab.plan_header"])
    plan = Plan(
        tuple(header["tools"]),
        tuple(header["arms"]),
        table["tool_idx"].to_numpy().astype(np.int32),
        table["arm_idx"].to_numpy().astype(np.int16),
        table["iteration"].to_numpy().astype(np.int32),
        int(header["shard_size"]),
        int(header["seed"]),
        str(header["order"]),
    )
    return plan, meta[b"tcplab.plan_hash"].decode()


def build_plan(spec: ExperimentSpec, tools: Sequence[str]) -> Plan:
    """The plan for ``spec`` over ``tools`` (order of ``tools`` is normalised by sorting).

    Raises:
        SpecError: no tools, or the plan exceeds ``limits.max_trials`` (or the hard cap).
    """
    names = tuple(sorted(set(tools)))
    n_tools, n_arms, iters = len(names), len(spec.arms), spec.iterations
    if n_tools == 0:
        raise SpecError("the tool selection is empty", ["tools: no tool selected"])
    total = n_tools * n_arms * iters
    if total > spec.limits.max_trials or total > MAX_TRIALS_HARD:
        cap = min(spec.limits.max_trials, MAX_TRIALS_HARD)
        raise SpecError(
            "the plan exceeds its limits; nothing was run",
            [
                f"limits.max_trials: {n_tools:,} tools × {n_arms} arms × {iters:,} iterations = "
                f"{total:,} trials > {cap:,}"
            ],
        )
    rng = np.random.default_rng(spec.seed)
    tool_parts, arm_parts, it_parts = [], [], []
    if spec.order == "sequential":
        for a in range(n_arms):
            for it in range(iters):
                tool_parts.append(np.arange(n_tools, dtype=np.int32))
                arm_parts.append(np.full(n_tools, a, dtype=np.int16))
                it_parts.append(np.full(n_tools, it, dtype=np.int32))
    else:
        for it in range(iters):
            tool_order = rng.permutation(n_tools).astype(np.int32)
            arm_order = np.argsort(rng.random((n_tools, n_arms)), axis=1).astype(np.int16)
            tool_parts.append(np.repeat(tool_order, n_arms))
            arm_parts.append(arm_order.reshape(-1))
            it_parts.append(np.full(n_tools * n_arms, it, dtype=np.int32))
    return Plan(
        names,
        tuple(a.name for a in spec.arms),
        np.concatenate(tool_parts),
        np.concatenate(arm_parts),
        np.concatenate(it_parts),
        spec.shard_size,
        spec.seed,
        spec.order,
    )
