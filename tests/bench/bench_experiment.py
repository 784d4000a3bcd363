"""Experiment benchmarks (issue 14's two speed bars).

1. Sufficient statistics of 10M unit rows per variant × 8 segments (String keys, one
   float metric): `crmkit.experiment.summarize` vs numpy `bincount` (on integer codes
   given to it for free — the fastest numpy can be), polars `group_by` and pandas
   `groupby` on the same columns. Bar: < 1.0 s on 2 cores.
2. 1,000 experiments × 5 metrics = 5,000 frequentist comparisons with CUPED from
   aggregated statistics: `crmkit.experiment.ab_test(..., by="experiment")` vs the same
   gbstats formulas computed per comparison in a Python loop with scipy.stats (in
   process; gbstats itself pins numpy<2 and cannot share this environment — run this
   file directly with GBSTATS_PYTHON=/tmp/gbvenv/bin/python to also time gbstats' own
   TwoSidedTTest loop in its venv). Bar: < 50 ms (gbstats in a loop: 2.79 s in the issue).

`python tests/bench/bench_experiment.py [--quick]` prints the cases and the gbstats timing.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from _harness import Case, format_table, run_case  # noqa: E402

from crmkit import experiment  # noqa: E402
import warnings  # noqa: E402

# The synthetic aggregated tables have random arm sizes: the SRM warning is expected.
warnings.filterwarnings("ignore", category=experiment.SampleRatioMismatchWarning)

_cache: dict = {}


def _units(n: int) -> pl.DataFrame:
    if n not in _cache:
        rng = np.random.default_rng(0)
        segs = np.array([f"segment_{i}" for i in range(8)])
        _cache[n] = pl.DataFrame({
            "variant": np.where(rng.random(n) < 0.5, "control", "treatment"),
            "segment": segs[rng.integers(0, 8, n)],
            "revenue": rng.gamma(2.0, 20.0, n),
        })
    return _cache[n]


def _aggregated(n_exp: int, n_metrics: int = 5) -> pl.DataFrame:
    key = ("agg", n_exp)
    if key not in _cache:
        rng = np.random.default_rng(1)
        rows = n_exp * n_metrics * 2
        n = rng.integers(2_000, 50_000, rows).astype(float)
        mu = np.repeat(rng.uniform(5, 50, n_exp * n_metrics), 2)
        sd = mu / 2
        s = n * mu * rng.normal(1, 0.01, rows)
        ss = (n - 1) * sd**2 + s**2 / n
        pre_mu = mu * 0.9
        cs = n * pre_mu
        css = (n - 1) * sd**2 + cs**2 / n
        cov = 0.6 * sd * sd
        cp = (n - 1) * cov + s * cs / n
        _cache[key] = pl.DataFrame({
            "experiment": np.repeat(np.arange(n_exp), n_metrics * 2),
            "metric": np.tile(np.repeat([f"m{i}" for i in range(n_metrics)], 2), n_exp),
            "variant": np.tile(["control", "treatment"], n_exp * n_metrics),
            "n": n, "sum": s, "sum_sq": ss, "sum_cov": cs, "sum_cov_sq": css, "sum_cov_prod": cp,
            "kind": "mean", "covariate_kind": "mean",
        })
    return _cache[key]


def _numpy_bincount(df: pl.DataFrame, codes: np.ndarray, y: np.ndarray) -> list:
    return [np.bincount(codes, minlength=16), np.bincount(codes, y, 16), np.bincount(codes, y * y, 16)]


def _numpy_unique_bincount(variant: np.ndarray, segment: np.ndarray, y: np.ndarray) -> list:
    """The numpy recipe from string columns: np.unique(return_inverse) per key, then bincount."""
    _, v = np.unique(variant, return_inverse=True)
    s_names, s = np.unique(segment, return_inverse=True)
    codes = v * len(s_names) + s
    return _numpy_bincount(None, codes, y)  # type: ignore[arg-type]


def _scipy_loop(agg: pl.DataFrame) -> list:
    """gbstats' regression-adjusted Welch test (absolute and relative), per comparison."""
    from scipy.stats import t

    out = []
    rows = agg.sort("experiment", "metric", "variant").to_dicts()
    for c, b in zip(rows[0::2], rows[1::2]):
        n = c["n"] + b["n"]
        s, ss = c["sum"] + b["sum"], c["sum_sq"] + b["sum_sq"]
        ps, pss = c["sum_cov"] + b["sum_cov"], c["sum_cov_sq"] + b["sum_cov_sq"]
        pre_var = (pss - ps**2 / n) / (n - 1)
        theta = ((c["sum_cov_prod"] + b["sum_cov_prod"] - s * ps / n) / (n - 1)) / pre_var
        stats = []
        for a in (c, b):
            v = (a["sum_sq"] - a["sum"] ** 2 / a["n"]) / (a["n"] - 1)
            pv = (a["sum_cov_sq"] - a["sum_cov"] ** 2 / a["n"]) / (a["n"] - 1)
            cv = (a["sum_cov_prod"] - a["sum"] * a["sum_cov"] / a["n"]) / (a["n"] - 1)
            stats.append((a["sum"] / a["n"] - theta * a["sum_cov"] / a["n"], a["sum"] / a["n"],
                          v + theta**2 * pv - 2 * theta * cv, a["n"]))
        (ma, ua, va, na), (mb, ub, vb, nb) = stats
        dof = (va / na + vb / nb) ** 2 / (va**2 / (na**2 * (na - 1)) + vb**2 / (nb**2 * (nb - 1)))
        for rel in (False, True):
            est = (mb - ma) / ua if rel else mb - ma
            var = vb / (ua**2 * nb) + va * ub**2 / (ua**4 * na) if rel else va / na + vb / nb
            se = math.sqrt(var)
            p = 2 * (1 - t.cdf(abs(est / se), dof))
            w = t.ppf(0.975, dof) * se
            out.append((est, est - w, est + w, p))
    return out


