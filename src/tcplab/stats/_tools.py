"""Reduce repeated trials to the unit of analysis, the tool."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tcplab.errors import UsageError
from tcplab.stats._validate import FloatArray, IntArray, as_int_array

__all__ = ["PerToolAccuracy", "modal_prediction", "per_tool_accuracy"]


def modal_prediction(preds: Sequence[int]) -> int:
    """The most frequent prediction of one tool over its iterations.

    Method: the sample mode; ties are broken toward the *more severe* level, i.e. the
    largest label (so UNKNOWN = -1 and PARSE_FAILURE = -2 lose every tie against a real
    level). Erring toward severity is the fail-safe choice for risk labels. Source for the
    mode as the majority-vote aggregate of repeated classifications: Kuncheva L. I. (2004)
    Combining Pattern Classifiers: Methods and Algorithms, Wiley, chapter 4.

    Args:
        preds: the tool's predicted labels, one per iteration, at least one.

    Returns:
        The modal label.

    Raises:
        UsageError: if ``preds`` is empty or not integer labels.
    """
    arr = as_int_array(preds, "preds")
    counts = Counter(arr.tolist())
    top = max(counts.values())
    return int(max(label for label, c in counts.items() if c == top))


@dataclass(frozen=True, slots=True)
class PerToolAccuracy:
    """Per-tool reduction of an arm's trials.

    Attributes:
        tools: tool ids, in first-seen order.
        y_true: each tool's true label.
        n_trials: trials per tool.
        fraction_correct: each tool's fraction of exactly right trials.
        fraction_within_one: each tool's fraction of trials with ``|pred - true| <= 1``
            (UNKNOWN/PARSE_FAILURE are wrong).
        modal: each tool's :func:`modal_prediction`.
        varies: whether the tool's predictions differ across iterations.
        accuracy_exact: mean over tools of ``fraction_correct``.
        accuracy_within_one: mean over tools of ``fraction_within_one``.
        modal_accuracy: fraction of tools whose modal prediction is right.
        fraction_varying: fraction of tools whose predictions vary across iterations
            (between-iteration variability, reported apart from accuracy).
    """

    tools: tuple[Hashable, ...]
    y_true: IntArray
    n_trials: IntArray
    fraction_correct: FloatArray
    fraction_within_one: FloatArray
    modal: IntArray
    varies: tuple[bool, ...]
    accuracy_exact: float
    accuracy_within_one: float
    modal_accuracy: float
    fraction_varying: float


def per_tool_accuracy(trials: Iterable[tuple[Hashable, int, int]]) -> PerToolAccuracy:
    """Reduce ``(tool, true_label, predicted_label)`` trials to per-tool accuracy.

    Method: the tool is the unit of analysis (trials of one tool are not independent), so
    an arm's ``accuracy_exact`` is the mean over tools of each tool's fraction of correct
    trials; every tool weighs the same whatever its number of trials. Predictions -1
    (UNKNOWN) and -2 (PARSE_FAILURE) are wrong. Source: Donner A., Klar N. (2000) Design
    and Analysis of Cluster Randomization Trials in Health Research, Arnold, chapter 5
    (cluster-level summaries).

    Args:
        trials: one ``(tool, true_label, predicted_label)`` tuple per trial.

    Returns:
        A :class:`PerToolAccuracy`.

    Raises:
        UsageError: if there are no trials, a tuple is malformed, or a tool has two
            different true labels.
    """
    preds: dict[Hashable, list[int]] = {}
    truth: dict[Hashable, int] = {}
    for row in trials:
        if len(row) != 3:
            raise UsageError("each trial must be a (tool, true_label, predicted_label) tuple")
        tool, t, p = row
        t_i, p_i = (int(v) for v in as_int_array([t, p], "trial labels"))
        if truth.setdefault(tool, t_i) != t_i:
            raise UsageError(f"tool {tool!r} has two different true labels; pass one per tool")
        preds.setdefault(tool, []).append(p_i)
    if not preds:
        raise UsageError("pass at least one (tool, true_label, predicted_label) trial")
    tools = tuple(preds)
    y_true = np.array([truth[x] for x in tools], dtype=np.int64)
    frac = np.empty(len(tools))
    near = np.empty(len(tools))
    for i, x in enumerate(tools):
        arr = np.array(preds[x], dtype=np.int64)
        ok = arr >= 0
        frac[i] = float(np.mean(ok & (arr == y_true[i])))
        near[i] = float(np.mean(ok & (np.abs(arr - y_true[i]) <= 1)))
    modal = np.array([modal_prediction(preds[x]) for x in tools], dtype=np.int64)
    varies = tuple(len(set(preds[x])) > 1 for x in tools)
    return PerToolAccuracy(
        tools=tools,
        y_true=y_true,
        n_trials=np.array([len(preds[x]) for x in tools], dtype=np.int64),
        fraction_correct=frac,
        fraction_within_one=near,
        modal=modal,
        varies=varies,
        accuracy_exact=float(frac.mean()),
        accuracy_within_one=float(near.mean()),
        modal_accuracy=float(np.mean(modal == y_true)),
        fraction_varying=float(np.mean(varies)),
    )
