"""Pure statistics for tcplab experiments (see ``docs/statistics.md``).

The unit of analysis is the tool: per-trial data are first reduced per tool, and every
confidence interval resamples tools, not trials. Library code depends on numpy only;
scipy is imported lazily where a special distribution (t, binomial, chi-square) is needed.
"""

from tcplab.stats._accuracy import (
    PARSE_FAILURE,
    UNKNOWN,
    AccuracyReport,
    ClassMetrics,
    accuracy_report,
)
from tcplab.stats._agreement import cohen_kappa, confusion_matrix
from tcplab.stats._bootstrap import BootstrapResult, bootstrap_ci, mean_ci
from tcplab.stats._describe import (
    MAD_NORMAL_SCALE,
    Description,
    OutlierReport,
    describe,
    tukey_outliers,
)
from tcplab.stats._effects import MannWhitneyResult, cliffs_delta, hedges_g, mann_whitney_u
from tcplab.stats._latency import (
    MedianRatioResult,
    WelchResult,
    median_ratio_ci,
    per_tool_medians,
    ratio_of_medians,
    welch_log_ttest,
)
from tcplab.stats._multiple import AdjustedPValues, adjust_pvalues, benjamini_hochberg, holm
from tcplab.stats._paired import (
    ArmAgreement,
    McNemarResult,
    TostResult,
    arm_agreement,
    mcnemar,
    paired_accuracy_difference,
    tost_equivalence,
)
from tcplab.stats._planning import (
    CostResult,
    cost_per_decision,
    cpu_cost,
    tools_for_accuracy_difference,
    tools_for_latency_ratio,
)
from tcplab.stats._tools import PerToolAccuracy, modal_prediction, per_tool_accuracy

__all__ = [
    "MAD_NORMAL_SCALE",
    "PARSE_FAILURE",
    "UNKNOWN",
    "AccuracyReport",
    "AdjustedPValues",
    "ArmAgreement",
    "BootstrapResult",
    "ClassMetrics",
    "CostResult",
    "Description",
    "MannWhitneyResult",
    "McNemarResult",
    "MedianRatioResult",
    "OutlierReport",
    "PerToolAccuracy",
    "TostResult",
    "WelchResult",
    "accuracy_report",
    "adjust_pvalues",
    "arm_agreement",
    "benjamini_hochberg",
    "bootstrap_ci",
    "cliffs_delta",
    "cohen_kappa",
    "confusion_matrix",
    "cost_per_decision",
    "cpu_cost",
    "describe",
    "hedges_g",
    "holm",
    "mann_whitney_u",
    "mcnemar",
    "mean_ci",
    "median_ratio_ci",
    "modal_prediction",
    "paired_accuracy_difference",
    "per_tool_accuracy",
    "per_tool_medians",
    "ratio_of_medians",
    "tools_for_accuracy_difference",
    "tools_for_latency_ratio",
    "tost_equivalence",
    "tukey_outliers",
    "welch_log_ttest",
]
