"""crmkit.experiment against its references: scipy.stats and statsmodels on the same
inputs (1e-9 relative), GrowthBook's gbstats through the pinned fixture
tests/reference/experiment_gbstats.json (produced by tests/reference/experiment_gbstats.py
in a separate environment), the issue's reference points, planted campaign effects in
generated worlds, and the bad inputs of issue 14."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

import crmkit
from crmkit import _core, experiment
from crmkit.errors import CrmError, SchemaError

pytestmark = pytest.mark.filterwarnings("ignore::crmkit.experiment.SampleRatioMismatchWarning")

FIXTURE = json.loads((Path(__file__).parent / "reference" / "experiment_gbstats.json").read_text())
STAT = ["n", "sum", "sum_sq", "sum_den", "sum_den_sq", "sum_prod", "sum_cov", "sum_cov_sq", "sum_cov_prod"]


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))


def close(a, b, tol):
    assert rel(a, b) <= tol, f"{a} vs {b} (relative {rel(a, b):.2e})"


def close_p(a, b, tol=1e-9):
    """p-values: relative tolerance, or 1e-13 absolute for tiny p-values, where gbstats'
    2·(1 - cdf) itself keeps only absolute digits (crmkit computes the tail directly)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert np.all(np.abs(a - b) <= tol * np.abs(b) + 1e-13), f"{a} vs {b}"


# ------------------------------------------------------------------------------------
# distributions (src/stats/dist.rs) against scipy


@pytest.mark.parametrize("df", [1.0, 2.0, 3.5, 12.0, 97.3, 1998.0, 2.5e5])
def test_t_distribution_matches_scipy(df):
    rng = np.random.default_rng(int(df * 10))
    # The t CDF for df > ~1e4 is accurate to ~1e-11 (the incomplete beta's continued
    # fraction is ill-conditioned there); elsewhere to ~1e-13.
    tol = 1e-12 if df <= 2000 else 2e-11
    x = np.concatenate([rng.normal(0, 3, 200), [0.0, -40.0, 60.0]])
    close(_core.stats_dist("t_sf", x, df), stats.t.sf(x, df), tol)
    close(_core.stats_dist("t_cdf", x, df), stats.t.cdf(x, df), tol)
    p = np.concatenate([rng.uniform(1e-6, 1 - 1e-6, 200), [1e-12, 0.025, 0.975]])
    close(_core.stats_dist("t_ppf", p, df), stats.t.ppf(p, df), tol)
    if df == 1.0:  # Cauchy near 0, where scipy's stdtr loses digits: the closed form
        tiny = np.array([1e-8, -3e-7])
        close(_core.stats_dist("t_sf", tiny, 1.0), 0.5 - np.arctan(tiny) / np.pi, 1e-15)
    if df == 3.5:  # next to the median scipy's stdtrit loses digits: mpmath (50 digits)
        close(_core.stats_dist("t_ppf", np.array([0.5 + 1e-9]), 3.5)[0], 2.6898180797404428644e-9, 1e-13)


