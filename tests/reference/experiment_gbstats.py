"""Produces tests/reference/experiment_gbstats.json: GrowthBook's stats engine (gbstats)
outputs on fixed inputs, the reference that tests/test_experiment.py pins crmkit to.

gbstats 0.8 pins numpy<2 and pandas<2, so it runs in its own throwaway environment and
crmkit never imports it:

    python3 -m venv /tmp/gbvenv && /tmp/gbvenv/bin/pip install gbstats==0.8.0
    /tmp/gbvenv/bin/python tests/reference/experiment_gbstats.py

Inputs are sufficient statistics in crmkit's aggregated column names (n, sum, sum_sq,
sum_den, sum_den_sq, sum_prod, sum_cov, sum_cov_sq, sum_cov_prod) per arm.
"""

import json
from pathlib import Path

import numpy as np
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)
from gbstats.utils import check_srm

rng = np.random.default_rng(20261130)


def arm_proportion(n, p):
    x = rng.random(n) < p
    return {"n": int(n), "sum": float(x.sum()), "sum_sq": float(x.sum())}


def arm_mean(n, mu, sd, cov=None):
    pre = rng.gamma(2.0, mu / 2.0, n)
    y = 0.6 * pre + rng.normal(0.4 * mu, sd, n)
    out = {"n": int(n), "sum": float(y.sum()), "sum_sq": float((y * y).sum())}
    if cov:
        out.update(sum_cov=float(pre.sum()), sum_cov_sq=float((pre * pre).sum()), sum_cov_prod=float((y * pre).sum()))
    return out


def arm_proportion_cuped(n, p):
    pre = rng.poisson(2.0, n).astype(float)
    y = (rng.random(n) < p * (0.5 + pre / 4.0)).astype(float)
    return {"n": int(n), "sum": float(y.sum()), "sum_sq": float(y.sum()), "sum_cov": float(pre.sum()),
            "sum_cov_sq": float((pre * pre).sum()), "sum_cov_prod": float((y * pre).sum())}


def arm_ratio(n, rate):
    den = rng.poisson(3.0, n).astype(float) + 1.0
    num = rng.gamma(2.0, rate / 2.0, n) * den
    return {"n": int(n), "sum": float(num.sum()), "sum_sq": float((num * num).sum()), "sum_den": float(den.sum()),
            "sum_den_sq": float((den * den).sum()), "sum_prod": float((num * den).sum())}


def stat(kind, a):
    if kind == "proportion":
        return ProportionStatistic(n=a["n"], sum=a["sum"])
    if kind == "mean":
        return SampleMeanStatistic(n=a["n"], sum=a["sum"], sum_squares=a["sum_sq"])
    if kind == "ratio":
        return RatioStatistic(
            n=a["n"],
            m_statistic=SampleMeanStatistic(n=a["n"], sum=a["sum"], sum_squares=a["sum_sq"]),
            d_statistic=SampleMeanStatistic(n=a["n"], sum=a["sum_den"], sum_squares=a["sum_den_sq"]),
            m_d_sum_of_products=a["sum_prod"],
        )
    post_kind = kind.split("+")[0]
    return RegressionAdjustedStatistic(
        n=a["n"],
        post_statistic=stat(post_kind, a),
        pre_statistic=SampleMeanStatistic(n=a["n"], sum=a["sum_cov"], sum_squares=a["sum_cov_sq"]),
        post_pre_sum_of_products=a["sum_cov_prod"],
        theta=0,
    )


def run(kind, c, t, alpha=0.05, prior=None, tuning=5000.0):
    out = {}
    for diff in ("absolute", "relative"):
        r = TwoSidedTTest(stat(kind, c), stat(kind, t), FrequentistConfig(alpha=alpha, difference_type=diff))
        res = r.compute_result()
        out[f"freq_{diff}"] = {"expected": res.expected, "ci": list(res.ci), "p_value": res.p_value,
                               "error": res.error_message}
        s = SequentialTwoSidedTTest(stat(kind, c), stat(kind, t),
                                    SequentialConfig(alpha=alpha, difference_type=diff,
                                                     sequential_tuning_parameter=tuning))
        res = s.compute_result()
        out[f"seq_{diff}"] = {"expected": res.expected, "ci": list(res.ci), "p_value": res.p_value}
        cfg = EffectBayesianConfig(alpha=alpha, difference_type=diff,
                                   prior_effect=prior or GaussianPrior(), prior_type="relative")
        b = EffectBayesianABTest(stat(kind, c), stat(kind, t), cfg).compute_result()
        out[f"bayes_{diff}"] = {"expected": b.expected, "ci": list(b.ci), "chance_to_win": b.chance_to_win,
                                "risk": list(b.risk), "error": b.error_message}
    return out


