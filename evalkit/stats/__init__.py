"""Statistics for summaries and release gates: intervals, paired tests, flakiness, judge agreement.

Pure functions over plain Python/numpy data. scipy is imported inside the functions that need
it, so importing evalkit (and `evalkit --help`) stays fast.
"""

from evalkit.stats.calibration import agreement, cohen_kappa
from evalkit.stats.evidence import (
    Evidence,
    evidence,
    pass_fail_n_needed,
    pass_fail_power,
    score_n_needed,
    score_power,
)
from evalkit.stats.flaky import FlakyReport, classify_repeats, pass_at_k, pass_hat_k
from evalkit.stats.intervals import (
    bootstrap_mean_interval,
    bounded_mean_interval,
    mean_interval,
    percentile,
    summarize,
    wilson_interval,
)
from evalkit.stats.mcnemar import drop_statistic, margin_threshold, rejection_probability
from evalkit.stats.paired import (
    PairedData,
    RegressionResult,
    holm_adjust,
    mcnemar_exact,
    mcnemar_margin,
    mcnemar_one_sided,
    pair_by_id,
    paired_bootstrap_diff,
    paired_rate_interval,
    regression_test,
    wilcoxon_signed_rank,
)
from evalkit.stats.scores import ScoreTest, paired_score_test

__all__ = [
    "Evidence",
    "FlakyReport",
    "PairedData",
    "RegressionResult",
    "ScoreTest",
    "agreement",
    "bootstrap_mean_interval",
    "bounded_mean_interval",
    "classify_repeats",
    "cohen_kappa",
    "drop_statistic",
    "evidence",
    "holm_adjust",
    "margin_threshold",
    "mcnemar_exact",
    "mcnemar_margin",
    "mcnemar_one_sided",
    "mean_interval",
    "pair_by_id",
    "paired_bootstrap_diff",
    "paired_rate_interval",
    "paired_score_test",
    "pass_at_k",
    "pass_fail_n_needed",
    "pass_fail_power",
    "pass_hat_k",
    "percentile",
    "regression_test",
    "rejection_probability",
    "score_n_needed",
    "score_power",
    "summarize",
    "wilcoxon_signed_rank",
    "wilson_interval",
]