def test_normal_chi2_gamma_beta_match_scipy():
    rng = np.random.default_rng(3)
    z = np.concatenate([rng.normal(0, 4, 300), [-37.5, -20.0, 8.0, 0.0]])
    close(_core.stats_dist("norm_cdf", z), stats.norm.cdf(z), 1e-13)
    close(_core.stats_dist("norm_sf", z), stats.norm.sf(z), 1e-13)
    p = np.concatenate([rng.uniform(0, 1, 300), [1e-300, 1e-20, 0.3, 1 - 1e-10]])
    close(_core.stats_dist("norm_ppf", p), stats.norm.ppf(p), 1e-13)
    for k in (1.0, 2.0, 7.0, 40.0, 600.0):
        x = rng.gamma(k, 2.0, 100)
        close(_core.stats_dist("chi2_sf", x, k), stats.chi2.sf(x, k), 1e-12)
        close(_core.stats_dist("chi2_cdf", x, k), stats.chi2.cdf(x, k), 1e-12)
    from scipy import special

    for a, b in [(0.5, 0.5), (2.0, 30.0), (400.0, 0.5), (1200.0, 900.0), (15.0, 15.0)]:
        x = rng.uniform(0, 1, 100)
        close(_core.stats_dist("betainc", x, a, b), special.betainc(a, b, x), 1e-12)
    for a in (0.5, 3.0, 50.0, 2000.0):
        x = rng.gamma(a, 1.0, 100)
        close(_core.stats_dist("gammainc", x, a), special.gammainc(a, x), 1e-12)
        close(_core.stats_dist("gammaincc", x, a), special.gammaincc(a, x), 1e-12)
    for df, nc in [(10.0, 0.5), (98.0, 2.8), (30.0, -1.5), (4000.0, 3.0)]:
        # The range power calculations use (the lower tail below 1e-3 is ~1e-9 relative).
        x = rng.normal(nc, 2.0, 40)
        x = x[stats.nct.cdf(x, df, nc) > 1e-3]
        close(_core.stats_dist("nct_cdf", x, df, nc), stats.nct.cdf(x, df, nc), 1e-9)


# ------------------------------------------------------------------------------------
# gbstats (pinned fixture)


def _agg(case):
    rows = []
    for variant, arm in (("control", case["control"]), ("treatment", case["treatment"])):
        rows.append({"variant": variant, **{k: float(arm.get(k, float("nan"))) if k in arm else None for k in STAT}})
    df = pl.DataFrame(rows, schema={"variant": pl.String, **{k: pl.Float64 for k in STAT}})
    kind = case["kind"].split("+")[0]
    return df.with_columns(pl.lit(kind).alias("kind"))


@pytest.mark.filterwarnings("ignore::crmkit.experiment.SampleRatioMismatchWarning")  # unequal random arms
@pytest.mark.parametrize("case", FIXTURE["cases"], ids=[c["name"] for c in FIXTURE["cases"]])
def test_equal_to_gbstats(case):
    g = case["gbstats"]
    alpha = case.get("alpha", 0.05)
    agg = _agg(case)
    if "prior_sd" not in case:
        r = experiment.ab_test(agg, metric="m", alpha=alpha, correction=None).row(0, named=True)
        fa, fr = g["freq_absolute"], g["freq_relative"]
        close([r["diff"], r["diff_lower"], r["diff_upper"]], [fa["expected"], *fa["ci"]], 1e-9)
        close([r["lift"], r["lift_lower"], r["lift_upper"]], [fr["expected"], *fr["ci"]], 1e-9)
        close_p([r["p_value"], r["lift_p_value"]], [fa["p_value"], fr["p_value"]])
        s = experiment.sequential(agg, metric="m", alpha=alpha).row(0, named=True)
        sa, sr = g["seq_absolute"], g["seq_relative"]
        close([s["diff_lower"], s["diff_upper"], s["p_value"]], [*sa["ci"], sa["p_value"]], 1e-9)
        close([s["lift_lower"], s["lift_upper"], s["lift_p_value"]], [*sr["ci"], sr["p_value"]], 1e-9)
    prior = {"prior_mean": case["prior_mean"], "prior_sd": case["prior_sd"]} if "prior_sd" in case else {}
    for relative, key in ((True, "bayes_relative"), (False, "bayes_absolute")):
        b = experiment.bayes(agg, metric="m", alpha=alpha, relative=relative, **prior).row(0, named=True)
        gb = g[key]
        lo, hi = ("lift_lower", "lift_upper") if relative else ("diff_lower", "diff_upper")
        close([b["chance_to_win"], b[lo], b[hi]], [gb["chance_to_win"], *gb["ci"]], 1e-9)
        close_p([b["risk_control"], b["expected_loss"]], gb["risk"], 1e-8)


def test_srm_equal_to_gbstats():
    for s in FIXTURE["srm"]:
        got = experiment.srm(s["users"], expected=s["weights"])["p_value"][0]
        close(got, s["p_value"], 1e-12)


