"""crmkit.clv against published figures and against lifetimes on the same data.

lifetimes is used only here, as the reference; its CDNOW and donations files are
read straight from its package directory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import warnings

import numpy as np
import polars as pl
import pytest

from crmkit import clv
from crmkit.errors import CrmError, SchemaError

warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)

lifetimes = pytest.importorskip("lifetimes")
import pandas as pd  # noqa: E402  (comes with lifetimes)
from lifetimes import utils as lt_utils  # noqa: E402

DATA = os.path.join(os.path.dirname(importlib.util.find_spec("lifetimes").origin), "datasets")


def assert_frame_equal(a: pl.DataFrame, b: pl.DataFrame, check_exact: bool = False, rel_tol: float = 1e-12) -> None:
    assert a.columns == b.columns and a.dtypes == b.dtypes and a.height == b.height
    for c in a.columns:
        if a[c].dtype.is_float():
            np.testing.assert_allclose(a[c].to_numpy(), b[c].to_numpy(), rtol=rel_tol, err_msg=c)
        else:
            assert a[c].equals(b[c]), c


def sig(value: float, want: float, digits: int = 3) -> bool:
    """True when value rounds to want at `digits` significant digits."""
    return float(f"{value:.{digits}g}") == float(f"{want:.{digits}g}")


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    return pl.read_csv(os.path.join(DATA, "cdnow_customers_summary.csv"))


@pytest.fixture(scope="module")
def cdnow_spend() -> pl.DataFrame:
    return pl.read_csv(os.path.join(DATA, "cdnow_customers_summary_with_transactions.csv"))


@pytest.fixture(scope="module")
def cdnow_master() -> pl.DataFrame:
    with open(os.path.join(DATA, "CDNOW_master.txt")) as fh:
        raw = [line.split() for line in fh if line.strip() and line.split()[0].isdigit()]
    return pl.DataFrame({
        "customer_id": [int(r[0]) for r in raw],
        "order_date": pl.Series([r[1] for r in raw]).str.to_date("%Y%m%d"),
        "amount": [float(r[3]) for r in raw],
    })


@pytest.fixture(scope="module")
def bgf(cdnow):
    return clv.BetaGeoFitter().fit(cdnow)


# --------------------------------------------------------------------------- published figures


def test_bgnbd_matches_published_cdnow_figures(bgf):
    p = bgf.params_
    assert sig(p["r"], 0.2426, 4) and sig(p["alpha"], 4.414, 4)
    assert sig(p["a"], 0.7929, 4) and sig(p["b"], 2.426, 4)
    assert round(bgf.log_likelihood_, 1) == -9582.4


def test_pareto_matches_published_cdnow_figures(cdnow):
    p = clv.ParetoNBDFitter().fit(cdnow)
    assert sig(p.params_["r"], 0.5533, 4) and sig(p.params_["alpha"], 10.578, 5)
    assert sig(p.params_["s"], 0.6062, 4) and sig(p.params_["beta"], 11.67, 4)
    assert round(p.log_likelihood_, 1) == -9595.0


def test_gamma_gamma_matches_published_cdnow_figures(cdnow_spend):
    rep = cdnow_spend.filter(pl.col("x") > 0)
    gg = clv.GammaGammaFitter().fit(rep["x"], rep["zbar"])
    assert sig(gg.params_["p"], 6.25) and sig(gg.params_["q"], 3.74) and sig(gg.params_["v"], 15.44)


def test_bgbb_matches_published_donations_figures():
    d = pl.read_csv(os.path.join(DATA, "donations.csv"))
    m = clv.BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    # Fader, Hardie & Shang (2010): alpha 1.204, beta 0.750, gamma 0.657, delta 2.783, LL -33,225.6
    p = m.params_
    assert sig(p["alpha"], 1.204, 3) and sig(p["beta"], 0.750, 3) and sig(p["gamma"], 0.657, 3)
    assert sig(p["delta"], 2.783, 3)
    assert round(m.log_likelihood_, 1) == -33225.6


# --------------------------------------------------------------------------- lifetimes, same params


def _arrays(df):
    return df["frequency"].to_numpy(), df["recency"].to_numpy(), df["T"].to_numpy()


def _peer(cls, params):
    m = cls()
    m.params_ = pd.Series(params)
    if hasattr(m, "conditional_expected_number_of_purchases_up_to_time"):
        m.predict = m.conditional_expected_number_of_purchases_up_to_time
    return m


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (clv.BetaGeoFitter, "BetaGeoFitter"),
        (clv.ModifiedBetaGeoFitter, "ModifiedBetaGeoFitter"),
        (clv.ParetoNBDFitter, "ParetoNBDFitter"),
    ],
)
def test_predictions_equal_lifetimes_for_the_same_params(cdnow, ours, theirs):
    model = ours().fit(cdnow)
    peer = _peer(getattr(lifetimes, theirs), model.params_)
    x, r, T = _arrays(cdnow)
    for t in (0.5, 1, 10, 39, 100):
        a = model.conditional_expected_number_of_purchases_up_to_time(t, x, r, T)
        b = np.asarray(peer.conditional_expected_number_of_purchases_up_to_time(t, x, r, T))
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(model.conditional_probability_alive(x, r, T),
                               np.asarray(peer.conditional_probability_alive(x, r, T)).ravel(), rtol=1e-6)
    ts = np.array([1.0, 10.0, 52.0])
    np.testing.assert_allclose(model.expected_number_of_purchases_up_to_time(ts),
                               peer.expected_number_of_purchases_up_to_time(ts), rtol=1e-6)
    if hasattr(peer, "probability_of_n_purchases_up_to_time"):  # lifetimes has none for Pareto/NBD
        for n in range(5):
            assert model.probability_of_n_purchases_up_to_time(12.0, n) == pytest.approx(
                float(peer.probability_of_n_purchases_up_to_time(12.0, n)), rel=1e-6)


def test_frequencies_in_the_hundreds_stay_finite(bgf):
    x = np.array([150.0, 300.0, 500.0])
    r = np.array([38.0, 38.5, 38.8])
    T = np.full(3, 38.86)
    peer = _peer(lifetimes.BetaGeoFitter, bgf.params_)
    ours = bgf.conditional_expected_number_of_purchases_up_to_time(10, x, r, T)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, peer.conditional_expected_number_of_purchases_up_to_time(10, x, r, T), rtol=1e-6)
    p = clv.ParetoNBDFitter()
    p._set([0.5533, 10.578, 0.6062, 11.67], 0.0, None, 1.0)
    assert np.all(np.isfinite(p.conditional_probability_alive(x, r, T)))
    assert np.all(np.isfinite(p.predict(10, x, r, T)))


def test_gamma_gamma_and_clv_equal_lifetimes(cdnow, cdnow_spend, bgf):
    rep = cdnow_spend.filter(pl.col("x") > 0)
    gg = clv.GammaGammaFitter().fit(rep["x"], rep["zbar"])
    peer = _peer(lifetimes.GammaGammaFitter, gg.params_)
    np.testing.assert_allclose(gg.conditional_expected_average_profit(rep["x"], rep["zbar"]).to_numpy(),
                               peer.conditional_expected_average_profit(rep["x"].to_pandas(), rep["zbar"].to_pandas()),
                               rtol=1e-9)
    x, r, T = rep["x"], rep["t_x"], rep["T"]
    ours = gg.customer_lifetime_value(bgf, x, r, T, rep["zbar"], time=12, discount_rate=0.01, freq="W")
    theirs = peer.customer_lifetime_value(_peer(lifetimes.BetaGeoFitter, bgf.params_), x.to_pandas(), r.to_pandas(),
                                          T.to_pandas(), rep["zbar"].to_pandas(), time=12, discount_rate=0.01, freq="W")
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-6)


def test_bgbb_predictions_equal_lifetimes():
    d = pl.read_csv(os.path.join(DATA, "donations.csv"))
    m = clv.BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    peer = _peer(lifetimes.BetaGeoBetaBinomFitter, m.params_)
    x, r, n = (d[c].to_numpy().astype(float) for c in ("frequency", "recency", "periods"))
    for mm in (1, 5, 10):
        np.testing.assert_allclose(m.conditional_expected_number_of_purchases_up_to_time(mm, x, r, n),
                                   peer.conditional_expected_number_of_purchases_up_to_time(mm, x, r, n), rtol=1e-6)
        np.testing.assert_allclose(m.conditional_probability_alive(mm, x, r, n),
                                   peer.conditional_probability_alive(mm, x, r, n), rtol=1e-6)


def test_fits_and_standard_errors_equal_lifetimes(cdnow, bgf):
    f, r, T = (cdnow[c].to_pandas() for c in ("frequency", "recency", "T"))
    peer = lifetimes.BetaGeoFitter().fit(f, r, T)
    for k, v in peer.params_.items():
        assert bgf.params_[k] == pytest.approx(v, rel=1e-5)
        assert bgf.standard_errors_[k] == pytest.approx(peer.standard_errors_[k], rel=1e-3)
    mb = clv.ModifiedBetaGeoFitter().fit(cdnow)
    mpeer = lifetimes.ModifiedBetaGeoFitter().fit(f, r, T)
    for k, v in mpeer.params_.items():
        assert mb.params_[k] == pytest.approx(v, rel=1e-4)


@pytest.mark.parametrize("penalizer", [0.01, 0.1])
def test_penalizer_has_lifetimes_meaning(cdnow, penalizer):
    f, r, T = (cdnow[c].to_pandas() for c in ("frequency", "recency", "T"))
    peer = lifetimes.BetaGeoFitter(penalizer_coef=penalizer).fit(f, r, T)
    ours = clv.BetaGeoFitter(penalizer_coef=penalizer).fit(cdnow)
    for k, v in peer.params_.items():
        assert ours.params_[k] == pytest.approx(v, rel=1e-4)
    gg_data = pl.read_csv(os.path.join(DATA, "cdnow_customers_summary_with_transactions.csv")).filter(pl.col("x") > 0)
    gpeer = lifetimes.GammaGammaFitter(penalizer_coef=penalizer).fit(gg_data["x"].to_pandas(), gg_data["zbar"].to_pandas())
    gours = clv.GammaGammaFitter(penalizer_coef=penalizer).fit(gg_data["x"], gg_data["zbar"])
    for k, v in gpeer.params_.items():
        assert gours.params_[k] == pytest.approx(v, rel=1e-4)


def test_weights_equal_expanded_rows(cdnow):
    grouped = cdnow.group_by("frequency", "recency", "T").len()
    a = clv.BetaGeoFitter().fit(grouped["frequency"], grouped["recency"], grouped["T"], weights=grouped["len"])
    b = clv.BetaGeoFitter().fit(cdnow)
    for k in a.params_:
        assert a.params_[k] == pytest.approx(b.params_[k], rel=1e-8)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-10)


# --------------------------------------------------------------------------- summary vs lifetimes


def _lt_summary(orders: pl.DataFrame, **kw) -> pd.DataFrame:
    return lt_utils.summary_data_from_transaction_data(orders.to_pandas(), "customer_id", "order_date", **kw)


def _compare(ours: pl.DataFrame, theirs: pd.DataFrame, mapping: dict) -> None:
    theirs = theirs.sort_index()
    assert ours["customer_id"].to_list() == list(theirs.index)
    for mine, their in mapping.items():
        np.testing.assert_allclose(ours[mine].cast(pl.Float64).to_numpy(), theirs[their].to_numpy(), rtol=1e-12,
                                   atol=1e-9, err_msg=mine)


@pytest.mark.parametrize("freq", ["D", "W"])
def test_summary_equals_lifetimes_on_cdnow_transactions(cdnow_master, freq):
    ours = clv.summary(cdnow_master, amount="amount", freq=freq)
    theirs = _lt_summary(cdnow_master, monetary_value_col="amount", freq=freq)
    _compare(ours, theirs, {"frequency": "frequency", "recency": "recency", "T": "T", "monetary_value": "monetary_value"})


def test_summary_with_observation_end_and_multiplier(cdnow_master):
    ours = clv.summary(cdnow_master, freq="D", observation_end="1997-09-30", freq_multiplier=7)
    theirs = _lt_summary(cdnow_master, freq="D", observation_period_end="1997-09-30", freq_multiplier=7)
    _compare(ours, theirs, {"frequency": "frequency", "recency": "recency", "T": "T"})


def test_summary_with_times_of_day_and_hours():
    rng = np.random.default_rng(3)
    n = 3000
    start = np.datetime64("2024-01-01T00:00:00")
    offsets = rng.integers(0, 90 * 24 * 3600, n).astype("timedelta64[s]")
    orders = pl.DataFrame({
        "customer_id": rng.integers(0, 400, n),
        "order_date": pl.Series((start + offsets).astype("datetime64[us]")),
        "amount": rng.gamma(2.0, 20.0, n).round(2),
    })
    for freq in ("D", "h", "W"):
        ours = clv.summary(orders, amount="amount", freq=freq)
        theirs = _lt_summary(orders, monetary_value_col="amount", freq=freq)
        _compare(ours, theirs, {"frequency": "frequency", "recency": "recency", "T": "T",
                                "monetary_value": "monetary_value"})


def test_calibration_holdout_equals_lifetimes(cdnow_master):
    ours = clv.summary(cdnow_master, amount="amount", calibration_end="1997-09-30", observation_end="1998-06-30")
    theirs = lt_utils.calibration_and_holdout_data(cdnow_master.to_pandas(), "customer_id", "order_date",
                                                   calibration_period_end="1997-09-30",
                                                   observation_period_end="1998-06-30", monetary_value_col="amount")
    _compare(ours, theirs, {"frequency": "frequency_cal", "recency": "recency_cal", "T": "T_cal",
                            "monetary_value": "monetary_value_cal", "frequency_holdout": "frequency_holdout",
                            "monetary_value_holdout": "monetary_value_holdout",
                            "duration_holdout": "duration_holdout"})
    part = cdnow_master.filter(pl.col("customer_id") % 4 == 0)  # lifetimes is slow here
    weekly = clv.summary(part, calibration_end="1997-09-30", freq="W")
    wt = lt_utils.calibration_and_holdout_data(part.to_pandas(), "customer_id", "order_date",
                                               calibration_period_end="1997-09-30", freq="W")
    _compare(weekly, wt, {"frequency": "frequency_cal", "T": "T_cal", "frequency_holdout": "frequency_holdout",
                          "duration_holdout": "duration_holdout"})


def test_summary_accepts_lazy_frames_and_is_partitionable(cdnow_master):
    eager = clv.summary(cdnow_master, amount="amount")
    lazy = clv.summary(cdnow_master.lazy(), amount="amount")
    assert_frame_equal(eager, lazy, check_exact=False, rel_tol=1e-12)
    end = cdnow_master["order_date"].max()
    parts = [clv.summary(cdnow_master.filter(pl.col("customer_id") % 3 == k), amount="amount", observation_end=end)
             for k in range(3)]
    assert_frame_equal(pl.concat(parts).sort("customer_id"), eager, check_exact=False, rel_tol=1e-12)


# --------------------------------------------------------------------------- scoring, persistence


def test_predict_matches_methods_and_runs_lazily(cdnow, cdnow_spend, bgf):
    s = cdnow.with_columns(cdnow_spend["zbar"].alias("monetary_value"))
    gg = clv.GammaGammaFitter().fit(s.filter(pl.col("frequency") > 0))
    out = clv.predict(s, bgf, gg, horizon=12, freq="W", discount_rate=0.01)
    x, r, T = _arrays(s)
    np.testing.assert_allclose(out["p_alive"].to_numpy(), bgf.conditional_probability_alive(x, r, T), rtol=1e-12)
    np.testing.assert_allclose(out["expected_purchases"].to_numpy(),
                               bgf.predict(12 * 4.345, x, r, T), rtol=1e-12)
    rep = out.filter(pl.col("frequency") > 0)
    want = gg.customer_lifetime_value(bgf, rep["frequency"], rep["recency"], rep["T"], rep["monetary_value"],
                                      time=12, freq="W")
    np.testing.assert_allclose(rep["clv"].to_numpy(), want.to_numpy(), rtol=1e-12)
    lazy = clv.predict(s.lazy(), bgf, gg, horizon=12, freq="W")
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect().equals(out)


def test_calibration_holdout_table(cdnow_master):
    s = clv.summary(cdnow_master, calibration_end="1997-09-30", freq="W")
    model = clv.BetaGeoFitter().fit(s)
    table = clv.calibration_holdout(s, model, max_frequency=5)
    assert table["frequency"].to_list() == [0, 1, 2, 3, 4, 5]
    assert table["n_customers"].sum() == s.height
    first = s.filter(pl.col("frequency") == 0)
    assert table["actual_holdout"][0] == pytest.approx(first["frequency_holdout"].mean())
    pred = model.predict(first["duration_holdout"], first["frequency"], first["recency"], first["T"]).mean()
    assert table["predicted_holdout"][0] == pytest.approx(pred)


def test_save_and_load_round_trip(tmp_path, bgf):
    path = tmp_path / "bgf.json"
    bgf.save(path)
    doc = json.loads(path.read_text())
    assert doc["crmkit_model"] == "BetaGeoFitter"
    back = clv.load(path)
    assert back.params_ == bgf.params_ and back.log_likelihood_ == bgf.log_likelihood_
    assert back.summary.equals(bgf.summary)
    assert clv.BetaGeoFitter.load(path).params_ == bgf.params_
    with pytest.raises(CrmError, match="not a ParetoNBDFitter"):
        clv.ParetoNBDFitter.load(path)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(CrmError, match="does not hold"):
        clv.load(tmp_path / "bad.json")


def test_summary_table_has_intervals(bgf):
    s = bgf.summary
    assert s.columns == ["param", "coef", "se(coef)", "lower 95% bound", "upper 95% bound"]
    assert (s["lower 95% bound"] < s["coef"]).all() and (s["coef"] < s["upper 95% bound"]).all()


# --------------------------------------------------------------------------- degenerate input


@pytest.mark.parametrize(
    "x,r,T,message",
    [
        ([0, 0, 0], [0, 0, 0], [5, 6, 7], "no customer has a repeat purchase"),
        ([1, 0], [3, 0], [2, 5], "recency is larger than T"),
        ([1, 0], [-1, 0], [2, 5], "recency is negative"),
        ([1, 0], [1, 0], [2, -5], "T is negative"),
        ([1.5, 0], [1, 0], [2, 5], "not a whole number"),
        ([-1, 1], [0, 1], [2, 5], "frequency is negative"),
        ([0, 1], [2, 1], [2, 5], "recency is non-zero although frequency is 0"),
        ([1, 0], [float("nan"), 0], [2, 5], "NaN"),
        ([1, 0], [0, 0], [0, 0], "every T is 0"),
        ([], [], [], "no customers"),
    ],
)
@pytest.mark.parametrize("cls", [clv.BetaGeoFitter, clv.ModifiedBetaGeoFitter, clv.ParetoNBDFitter])
def test_degenerate_histories_raise(cls, x, r, T, message):
    with pytest.raises(CrmError, match=message):
        cls().fit(x, r, T)


@pytest.mark.parametrize(
    "x,m,message",
    [
        ([1, 2, 0], [10.0, 12.0, 0.0], "frequency <= 0"),
        ([1, 2, 3], [10.0, -1.0, 3.0], "monetary_value <= 0"),
        ([1, 2, 3], [10.0, 0.0, 3.0], "monetary_value <= 0"),
        ([1, 2, 3], [10.0, float("nan"), 3.0], "NaN"),
        ([1, 2, 3], [10.0, 10.0, 10.0], "all monetary values are equal"),
    ],
)
def test_degenerate_spend_raises(x, m, message):
    with pytest.raises(CrmError, match=message):
        clv.GammaGammaFitter().fit(x, m)


def test_bad_frames_and_arguments_raise():
    with pytest.raises(SchemaError, match="'recency' not found"):
        clv.BetaGeoFitter().fit(pl.DataFrame({"frequency": [1], "T": [2.0]}))
    orders = pl.DataFrame({"customer_id": [1, None], "order_date": [pl.date(2024, 1, 1)] * 2}).with_columns(
        pl.col("order_date"))
    with pytest.raises(SchemaError):
        clv.summary(pl.DataFrame({"customer_id": [1], "order_date": ["2024-01-01"]}))
    good = pl.DataFrame({"customer_id": [1, 2], "order_date": pl.Series(["2024-01-01", "2024-01-02"]).str.to_date(),
                         "amount": [1.0, float("nan")]})
    with pytest.raises(SchemaError, match="'amount'.*NaN"):
        clv.summary(good, amount="amount")
    with pytest.raises(SchemaError, match="'customer_id'.*null"):
        clv.summary(good.with_columns(pl.Series("customer_id", [1, None])))
    with pytest.raises(CrmError, match="empty"):
        clv.summary(good.head(0))
    with pytest.raises(CrmError, match="freq"):
        clv.summary(good, freq="M")
    with pytest.raises(CrmError, match="no transactions fall in the holdout"):
        clv.summary(good, calibration_end="2024-01-01", observation_end="2024-01-01 12:00:00")
    with pytest.raises(CrmError, match="not been fitted"):
        clv.BetaGeoFitter().conditional_probability_alive(1, 1, 2)
    with pytest.raises(CrmError, match="penalizer_coef"):
        clv.BetaGeoFitter(penalizer_coef=-1)
    del orders


def test_non_convergence_is_a_clear_error():
    # One repeat buyer with a history the BG/NBD cannot pin down within 3 iterations.
    with pytest.raises(CrmError, match="did not converge"):
        clv.BetaGeoFitter().fit([0, 1, 0, 3], [0, 2.0, 0, 9.0], [10.0, 10.0, 10.0, 10.0], max_iter=3)


def test_string_ids_take_the_general_path_with_equal_results(cdnow_master):
    ints = clv.summary(cdnow_master, amount="amount", freq="W")
    strs = clv.summary(cdnow_master.with_columns(pl.col("customer_id").cast(pl.String).str.zfill(6)), amount="amount",
                       freq="W")
    assert strs["customer_id"].cast(pl.Int64).to_list() == ints["customer_id"].to_list()
    assert_frame_equal(strs.drop("customer_id"), ints.drop("customer_id"))
    hold_i = clv.summary(cdnow_master, amount="amount", calibration_end="1997-09-30")
    hold_s = clv.summary(cdnow_master.with_columns(pl.col("customer_id").cast(pl.String).str.zfill(6)), amount="amount",
                         calibration_end="1997-09-30")
    assert_frame_equal(hold_s.drop("customer_id"), hold_i.drop("customer_id"))


# --------------------------------------------------------------------------- known truth


def _simulate_bgnbd(n, r, alpha, a, b, seed):
    rng = np.random.default_rng(seed)
    T = rng.uniform(10.0, 60.0, n)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    k = rng.geometric(p)
    arrivals = rng.poisson(lam * T)
    x = np.minimum(k, arrivals)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(arrivals - x, 0) + 1), 0.0)
    return x.astype(float), tx, T


def _simulate_pareto(n, r, alpha, s, beta, seed):
    rng = np.random.default_rng(seed)
    T = rng.uniform(10.0, 60.0, n)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    life = rng.exponential(1.0 / mu)
    horizon = np.minimum(life, T)
    arrivals = rng.poisson(lam * horizon)
    tx = np.where(arrivals > 0, horizon * rng.beta(np.maximum(arrivals, 1), 1.0), 0.0)
    return arrivals.astype(float), tx, T


def _within(model, truth, z=1.96):
    for k, v in truth.items():
        lo, hi = model.params_[k] - z * model.standard_errors_[k], model.params_[k] + z * model.standard_errors_[k]
        assert lo <= v <= hi, f"{k}: true {v} outside [{lo:.4g}, {hi:.4g}]"


def test_bgnbd_recovers_generating_parameters():
    truth = {"r": 0.3, "alpha": 5.0, "a": 0.8, "b": 2.5}
    x, tx, T = _simulate_bgnbd(20_000, *truth.values(), seed=11)
    _within(clv.BetaGeoFitter().fit(x, tx, T), truth)


def test_pareto_recovers_generating_parameters():
    truth = {"r": 0.5, "alpha": 8.0, "s": 0.7, "beta": 12.0}
    x, tx, T = _simulate_pareto(20_000, *truth.values(), seed=12)
    _within(clv.ParetoNBDFitter().fit(x, tx, T), truth)


def test_gamma_gamma_recovers_generating_parameters():
    rng = np.random.default_rng(13)
    truth = {"p": 6.0, "q": 4.0, "v": 15.0}
    n = 5000
    x = rng.integers(1, 10, n).astype(float)
    nu = rng.gamma(truth["q"], 1.0 / truth["v"], n)
    # mean of x Gamma(p, nu) spends is Gamma(p x, nu x)
    zbar = rng.gamma(truth["p"] * x, 1.0 / (nu * x))
    _within(clv.GammaGammaFitter().fit(x, zbar), truth)


def test_undefined_predictions_raise_instead_of_nan():
    d = pl.read_csv(os.path.join(DATA, "donations.csv"))
    m = clv.BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    with pytest.raises(CrmError, match="not defined"):
        m.expected_number_of_purchases_up_to_time(5)


def test_demo_step_scores_every_customer(cdnow_master):
    from crmkit._pipeline import Context

    out = clv.demo_step(Context(orders=cdnow_master))
    customers = out.tables["customers"]
    assert customers.height == cdnow_master["customer_id"].n_unique()
    assert {"p_alive", "expected_purchases", "clv"} <= set(customers.columns)
    assert customers["clv"].is_finite().all() and customers["p_alive"].is_between(0, 1).all()


def test_bgbb_rejects_impossible_discrete_histories():
    with pytest.raises(CrmError, match="frequency is larger than recency"):
        clv.BetaGeoBetaBinomFitter().fit([3, 1], [2, 1], [6, 6])
    with pytest.raises(CrmError, match="recency is larger than T"):
        clv.BetaGeoBetaBinomFitter().fit([3, 1], [7, 1], [6, 6])


def _generator_params(world) -> dict:
    params = world.truth.params
    if isinstance(params, pl.DataFrame):
        return params.row(0, named=True)
    return dict(params) if not hasattr(params, "__dict__") else vars(params)


def test_recovers_the_generators_parameters_within_intervals():
    """On crmkit.datasets' synthetic shop, BG/NBD and Gamma-Gamma fits cover the
    generating parameters with their intervals. Seven parameters are checked at
    once, so each interval is widened to a joint 95% level (Bonferroni: z = 2.69);
    single 95% intervals would miss one of seven about a third of the time."""
    from crmkit import datasets

    world = datasets.generate(n_customers=20_000, seed=5)
    truth = _generator_params(world)
    # The generator runs in continuous time: summarise to the second, in days, up to
    # the end of its observation window.
    stats = clv.summary(world.orders, amount="amount", freq="s", freq_multiplier=86_400,
                        observation_end=truth["observation_end"])
    bgf = clv.BetaGeoFitter().fit(stats)
    joint = 2.69
    _within(bgf, {k: truth[k] for k in ("r", "alpha", "a", "b")}, z=joint)
    repeat = stats.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
    gg = clv.GammaGammaFitter().fit(repeat)
    _within(gg, {"p": truth["p"], "q": truth["q"], "v": truth["gamma"]}, z=joint)


def test_lifetimes_optimiser_options_are_accepted_with_a_warning(cdnow):
    with pytest.warns(UserWarning, match="ignored"):
        m = clv.ParetoNBDFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"], fit_method="Nelder-Mead",
                                      tol=1e-4)
    assert round(m.log_likelihood_, 1) == -9595.0
    with pytest.raises(CrmError, match="unexpected argument"):
        clv.BetaGeoFitter().fit(cdnow, bogus=1)


# --------------------------------------------------------------------------- lifetimes' other methods


def test_pareto_conditional_pmf_equals_lifetimes(cdnow):
    model = clv.ParetoNBDFitter().fit(cdnow)
    peer = _peer(lifetimes.ParetoNBDFitter, model.params_)
    # a spread of CDNOW histories: new, one-off, loyal, lapsed, heavy
    x, r, T = _arrays(cdnow.sort("frequency", "recency").gather_every(59))
    for n in range(6):
        for t in (1.0, 39.0):
            ours = model.conditional_probability_of_n_purchases_up_to_time(n, t, x, r, T)
            theirs = np.array([peer.conditional_probability_of_n_purchases_up_to_time(n, t, a, b, c)
                               for a, b, c in zip(x, r, T)])
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12, err_msg=f"n={n} t={t}")


def test_pareto_pmf_of_a_new_customer_equals_a_simulation():
    """Independent of the formula: simulate Pareto/NBD customers and count purchases."""
    params = {"r": 0.8, "alpha": 12.0, "s": 1.4, "beta": 9.0}
    m = clv.ParetoNBDFitter()
    m.params_ = params
    rng = np.random.default_rng(7)
    k = 1_000_000
    lam = rng.gamma(params["r"], 1 / params["alpha"], k)
    death = rng.exponential(1 / rng.gamma(params["s"], 1 / params["beta"], k))
    counts = rng.poisson(lam * np.minimum(death, 20.0))
    for n in range(6):
        want = float(np.mean(counts == n))
        se = np.sqrt(want * (1 - want) / k)
        assert abs(m.probability_of_n_purchases_up_to_time(20.0, n) - want) < 5 * se, n
    assert m.probability_of_n_purchases_up_to_time(0.0, 0) == 1.0


def test_pareto_pmf_bad_arguments_raise(cdnow):
    model = clv.ParetoNBDFitter().fit(cdnow)
    with pytest.raises(CrmError, match="n must be whole numbers"):
        model.conditional_probability_of_n_purchases_up_to_time(1.5, 10, 1, 5, 10)
    with pytest.raises(CrmError, match="n must be whole numbers"):
        model.conditional_probability_of_n_purchases_up_to_time(-1, 10, 1, 5, 10)
    with pytest.raises(CrmError, match="t must be finite"):
        model.conditional_probability_of_n_purchases_up_to_time(1, -2, 1, 5, 10)
    with pytest.raises(CrmError, match="'T' has length 2"):
        model.conditional_probability_of_n_purchases_up_to_time(1, 10, [1, 2, 3], [5, 6, 7], [10, 10])
    with pytest.raises(CrmError, match="not been fitted"):
        clv.ParetoNBDFitter().probability_of_n_purchases_up_to_time(10, 1)


@pytest.mark.parametrize("ours,theirs", [(clv.BetaGeoFitter, "BetaGeoFitter"), (clv.ParetoNBDFitter, "ParetoNBDFitter")])
def test_alive_matrix_equals_lifetimes(cdnow, ours, theirs):
    model = ours().fit(cdnow)
    peer = _peer(getattr(lifetimes, theirs), model.params_)
    ref = np.asarray(peer.conditional_probability_alive_matrix(max_frequency=12, max_recency=20))
    np.testing.assert_allclose(model.conditional_probability_alive_matrix(12, 20), ref, rtol=1e-6)
    full = model.conditional_probability_alive_matrix()  # lifetimes' defaults: the fitted data's maxima
    assert full.shape == (int(cdnow["T"].max()) + 1, int(cdnow["frequency"].max()) + 1)


def test_bgbb_expected_counts_equal_lifetimes():
    d = pl.read_csv(os.path.join(DATA, "donations.csv"))
    m = clv.BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    peer = _peer(lifetimes.BetaGeoBetaBinomFitter, m.params_)
    peer.data = d.to_pandas().rename(columns={"periods": "n_periods"})
    ours = m.expected_number_of_transactions_in_first_n_periods(6)
    theirs = peer.expected_number_of_transactions_in_first_n_periods(6)
    assert ours["frequency"].to_list() == list(range(7)) == list(theirs.index)
    np.testing.assert_allclose(ours["model"].to_numpy(), theirs["model"].to_numpy(), rtol=1e-9)
    assert ours["model"].sum() == pytest.approx(d["weights"].sum())
    with pytest.raises(CrmError, match="whole number"):
        m.expected_number_of_transactions_in_first_n_periods(2.5)
    with pytest.raises(CrmError, match="at most 5,000"):
        m.expected_number_of_transactions_in_first_n_periods(10**6)
    with pytest.raises(CrmError, match="continuous-time"):
        m.conditional_probability_alive_matrix()


def test_lifetimes_save_model_and_load_model_names(tmp_path, bgf):
    path = tmp_path / "model.json"
    bgf.save_model(path)
    back = clv.BetaGeoFitter().load_model(path)
    assert back.params_ == bgf.params_ and back.data_extent_ == bgf.data_extent_
    np.testing.assert_array_equal(back.conditional_probability_alive_matrix(), bgf.conditional_probability_alive_matrix())
    doc = json.loads(path.read_text())
    del doc["data_extent"]
    path.write_text(json.dumps(doc))
    with pytest.raises(CrmError, match="pass max_frequency and max_recency"):
        clv.load(path).conditional_probability_alive_matrix()


def test_horizon_and_discount_rate_are_checked(cdnow, cdnow_spend, bgf):
    gg = clv.GammaGammaFitter().fit(cdnow_spend.filter(pl.col("x") > 0)["x"], cdnow_spend.filter(pl.col("x") > 0)["zbar"])
    summary = cdnow_spend.rename({"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    for bad in (-1, float("nan"), float("inf"), 10_000, "12", True):
        with pytest.raises(CrmError, match="'horizon' must be a number of months"):
            clv.predict(summary, bgf, gg, horizon=bad, freq="W")
        with pytest.raises(CrmError, match="'time' must be a number of months"):
            gg.customer_lifetime_value(bgf, [1], [5.0], [30.0], [20.0], time=bad, freq="W")
    for bad in (-1.0, float("nan"), "0.01"):
        with pytest.raises(CrmError, match="discount_rate"):
            clv.predict(summary, bgf, gg, horizon=12, freq="W", discount_rate=bad)
    zero = clv.predict(summary, bgf, gg, horizon=0, freq="W")
    assert (zero["expected_purchases"] == 0).all() and (zero["clv"] == 0).all()


def test_lifetimes_named_summaries_are_drop_in(cdnow_master):
    """Same call, same columns (in order) and values as lifetimes.utils, text dates too."""
    part = cdnow_master.filter(pl.col("customer_id") % 5 == 0)
    text = part.with_columns(pl.col("order_date").dt.strftime("%Y%m%d"))
    ours = clv.summary_data_from_transaction_data(text, "customer_id", "order_date", "amount", datetime_format="%Y%m%d",
                                                  observation_period_end="19980630", freq="W")
    theirs = lt_utils.summary_data_from_transaction_data(text.to_pandas(), "customer_id", "order_date", "amount",
                                                         datetime_format="%Y%m%d",
                                                         observation_period_end="19980630", freq="W")
    assert ours.columns[1:] == list(theirs.columns)
    _compare(ours, theirs, {c: c for c in theirs.columns})
    ours = clv.calibration_and_holdout_data(part.to_pandas(), "customer_id", "order_date", "1997-09-30", "1998-06-30",
                                            monetary_value_col="amount")
    theirs = lt_utils.calibration_and_holdout_data(part.to_pandas(), "customer_id", "order_date", "1997-09-30",
                                                   "1998-06-30", monetary_value_col="amount")
    assert ours.columns[1:] == list(theirs.columns)
    _compare(ours, theirs, {c: c for c in theirs.columns})
    with pytest.raises(CrmError, match="does not parse as a date with format '%d.%m.%Y'"):
        clv.summary_data_from_transaction_data(text, "customer_id", "order_date", datetime_format="%d.%m.%Y")


@pytest.mark.parametrize("model_cls", [clv.BetaGeoFitter, clv.ModifiedBetaGeoFitter, clv.ParetoNBDFitter])
def test_period_transactions_equal_a_simulation_of_the_model(model_cls):
    """Expected counts of customers by repeat purchases, against 400k customers simulated
    from the same model and ages (independent of the PMF formulas)."""
    rng = np.random.default_rng(11)
    k = 400_000
    T = rng.uniform(1.0, 60.0, k).round(1)
    lam = rng.gamma(0.8, 1 / 6.0, k)
    if model_cls is clv.ParetoNBDFitter:
        params = {"r": 0.8, "alpha": 6.0, "s": 1.2, "beta": 15.0}
        death = rng.exponential(1 / rng.gamma(params["s"], 1 / params["beta"], k))
        x = rng.poisson(lam * np.minimum(death, T))
    else:
        params = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 4.0}
        p = rng.beta(params["a"], params["b"], k)
        arrivals = rng.poisson(lam * T)
        stays = rng.geometric(p)  # purchases up to and including the one after which they drop
        if model_cls is clv.ModifiedBetaGeoFitter:
            stays = np.where(rng.random(k) < p, 0, stays)  # may also drop right at the start
        x = np.minimum(stays, arrivals)
    m = model_cls()
    m.params_ = params
    summary = pl.DataFrame({"frequency": x, "T": T})
    table = clv.period_transactions(summary, m, max_frequency=6)
    assert table["actual"].sum() == k and table["model"].sum() == pytest.approx(k)
    assert table["actual"].to_list() == np.bincount(np.minimum(x, 6), minlength=7).tolist()
    for actual, expected in zip(table["actual"], table["model"]):
        assert abs(actual - expected) < 5 * np.sqrt(expected) + 1, (actual, expected)


def test_period_transactions_bad_input(cdnow, bgf):
    with pytest.raises(CrmError, match="max_frequency"):
        clv.period_transactions(cdnow, bgf, max_frequency=0)
    with pytest.raises(CrmError, match="must be a fitted"):
        clv.period_transactions(cdnow, clv.GammaGammaFitter())
    with pytest.raises(SchemaError, match="'T'"):
        clv.period_transactions(cdnow.drop("T"), bgf)
    with pytest.raises(CrmError, match="empty"):
        clv.period_transactions(cdnow.clear(), bgf)
    with pytest.raises(CrmError, match="n must be whole numbers"):
        bgf.probability_of_n_purchases_up_to_time(10, 1.5)
