"""Pure statistics for tcplab experiments (see ``docs/statistics.md``).

The unit of analysis is the tool: per-trial data are first reduced per tool, and every
confidence interval resamples tools, not trials. Library code depends on numpy only;
scipy is imported lazily where a special distribution (t, normal, binomial, chi-square)
is needed.
"""

from tcplab.stats._agreement import cohen_kappa, confusion_matrix

__all__ = [
    "cohen_kappa",
    "confusion_matrix",
]