def test_issue_reference_points():
    agg = pl.DataFrame({"variant": ["control", "treatment"], "n": [1000, 1000], "sum": [100, 120]})
    r = experiment.ab_test(agg).row(0, named=True)
    assert round(r["diff"], 7) == 0.02
    assert (round(r["diff_lower"], 7), round(r["diff_upper"], 7)) == (-0.0074282, 0.0474282)
    assert round(r["p_value"], 6) == 0.152865
    assert (round(r["lift"], 6), round(r["lift_lower"], 6), round(r["lift_upper"], 6)) == (0.2, -0.100768, 0.500768)
    assert round(r["lift_p_value"], 6) == 0.192350
    assert round(experiment.bayes(agg)["chance_to_win"][0], 6) == 0.903900
    assert round(experiment.srm({"control": 5000, "treatment": 5200})["p_value"][0], 7) == 0.0476704
    n = experiment.sample_size(0.10, 0.10)
    assert 14_748 <= n <= 14_751 and math.ceil(n) == 14_749
    assert math.ceil(experiment.sample_size(0.10, 0.10, effect_size="pooled")) == 14_752
    assert math.ceil(experiment.sample_size(0.10, 0.10, test="t")) == 14_749


# ------------------------------------------------------------------------------------
# scipy / statsmodels on unit rows and aggregated input


def _units(seed=0, n=(800, 700, 650), binary=False):
    rng = np.random.default_rng(seed)
    frames = []
    for name, size, shift in zip(["control", "b", "c"], n, [0.0, 0.3, -0.1]):
        pre = rng.gamma(2.0, 5.0, size)
        y = pre * 0.5 + rng.normal(10 + shift, 4, size)
        conv = rng.random(size) < 0.1 + shift / 10
        frames.append(pl.DataFrame({"variant": [name] * size, "revenue": y, "converted": conv, "pre": pre,
                                    "count": rng.poisson(2 + shift, size), "segment": rng.choice(["x", "y"], size)}))
    return pl.concat(frames)


def test_welch_equals_scipy_unit_and_aggregated():
    df = _units(1)
    res = experiment.ab_test(df, metric="revenue", correction=None).sort("variant")
    agg = experiment.summarize(df, metric="revenue")
    res_agg = experiment.ab_test(agg, metric="revenue", correction=None).sort("variant")
    for name in ("b", "c"):
        x = df.filter(pl.col("variant") == name)["revenue"].to_numpy()
        y = df.filter(pl.col("variant") == "control")["revenue"].to_numpy()
        ref = stats.ttest_ind(x, y, equal_var=False)
        ci = ref.confidence_interval(0.95)
        for r in (res, res_agg):
            row = r.filter(pl.col("variant") == name).row(0, named=True)
            close([row["statistic"], row["p_value"], row["df"]], [ref.statistic, ref.pvalue, ref.df], 1e-9)
            close([row["diff_lower"], row["diff_upper"]], [ci.low, ci.high], 1e-9)
    for alt, sc in (("larger", "greater"), ("smaller", "less")):
        row = experiment.ab_test(df, metric="revenue", alternative=alt, correction=None).filter(pl.col("variant") == "b")
        x = df.filter(pl.col("variant") == "b")["revenue"].to_numpy()
        y = df.filter(pl.col("variant") == "control")["revenue"].to_numpy()
        ref = stats.ttest_ind(x, y, equal_var=False, alternative=sc)
        close(row["p_value"][0], ref.pvalue, 1e-9)
        ci = ref.confidence_interval(0.95)
        bound = row["diff_lower"][0] if alt == "larger" else row["diff_upper"][0]
        close(bound, ci.low if alt == "larger" else ci.high, 1e-9)


