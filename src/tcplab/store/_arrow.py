"""Arrow helpers shared by the backends: trial-table checks and list columns as JSON text."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tcplab.errors import UsageError
from tcplab.experiment.trials import TRIAL_COLUMNS, TRIAL_SCHEMA

__all__ = ["jsonify_lists", "normalize_trials"]

_UNSAFE = r'["\\\x00-\x1f\x7f]'


def normalize_trials(table: pa.Table, run_id: str, shard: int) -> pa.Table:
    """``table`` with exactly the TRIAL_SCHEMA columns, in order, checked against the key.

    Raises:
        UsageError: a column is missing, or a row belongs to another run or shard.
    """
    missing = [c for c in TRIAL_COLUMNS if c not in table.column_names]
    if missing:
        raise UsageError(f"trial table lacks column(s): {', '.join(missing)}")
    table = table.select(list(TRIAL_COLUMNS))
    if table.schema != TRIAL_SCHEMA:
        try:
            table = table.cast(TRIAL_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise UsageError(f"trial table does not match TRIAL_SCHEMA: {exc}") from exc
    if table.num_rows:
        same_run = pc.all(pc.equal(table["run_id"], run_id)).as_py()
        same_shard = pc.all(pc.equal(table["shard"], shard)).as_py()
        if not (same_run and same_shard):
            raise UsageError(f"trial rows belong to another run or shard than {run_id}/{shard}")
        if table["seq"].null_count:
            raise UsageError("trial rows need a seq (part of the key run_id/shard/seq)")
    return table


def _list_as_json(col: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    flat = pc.list_flatten(col)
    if len(flat) and (
        flat.null_count or pc.any(pc.match_substring_regex(flat, _UNSAFE)).as_py()
    ):  # rare: values that need escaping — let json do it
        values: list[Any] = col.to_pylist()
        return pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
    joined = pc.binary_join(col, '","')
    wrapped = pc.binary_join_element_wise('["', joined, '"]', "")
    return pc.if_else(pc.equal(pc.list_value_length(col), 0), "[]", wrapped)


def jsonify_lists(table: pa.Table) -> pa.Table:
    """Replace every ``list<string>`` column by its JSON text (``["A","B"]``), vectorised."""
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            table = table.set_column(i, field.name, _list_as_json(table.column(i)))
    return table
