"""Experiments: A/B tests and campaign evaluation, exact and fast.

- `ab_test` — every treatment against the control for one or many metrics (and per
  segment), from unit rows or from sufficient statistics (``n``, ``sum``, ``sum_sq``, ...):
  Welch t for the difference, delta-method relative lift, CUPED, the classical tests by
  name, multiple-testing corrections, heterogeneity across segments, SRM check;
- `bayes` and `sequential` — GrowthBook's Bayesian engine and its always-valid
  sequential intervals on the same inputs;
- `srm`, `sample_size`, `power`, `mde` — planning and sanity checks;
- `summarize` — sufficient statistics of unit rows per variant × segment (one Rust pass);
- `campaign` — campaign evaluation against a randomised holdout from the campaign table
  and the orders (response, revenue, increments with intervals, ROI, per segment).

The default numbers are GrowthBook's stats engine (gbstats 0.8), which experimentation
platform users know, and equal to it on the same inputs; the named tests equal scipy and
statsmodels. The maths lives in Rust (``src/stats``: distributions accurate to ~1e-13,
comparisons vectorised over all experiments × metrics with rayon).

**Which lift interval.** Three conventions are in use for the interval of the relative
lift (t - c)/c, and they give three different intervals on the same data:

1. the delta method, Var ≈ Var(t)/c² + t²·Var(c)/c⁴, symmetric around the estimate
   (GrowthBook/gbstats, Optimizely, most platforms);
2. Fieller's interval of the ratio t/c (asymmetric; exact for normal means, unbounded
   when the control mean is not clearly non-zero);
3. the log-ratio interval exp(log(t/c) ± z·se(log t/c)) - 1 (asymmetric, always > -1).

crmkit reports the delta-method interval with Welch degrees of freedom, exactly as
gbstats, because (a) it is what users of experimentation platforms compare against,
(b) its p-value and interval agree (the interval excludes 0 exactly when p < alpha),
and (c) it needs only the sufficient statistics, so it works on aggregated tables and
vectorises. For the 100/1000 vs 120/1000 example it gives [-0.1008, 0.5008]; Fieller
and the log-ratio method give somewhat right-shifted intervals. The three agree to first
order in large samples; with small or skewed samples prefer looking at ``diff``.

>>> import polars as pl
>>> from crmkit import experiment
>>> agg = pl.DataFrame({"variant": ["control", "treatment"], "n": [1000, 1000], "sum": [100, 120]})
>>> round(experiment.ab_test(agg)["p_value"][0], 6)
0.152865
"""

from __future__ import annotations

from typing import Any

import polars as pl

from crmkit.experiment._ab import (
    SRM_THRESHOLD,
    STAT_COLUMNS,
    SampleRatioMismatchWarning,
    ab_test,
    bayes,
    sequential,
    srm,
    summarize,
)
from crmkit.experiment._campaign import campaign
from crmkit.experiment._power import EFFECT_SIZES, mde, power, sample_size

__all__ = [
    "ab_test",
    "bayes",
    "sequential",
    "srm",
    "summarize",
    "sample_size",
    "power",
    "mde",
    "campaign",
    "SampleRatioMismatchWarning",
    "STAT_COLUMNS",
    "SRM_THRESHOLD",
    "EFFECT_SIZES",
]


def demo_step(ctx: Any) -> Any:
    """The experiments step of `crmkit demo`/`crmkit run`: evaluates the campaigns table
    (campaign × group and campaign × segment when it has a ``segment`` column)."""
    from crmkit._pipeline import StepOutput
    from crmkit.experiment._campaign import demo_summary

    campaigns = ctx.campaigns
    result = campaign(campaigns, ctx.orders)
    tables = {"campaigns": result}
    lines = [f"{campaigns['campaign_id'].n_unique():,} campaigns, {campaigns.height:,} customer contacts "
             f"(holdout: {campaigns.filter(pl.col('group') == 'control').height:,})"]
    lines += demo_summary(result)[:8]
    if "segment" in campaigns.columns:
        tables["segments"] = campaign(campaigns, ctx.orders, by="segment")
    return StepOutput(tables, lines)