def test_proportion_tests_equal_statsmodels_and_scipy():
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        proportions_ztest,
        test_proportions_2indep,
    )

    rng = np.random.default_rng(5)
    for _ in range(20):
        n1, n2 = rng.integers(30, 3000, 2)
        c1, c2 = rng.binomial(n1, 0.12), rng.binomial(n2, 0.15)
        agg = pl.DataFrame({"variant": ["control", "t"], "n": [n1, n2], "sum": [c1, c2]})
        z = experiment.ab_test(agg, test="z").row(0, named=True)
        ref = test_proportions_2indep(c2, n2, c1, n1, method="wald", compare="diff")
        close([z["statistic"], z["p_value"]], [ref.statistic, ref.pvalue], 1e-9)
        lo, hi = confint_proportions_2indep(c2, n2, c1, n1, method="wald", compare="diff")
        close([z["diff_lower"], z["diff_upper"]], [lo, hi], 1e-9)
        zp = experiment.ab_test(agg, test="z-pooled").row(0, named=True)
        s, p = proportions_ztest([c2, c1], [n2, n1])
        close([zp["statistic"], zp["p_value"]], [s, p], 1e-9)
        ch = experiment.ab_test(agg, test="chi2").row(0, named=True)
        ref = stats.chi2_contingency([[c2, n2 - c2], [c1, n1 - c1]])
        close([ch["statistic"], ch["p_value"]], [ref.statistic, ref.pvalue], 1e-9)
    for table in ([[3, 1], [1, 3]], [[0, 5], [4, 2]], [[7, 13], [1, 19]], [[20, 380], [8, 392]]):
        (a, b), (c, d) = table
        agg = pl.DataFrame({"variant": ["control", "t"], "n": [c + d, a + b], "sum": [c, a]})
        for alt, sc in (("two-sided", "two-sided"), ("larger", "greater"), ("smaller", "less")):
            f = experiment.ab_test(agg, test="fisher", alternative=alt).row(0, named=True)
            ref = stats.fisher_exact(table, alternative=sc)
            close(f["p_value"], ref.pvalue, 1e-9)


def test_mann_whitney_equals_scipy_with_ties_and_exact():
    df = _units(2)
    res = experiment.ab_test(df, metric="count", test="mann-whitney", correction=None).sort("variant")
    for name in ("b", "c"):
        x = df.filter(pl.col("variant") == name)["count"].to_numpy()
        y = df.filter(pl.col("variant") == "control")["count"].to_numpy()
        ref = stats.mannwhitneyu(x, y)
        row = res.filter(pl.col("variant") == name).row(0, named=True)
        close([row["statistic"], row["p_value"]], [ref.statistic, ref.pvalue], 1e-9)
    small = pl.DataFrame({"variant": ["control"] * 4 + ["t"] * 5, "v": [1.1, 2.3, 0.4, 5.0, 3.3, 4.2, 6.1, 7.7, 0.9]})
    row = experiment.ab_test(small, metric="v", test="mann-whitney", alternative="larger").row(0, named=True)
    ref = stats.mannwhitneyu([3.3, 4.2, 6.1, 7.7, 0.9], [1.1, 2.3, 0.4, 5.0], alternative="greater")
    close(row["p_value"], ref.pvalue, 1e-12)


def test_corrections_equal_statsmodels():
    from statsmodels.stats.multitest import multipletests

    df = _units(3)
    for method, sm in (("holm", "holm"), ("bonferroni", "bonferroni"), ("bh", "fdr_bh")):
        r = experiment.ab_test(df, metric=["revenue", "converted", "count"], correction=method)
        ref = multipletests(r["p_value"].to_numpy(), method=sm)[1]
        close(r["p_adjusted"].to_numpy(), ref, 1e-12)
        assert r["significant"].to_list() == (ref < 0.05).tolist()
    none = experiment.ab_test(df, metric="revenue", correction=None)
    assert none["p_adjusted"].to_list() == none["p_value"].to_list()