_GBSTATS = r"""
import json, sys, time
from gbstats.models.statistics import SampleMeanStatistic, RegressionAdjustedStatistic
from gbstats.frequentist.tests import TwoSidedTTest, FrequentistConfig
rows = json.load(sys.stdin)
def st(a):
    return RegressionAdjustedStatistic(n=int(a["n"]), post_statistic=SampleMeanStatistic(n=int(a["n"]), sum=a["sum"], sum_squares=a["sum_sq"]),
        pre_statistic=SampleMeanStatistic(n=int(a["n"]), sum=a["sum_cov"], sum_squares=a["sum_cov_sq"]), post_pre_sum_of_products=a["sum_cov_prod"], theta=0)
start = time.perf_counter()
for c, b in zip(rows[0::2], rows[1::2]):
    for d in ("absolute", "relative"):
        TwoSidedTTest(st(c), st(b), FrequentistConfig(difference_type=d)).compute_result()
print(time.perf_counter() - start)
"""


def gbstats_seconds(agg: pl.DataFrame) -> float | None:
    py = os.environ.get("GBSTATS_PYTHON", "/tmp/gbvenv/bin/python")
    if not Path(py).exists():
        return None
    import json

    rows = agg.sort("experiment", "metric", "variant").to_dicts()
    done = subprocess.run([py, "-c", _GBSTATS], input=json.dumps(rows), capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def cases(quick: bool) -> list[Case]:
    n = 1_000_000 if quick else 10_000_000
    n_exp = 100 if quick else 1_000
    units = _units(n)
    codes = (units["variant"] == "treatment").cast(pl.Int64).to_numpy() * 8 + units["segment"].str.slice(8).cast(
        pl.Int64).to_numpy()
    y = units["revenue"].to_numpy()
    pdf = units.to_pandas() if not quick or n <= 2_000_000 else None
    crm = lambda: experiment.summarize(units, metric="revenue", by="segment")  # noqa: E731
    pl_peer = lambda: units.group_by("variant", "segment").agg(  # noqa: E731
        pl.len(), pl.col("revenue").sum(), (pl.col("revenue") ** 2).sum().alias("sq"))
    v_np, s_np = units["variant"].to_numpy(), units["segment"].to_numpy()
    out = [
        Case(f"summarize {n:,} rows x (variant, 8 segments)", crm, lambda: _numpy_unique_bincount(v_np, s_np, y),
             peer_name="numpy unique+bincount", note="bar: < 1.0 s (numpy bincount 1.18 s in the issue)",
             target_ratio=1.18),
        Case(f"summarize {n:,} rows vs bincount on given codes", crm, lambda: _numpy_bincount(units, codes, y),
             peer_name="numpy bincount (int codes)", note="lower bound: the peer gets integer codes for free"),
        Case(f"summarize {n:,} rows vs polars group_by", crm, pl_peer, peer_name="polars group_by"),
    ]
    if pdf is not None:
        out.append(Case(f"summarize {n:,} rows vs pandas groupby", crm,
                        lambda: pdf.assign(sq=pdf["revenue"] ** 2).groupby(["variant", "segment"]).agg(
                            n=("revenue", "size"), s=("revenue", "sum"), q=("sq", "sum")),
                        peer_name="pandas groupby", repeat=2))
    agg = _aggregated(n_exp)
    out.append(Case(f"ab_test {n_exp:,} experiments x 5 metrics, CUPED", lambda: experiment.ab_test(
        agg, metric="converted", covariate="pre", by="experiment", correction="holm"),
        lambda: _scipy_loop(agg), peer_name="gbstats formulas + scipy loop", repeat=5,
        note="bar: < 50 ms; gbstats loop 2.79 s in the issue", target_ratio=2.79 / 0.05 if not quick else None))
    return out


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    results = [run_case(c) for c in cases(quick)]
    print(format_table(results))
    agg = _aggregated(100 if quick else 1_000)
    g = gbstats_seconds(agg)
    if g is not None:
        print(f"gbstats 0.8 TwoSidedTTest loop (its own venv), same comparisons: {g:.2f} s")