cases = []
# The reference point.
cases.append({"name": "reference", "kind": "proportion", "control": {"n": 1000, "sum": 100, "sum_sq": 100},
              "treatment": {"n": 1000, "sum": 120, "sum_sq": 120}})
for i in range(8):
    n1, n2 = int(rng.integers(50, 5000)), int(rng.integers(50, 5000))
    p = float(rng.uniform(0.02, 0.6))
    cases.append({"name": f"proportion_{i}", "kind": "proportion", "control": arm_proportion(n1, p),
                  "treatment": arm_proportion(n2, p * float(rng.uniform(0.8, 1.3)))})
for i in range(6):
    n1, n2 = int(rng.integers(20, 4000)), int(rng.integers(20, 4000))
    mu = float(rng.uniform(5, 200))
    cases.append({"name": f"mean_{i}", "kind": "mean", "control": arm_mean(n1, mu, mu / 2),
                  "treatment": arm_mean(n2, mu * float(rng.uniform(0.9, 1.2)), mu / 2)})
for i in range(4):
    n1, n2 = int(rng.integers(30, 3000)), int(rng.integers(30, 3000))
    cases.append({"name": f"ratio_{i}", "kind": "ratio", "control": arm_ratio(n1, 10.0),
                  "treatment": arm_ratio(n2, 10.0 * float(rng.uniform(0.9, 1.2)))})
for i in range(4):
    n1, n2 = int(rng.integers(100, 4000)), int(rng.integers(100, 4000))
    mu = float(rng.uniform(10, 100))
    cases.append({"name": f"cuped_mean_{i}", "kind": "mean+cuped", "control": arm_mean(n1, mu, mu / 3, cov=True),
                  "treatment": arm_mean(n2, mu * float(rng.uniform(0.95, 1.15)), mu / 3, cov=True)})
for i in range(3):
    n1, n2 = int(rng.integers(200, 4000)), int(rng.integers(200, 4000))
    cases.append({"name": f"cuped_proportion_{i}", "kind": "proportion+cuped", "control": arm_proportion_cuped(n1, 0.1),
                  "treatment": arm_proportion_cuped(n2, 0.1 * float(rng.uniform(0.9, 1.3)))})
# Small samples, unequal variances, alpha 0.1.
cases.append({"name": "small_alpha10", "kind": "mean", "alpha": 0.1, "control": arm_mean(5, 10.0, 8.0),
              "treatment": arm_mean(7, 12.0, 2.0)})

for case in cases:
    case["gbstats"] = run(case["kind"], case["control"], case["treatment"], alpha=case.get("alpha", 0.05))

# A proper prior (relative scale), as GrowthBook's "prior" setting.
proper = {"name": "proper_prior", "kind": "proportion", "control": {"n": 1000, "sum": 100, "sum_sq": 100},
          "treatment": {"n": 1000, "sum": 120, "sum_sq": 120}, "prior_mean": 0.05, "prior_sd": 0.1}
proper["gbstats"] = run("proportion", proper["control"], proper["treatment"],
                        prior=GaussianPrior(mean=0.05, variance=0.01, proper=True))
cases.append(proper)

srm = [
    {"users": [5000, 5200], "weights": [0.5, 0.5]},
    {"users": [1000, 1100, 950], "weights": [1, 1, 1]},
    {"users": [8000, 2100], "weights": [0.8, 0.2]},
    {"users": [300, 0, 310], "weights": [0.5, 0.0, 0.5]},
]
for s in srm:
    s["p_value"] = float(check_srm(s["users"], s["weights"]))

out = Path(__file__).with_suffix(".json")
out.write_text(json.dumps({"gbstats_version": "0.8.0", "cases": cases, "srm": srm}, indent=1))
print(f"wrote {out} ({len(cases)} cases)")