def test_power_equals_statsmodels():
    from statsmodels.stats.power import NormalIndPower, TTestIndPower

    d = 0.01 / math.sqrt((0.09 + 0.11 * 0.89) / 2)
    for ratio in (1.0, 0.5, 3.0):
        for alt in ("two-sided", "larger"):
            n = experiment.sample_size(0.10, 0.10, ratio=ratio, alternative=alt)
            close(NormalIndPower().power(d, n, 0.05, ratio=ratio, alternative=alt), 0.8, 1e-9)
            ref = NormalIndPower().solve_power(d, nobs1=None, alpha=0.05, power=0.8, ratio=ratio, alternative=alt)
            assert abs(n - ref) < 1e-4
            close(experiment.power(0.10, 0.10, 5000, ratio=ratio, alternative=alt),
                  NormalIndPower().power(d, 5000, 0.05, ratio=ratio, alternative=alt), 1e-9)
    # means: TTestIndPower with d = delta / sd
    n = experiment.sample_size(50.0, 2.0, relative=False, kind="mean", sd=20.0)
    close(TTestIndPower().power(0.1, n, 0.05), 0.8, 1e-9)
    assert abs(n - TTestIndPower().solve_power(0.1, nobs1=None, alpha=0.05, power=0.8)) < 1e-4
    close(experiment.power(50.0, 2.0, 300, relative=False, kind="mean", sd=20.0, ratio=2.0),
          TTestIndPower().power(0.1, 300, 0.05, ratio=2.0), 1e-9)
    m = experiment.mde(0.10, 14748.008897108914)
    assert abs(m - 0.10) < 1e-9
    assert abs(experiment.mde(50.0, n, relative=False, kind="mean", sd=20.0) - 2.0) < 1e-9
    h = experiment.sample_size(0.10, 0.10, effect_size="arcsine")
    from statsmodels.stats.proportion import proportion_effectsize

    close(NormalIndPower().power(proportion_effectsize(0.11, 0.10), h, 0.05), 0.8, 1e-9)


# ------------------------------------------------------------------------------------
# CUPED, ratio, by-segments, SRM


def test_cuped_reduces_variance_and_matches_unit_data():
    df = _units(4, n=(3000, 3000, 3000))
    plain = experiment.ab_test(df, metric="revenue", correction=None).sort("variant")
    cuped = experiment.ab_test(df, metric="revenue", covariate="pre", correction=None).sort("variant")
    assert (cuped["variance_reduction"] > 0.2).all()
    width = lambda r: (r["diff_upper"] - r["diff_lower"]).to_numpy()  # noqa: E731
    assert (width(cuped) < width(plain)).all()
    # θ equals the pooled regression slope of the metric on the covariate (both arms).
    sub = df.filter(pl.col("variant").is_in(["control", "b"]))
    theta = np.cov(sub["revenue"].to_numpy(), sub["pre"].to_numpy())[0, 1] / np.var(sub["pre"].to_numpy(), ddof=1)
    close(cuped.filter(pl.col("variant") == "b")["theta"][0], theta, 1e-9)
    agg = experiment.summarize(df, metric="revenue", covariate="pre")
    again = experiment.ab_test(agg, metric="revenue", correction=None).sort("variant")
    close(again["p_value"].to_numpy(), cuped["p_value"].to_numpy(), 1e-9)


def test_ratio_metric_delta_method():
    rng = np.random.default_rng(9)
    n = 2000
    sessions = rng.poisson(3, 2 * n) + 1
    revenue = rng.gamma(2.0, 5.0, 2 * n) * sessions
    df = pl.DataFrame({"variant": ["control"] * n + ["t"] * n, "revenue": revenue, "sessions": sessions})
    r = experiment.ab_test(df, metric="revenue", denominator="sessions").row(0, named=True)
    assert r["kind"] == "ratio"
    c, t = df.filter(pl.col("variant") == "control"), df.filter(pl.col("variant") == "t")
    close(r["control_mean"], c["revenue"].sum() / c["sessions"].sum(), 1e-12)
    # Delta-method variance of Σy/Σx per arm.
    def var_ratio(part):
        y, x = part["revenue"].to_numpy(), part["sessions"].to_numpy()
        my, mx = y.mean(), x.mean()
        cov = np.cov(y, x, ddof=1)
        return (cov[0, 0] / mx**2 - 2 * cov[0, 1] * my / mx**3 + my**2 * cov[1, 1] / mx**4) / len(y)
    se = math.sqrt(var_ratio(c) + var_ratio(t))
    close(r["diff"] / r["statistic"], se, 1e-9)


