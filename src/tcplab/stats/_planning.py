"""Planning helpers: tools needed (sample size) and cost per decision."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from tcplab.errors import UsageError
from tcplab.stats._validate import check_alpha

__all__ = [
    "CostResult",
    "cost_per_decision",
    "cpu_cost",
    "tools_for_accuracy_difference",
    "tools_for_latency_ratio",
]

_N = NormalDist()


def _z(alpha: float, power: float) -> tuple[float, float]:
    check_alpha(alpha)
    check_alpha(power, "power")
    return _N.inv_cdf(1 - alpha / 2), _N.inv_cdf(power)


def tools_for_accuracy_difference(
    difference: float, discordant: float, *, alpha: float = 0.05, power: float = 0.80
) -> int:
    """Tools needed for McNemar's test to detect an accuracy difference between two arms.

    Method: Connor's formula for paired proportions,
    ``n = (z_{1-alpha/2} sqrt(psi) + z_{power} sqrt(psi - delta^2))^2 / delta^2``, with
    ``delta = p10 - p01`` the accuracy difference and ``psi = p10 + p01`` the expected
    share of discordant tools (right in one arm only). Rounded up. Source: Connor R. J.
    (1987) Sample size for testing differences in proportions for the paired-sample
    design. Biometrics 43:207-211.

    Args:
        difference: the accuracy difference to detect, ``0 < |difference| <= discordant``.
        discordant: expected fraction of discordant tools, in ``(0, 1]``.
        alpha: two-sided level (default 0.05).
        power: wanted power (default 0.80).

    Returns:
        The number of tools (each evaluated by both arms).

    Raises:
        UsageError: if the inputs are out of range.
    """
    za, zb = _z(alpha, power)
    delta = abs(float(difference))
    psi = float(discordant)
    if not (0 < psi <= 1):
        raise UsageError(f"discordant must be in (0, 1] (got {discordant})")
    if not (0 < delta <= psi):
        raise UsageError(
            f"difference must satisfy 0 < |difference| <= discordant (got {difference}, "
            f"{discordant}): each difference needs at least as many discordant tools"
        )
    n = (za * math.sqrt(psi) + zb * math.sqrt(psi - delta**2)) ** 2 / delta**2
    return math.ceil(n - 1e-9)


def tools_for_latency_ratio(
    ratio: float,
    sd_log: float,
    *,
    alpha: float = 0.05,
    power: float = 0.80,
    paired: bool = False,
) -> int:
    """Tools needed to detect a latency ratio between two arms, on the log scale.

    Method: normal approximation for a difference of means of log latency,
    ``delta = ln(ratio)``; two independent samples need
    ``n = 2 (z_{1-alpha/2} + z_{power})^2 sd^2 / delta^2`` tools *per arm*; with
    ``paired`` (both arms timed on the same tools, ``sd_log`` being the SD of the per-tool
    log differences) ``n = (z_{1-alpha/2} + z_{power})^2 sd^2 / delta^2``. Rounded up.
    Source: Chow S.-C., Shao J., Wang H. (2008) Sample Size Calculations in Clinical
    Research, 2nd ed., Chapman & Hall, sections 3.1-3.2.

    Args:
        ratio: the latency ratio to detect, > 0 and != 1 (e.g. 1.2 for 20% slower).
        sd_log: SD of log latency (per-tool medians), or of paired log differences.
        alpha: two-sided level (default 0.05).
        power: wanted power (default 0.80).
        paired: the arms are timed on the same tools.

    Returns:
        Tools per arm (independent) or tools in total (paired).

    Raises:
        UsageError: if ``ratio`` is not positive or equals 1, or ``sd_log <= 0``.
    """
    za, zb = _z(alpha, power)
    if not (ratio > 0 and ratio != 1 and math.isfinite(ratio)):
        raise UsageError(f"ratio must be positive and different from 1 (got {ratio})")
    if not (sd_log > 0 and math.isfinite(sd_log)):
        raise UsageError(f"sd_log must be a positive number (got {sd_log})")
    delta = math.log(ratio)
    n = (1 if paired else 2) * (za + zb) ** 2 * sd_log**2 / delta**2
    return math.ceil(n - 1e-9)


@dataclass(frozen=True, slots=True)
class CostResult:
    """Cost of an arm's decisions.

    Attributes:
        total_cost: total cost in dollars.
        n_decisions: decisions made.
        n_correct: correct decisions.
        per_decision: ``total_cost / n_decisions``.
        per_correct_decision: ``total_cost / n_correct``; ``inf`` when nothing was right
            and the cost is positive, 0 when the cost is 0.
    """

    total_cost: float
    n_decisions: int
    n_correct: int
    per_decision: float
    per_correct_decision: float


def cost_per_decision(total_cost: float, n_decisions: int, n_correct: int) -> CostResult:
    """Dollars per decision and per correct decision.

    Method: average cost and cost-effectiveness ratio (cost per successful outcome).
    Source: Drummond M. F. et al. (2015) Methods for the Economic Evaluation of Health
    Care Programmes, 4th ed., Oxford University Press, chapter 4.

    Args:
        total_cost: total dollars spent by the arm, >= 0.
        n_decisions: decisions made, >= 1.
        n_correct: correct decisions, ``0 <= n_correct <= n_decisions``.

    Returns:
        A :class:`CostResult`.

    Raises:
        UsageError: on negative or inconsistent input.
    """
    if not (math.isfinite(total_cost) and total_cost >= 0):
        raise UsageError(f"total_cost must be a finite number >= 0 dollars (got {total_cost})")
    if isinstance(n_decisions, bool) or not isinstance(n_decisions, int) or n_decisions < 1:
        raise UsageError(f"n_decisions must be an integer >= 1 (got {n_decisions!r})")
    if isinstance(n_correct, bool) or not isinstance(n_correct, int):
        raise UsageError(f"n_correct must be an integer (got {n_correct!r})")
    if not 0 <= n_correct <= n_decisions:
        raise UsageError(f"n_correct must be between 0 and n_decisions (got {n_correct})")
    zero_correct = math.inf if total_cost > 0 else 0.0
    per_correct = total_cost / n_correct if n_correct else zero_correct
    return CostResult(
        total_cost=float(total_cost),
        n_decisions=n_decisions,
        n_correct=n_correct,
        per_decision=total_cost / n_decisions,
        per_correct_decision=per_correct,
    )


def cpu_cost(cpu_seconds: float, usd_per_core_hour: float) -> float:
    """Dollar cost of CPU time.

    Method: ``cpu_seconds / 3600 * usd_per_core_hour`` (core-hour pricing as used by cloud
    providers). Source: Armbrust M. et al. (2010) A view of cloud computing.
    Communications of the ACM 53(4):50-58.

    Args:
        cpu_seconds: CPU time consumed, in core-seconds, >= 0.
        usd_per_core_hour: price of one core for one hour, in dollars, >= 0.

    Returns:
        The cost in dollars.

    Raises:
        UsageError: on negative or non-finite input.
    """
    for name, v in (("cpu_seconds", cpu_seconds), ("usd_per_core_hour", usd_per_core_hour)):
        if not (math.isfinite(v) and v >= 0):
            raise UsageError(f"{name} must be a finite number >= 0 (got {v})")
    return cpu_seconds / 3600.0 * usd_per_core_hour