def test_by_segments_and_heterogeneity():
    rng = np.random.default_rng(11)
    n = 4000
    seg = rng.choice(["new", "loyal", "lapsed"], n)
    variant = rng.choice(["control", "t"], n)
    lift = np.where(seg == "lapsed", 0.12, 0.0)
    conv = rng.random(n) < 0.1 + lift * (variant == "t")
    df = pl.DataFrame({"variant": variant, "converted": conv, "segment": seg})
    r = experiment.ab_test(df, by="segment").sort("segment")
    assert r["segment"].to_list() == ["lapsed", "loyal", "new"]
    assert r.filter(pl.col("segment") == "lapsed")["significant"][0]
    # Cochran's Q from the per-segment estimates, computed here by hand.
    w = 1 / ((r["diff"] / r["statistic"]) ** 2).to_numpy()
    d = r["diff"].to_numpy()
    q = float(np.sum(w * (d - np.sum(w * d) / np.sum(w)) ** 2))
    close(r["heterogeneity_q"][0], q, 1e-12)
    close(r["heterogeneity_p"][0], stats.chi2.sf(q, 2), 1e-12)
    assert r["heterogeneity_p"][0] < 0.01


def test_srm_warning_and_table():
    df = pl.DataFrame({"variant": ["control"] * 5000 + ["t"] * 5600, "converted": [0, 1] * 5300})
    with pytest.warns(experiment.SampleRatioMismatchWarning, match="sample ratio mismatch"):
        experiment.ab_test(df)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        experiment.ab_test(df, expected={"control": 5000, "t": 5600})
    tab = experiment.srm(df)
    ref = stats.chisquare([5000, 5600])
    close([tab["chi2"][0], tab["p_value"][0]], [ref.statistic, ref.pvalue], 1e-12)
    assert tab["mismatch"][0]


def test_summarize_groups_and_kinds():
    df = _units(6).with_columns(pl.col("segment").cast(pl.Categorical), pl.col("variant").cast(pl.Enum(["control", "b", "c"])))
    s = experiment.summarize(df, metric=["converted", "revenue"], by="segment")
    assert s.schema["variant"] == pl.Enum(["control", "b", "c"]) and s.schema["segment"] == pl.Categorical
    ref = df.group_by("segment", "variant").agg(pl.len().alias("n"), pl.col("revenue").sum().alias("sum"),
                                                 (pl.col("revenue") ** 2).sum().alias("sum_sq"))
    got = s.filter(pl.col("metric") == "revenue").join(ref, on=["segment", "variant"], suffix="_ref")
    assert got.height == 6
    close(got["sum"].to_numpy(), got["sum_ref"].to_numpy(), 1e-12)
    close(got["sum_sq"].to_numpy(), got["sum_sq_ref"].to_numpy(), 1e-12)
    assert (got["n"] == got["n_ref"]).all()
    kinds = dict(s.select("metric", "kind").unique().iter_rows())
    assert kinds == {"converted": "proportion", "revenue": "mean"}


# ------------------------------------------------------------------------------------
# bad input


def test_bad_inputs_are_clear_errors_or_documented_nulls():
    agg = pl.DataFrame({"variant": ["control", "t"], "n": [1000, 1000], "sum": [100, 120]})
    with pytest.raises(CrmError, match="single variant"):
        experiment.ab_test(agg.head(1))
    with pytest.raises(CrmError, match="control 'ctl' not found"):
        experiment.ab_test(agg, control="ctl")
    with pytest.raises(CrmError, match="negative counts"):
        experiment.ab_test(agg.with_columns(pl.Series("n", [-5, 1000])))
    with pytest.raises(CrmError, match="above 'n'"):
        experiment.ab_test(agg.with_columns(pl.Series("sum", [1200, 120])))
    with pytest.raises(CrmError, match="do not belong together"):
        experiment.ab_test(agg.with_columns(pl.Series("sum_sq", [5.0, 130.0]), pl.lit("mean").alias("kind")))
    with pytest.raises(SchemaError, match="'x'"):
        experiment.ab_test(pl.DataFrame({"variant": ["control", "t"], "x": [1.0, float("nan")]}), metric="x")
    with pytest.raises(CrmError, match="alternative"):
        experiment.ab_test(agg, alternative="bigger")
    with pytest.raises(CrmError, match="aggregated"):
        experiment.ab_test(agg, test="mann-whitney")
    with pytest.raises(CrmError, match="not proportions"):
        experiment.ab_test(pl.DataFrame({"variant": ["control", "t"] * 5, "x": np.arange(10.0)}), metric="x", test="fisher")
    # All-zero conversions in the control: the difference is defined, the lift is not.
    zero = experiment.ab_test(pl.DataFrame({"variant": ["control", "t"], "n": [500, 500], "sum": [0, 6]})).row(0, named=True)
    assert zero["lift"] is None and zero["lift_lower"] is None and "relative lift undefined" in zero["reason"]
    assert 0 < zero["p_value"] < 1 and zero["diff"] == 0.012
    # Zero variance in both arms: no test, a reason instead of NaN.
    flat = experiment.ab_test(pl.DataFrame({"variant": ["control", "t"] * 3, "x": [2.0] * 6}), metric="x").row(0, named=True)
    assert flat["p_value"] is None and "zero variance" in flat["reason"] and flat["diff"] == 0.0
    none = experiment.ab_test(pl.DataFrame({"variant": ["control", "t"], "n": [0, 0], "sum": [0, 0]})).row(0, named=True)
    assert none["p_value"] is None and "fewer than 2 units" in none["reason"]
    with pytest.raises(CrmError, match="sd="):
        experiment.sample_size(10.0, 0.1, kind="mean")
    with pytest.raises(CrmError, match="non-zero"):
        experiment.sample_size(0.1, 0.0)


# ------------------------------------------------------------------------------------
# campaigns in generated worlds


def test_generated_world_unchanged_without_campaigns():
    plain = crmkit.datasets.generate(n_customers=400, seed=3)
    with_c = crmkit.datasets.generate(n_customers=400, seed=3, campaigns=4)
    assert with_c.customers.equals(plain.customers) and with_c.items.equals(plain.items)
    base = with_c.orders.filter(pl.col("order_id") <= plain.orders["order_id"].max()).sort("order_id")
    assert base.equals(plain.orders.sort("order_id"))
    extra = with_c.orders.filter(pl.col("order_id") > plain.orders["order_id"].max())
    assert extra.height == with_c.truth.campaign_orders.height > 0
    assert with_c.campaigns.columns[:6] == ["campaign_id", "customer_id", "group", "sent_at", "channel", "cost"]
    assert with_c.orders["order_date"].is_sorted()


def _campaign_worlds(seeds, n_campaigns, n_customers):
    rows = []
    for seed in seeds:
        w = crmkit.datasets.generate(n_customers=n_customers, seed=seed, campaigns=n_campaigns, event_days=0)
        res = experiment.campaign(w.campaigns, w.orders).filter(pl.col("group") == "treatment")
        truth = w.truth.campaigns.filter(pl.col("segment") == "all")
        rows.append(res.join(truth, on="campaign_id", suffix="_true").with_columns(pl.lit(seed).alias("seed")))
    return pl.concat(rows)


def test_planted_campaign_effects_are_covered():
    r = _campaign_worlds(range(5), 60, 1500)
    assert r.height >= 200
    inside = ((r["incremental_response_lower"] <= r["incremental_response_true"])
              & (r["incremental_response_true"] <= r["incremental_response_upper"]))
    coverage = inside.mean()
    assert 0.92 <= coverage <= 0.98, coverage
    rev_inside = ((r["incremental_revenue_per_customer_lower"] <= r["incremental_revenue_per_customer_true"])
                  & (r["incremental_revenue_per_customer_true"] <= r["incremental_revenue_per_customer_upper"]))
    assert 0.92 <= rev_inside.mean() <= 0.98, rev_inside.mean()


def test_planted_segment_differences_are_found():
    w = crmkit.datasets.generate(n_customers=20_000, seed=21, campaigns=12, event_days=0)
    seg = experiment.campaign(w.campaigns, w.orders, by="segment").filter(pl.col("group") == "treatment")
    truth = w.truth.campaigns.filter(pl.col("segment") != "all")
    j = seg.join(truth, on=["campaign_id", "segment"], suffix="_true").drop_nulls(
        ["incremental_response", "incremental_response_true"])
    assert j.height >= 30
    corr = np.corrcoef(j["incremental_response"].to_numpy(), j["incremental_response_true"].to_numpy())[0, 1]
    assert corr > 0.6, corr
    # Lapsing customers respond more than active ones wherever a campaign works.
    piv = j.filter(pl.col("uplift") > 0).pivot(on="segment", index="campaign_id", values="incremental_response")
    assert (piv["lapsing"] - piv["active"]).mean() > 0


def test_campaign_costs_and_roi():
    w = crmkit.datasets.generate(n_customers=1500, seed=2, campaigns=2, event_days=0)
    res = experiment.campaign(w.campaigns, w.orders)
    t = res.filter(pl.col("group") == "treatment").sort("campaign_id")
    cost = w.campaigns.filter(pl.col("group") == "treatment").group_by("campaign_id").agg(pl.col("cost").sum()).sort("campaign_id")
    close(t["cost"].to_numpy(), cost["cost"].to_numpy(), 1e-12)
    close(t["roi"].to_numpy(), ((t["incremental_revenue"] - t["cost"]) / t["cost"]).to_numpy(), 1e-12)
    flat = experiment.campaign(w.campaigns, w.orders, cost=0.5).filter(pl.col("group") == "treatment")
    close(flat["cost"].to_numpy(), (flat["customers"] * 0.5).to_numpy(), 1e-12)
    table = pl.DataFrame({"campaign_id": [1, 2], "cost": [100.0, 50.0]})
    by_table = experiment.campaign(w.campaigns, w.orders, cost=table).filter(pl.col("group") == "treatment").sort("campaign_id")
    assert by_table["cost"].to_list() == [100.0, 50.0]
    # Hand computation of one group's response rate.
    c = w.campaigns.filter(pl.col("campaign_id") == 1)
    win = c.join(w.orders, on="customer_id").filter(
        (pl.col("order_date") >= pl.col("sent_at")) & (pl.col("order_date") < pl.col("sent_at") + pl.duration(days=30)))
    responders = win.filter(pl.col("group") == "treatment")["customer_id"].n_unique()
    assert t["responders"][0] == responders
    with pytest.raises(CrmError, match="holdout"):
        experiment.campaign(w.campaigns.filter(pl.col("group") == "treatment"), w.orders)


def test_pipeline_step_and_cli_run_with_campaigns(tmp_path, capsys):
    from crmkit.cli import main

    w = crmkit.datasets.generate(n_customers=800, seed=4, campaigns=2, event_days=0)
    w.orders.write_parquet(tmp_path / "orders.parquet")
    w.campaigns.write_csv(tmp_path / "contacts.csv")
    out = tmp_path / "out"
    assert main(["run", "--orders", str(tmp_path / "orders.parquet"), "--campaigns", str(tmp_path / "contacts.csv"),
                 "--out", str(out), "--quiet", "--no-report"]) == 0
    table = pl.read_parquet(out / "experiments_campaigns.parquet")
    direct = experiment.campaign(w.campaigns, w.orders)
    assert table.select("campaign_id", "group", "responders").equals(direct.select("campaign_id", "group", "responders"))
    assert (out / "experiments_segments.parquet").exists()
    assert "[experiments]" in capsys.readouterr().out
