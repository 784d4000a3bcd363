"""crmkit.churn: leakage, labels and features against straightforward pandas/brute force,
the BTYD churn score against numerical integration, and out-of-time accuracy on CDNOW
(real transactions shipped in the lifetimes wheel) and on a generated world's truth."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import warnings

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import crmkit
from crmkit import churn, clv, metrics
from crmkit.errors import CrmError, SchemaError

CUT = dt.datetime(2025, 3, 1)


@pytest.fixture(scope="module")
def small():
    return crmkit.datasets.generate(n_customers=600, seed=31, start="2023-01-01", end="2025-07-01")


def has_ml() -> bool:
    try:
        from crmkit import ml  # noqa: F401
    except ImportError:
        return False
    return True


needs_ml = pytest.mark.skipif(not has_ml(), reason="crmkit.ml is not built into this checkout")


# --------------------------------------------------------------------------- leakage


def test_changing_and_deleting_rows_on_or_after_the_cutoff_changes_no_feature(small):
    orders, items, events = small.orders, small.items, small.events
    kw = dict(cutoff=CUT, items=items, events=events)
    base = churn.features(orders, **kw)
    after = pl.col("order_date") >= CUT
    rng = np.random.default_rng(0)
    n_after = orders.filter(after).height
    assert n_after > 500 and base.height > 300
    ids = orders["customer_id"].to_numpy()
    changed = orders.with_columns(
        pl.when(after).then(pl.col("amount") * 7 + 1).otherwise(pl.col("amount")).alias("amount"),
        pl.when(after).then(pl.lit(0.5)).otherwise(pl.col("discount")).alias("discount"),
        pl.when(after).then(pl.lit("store")).otherwise(pl.col("channel")).cast(orders["channel"].dtype).alias("channel"),
        # move every later order to other customers (and new ones) at other later times
        pl.when(after).then(pl.Series(rng.choice(ids, len(ids)) + rng.integers(0, 2, len(ids)) * 10_000_000))
        .otherwise(pl.col("customer_id")).alias("customer_id"),
        pl.when(after).then(pl.col("order_date") + pl.duration(days=3, hours=5)).otherwise(pl.col("order_date"))
        .alias("order_date"),
    )
    late_orders = orders.filter(after)["order_id"]
    changed_items = items.with_columns(
        pl.when(pl.col("order_id").is_in(late_orders.implode())).then(pl.lit("other")).otherwise(pl.col("category"))
        .alias("category"))
    late = pl.col("timestamp") >= CUT
    changed_events = events.with_columns(
        pl.when(late).then(pl.lit("cart")).otherwise(pl.col("event")).cast(events["event"].dtype).alias("event"),
        pl.when(late).then(pl.col("customer_id").reverse()).otherwise(pl.col("customer_id")).alias("customer_id"),
    )
    assert_frame_equal(base, churn.features(changed, cutoff=CUT, items=changed_items, events=changed_events))
    deleted = churn.features(orders.filter(~after), cutoff=CUT, items=items.filter(~pl.col("order_id").is_in(
        late_orders.implode())), events=events.filter(~late))
    assert_frame_equal(base, deleted)
    # and the cutoff really cuts: moving it a month later changes features
    assert not churn.features(orders, cutoff=dt.datetime(2025, 4, 1))["recency"].equals(base["recency"])


def test_lazy_input_and_string_channels_give_the_same_features(small):
    eager = churn.features(small.orders, cutoff=CUT, btyd=False)
    lazy = churn.features(small.orders.lazy().with_columns(pl.col("channel").cast(pl.String)), cutoff=CUT, btyd=False)
    assert_frame_equal(eager, lazy)


def test_any_customer_id_type_and_row_order_give_the_same_features(small):
    base = churn.features(small.orders, cutoff=CUT, btyd=False)
    # Sparse integer ids and text ids take the dense-rank codes, not the id range;
    # the rows shuffled out of time order are put back in time order per customer.
    sparse = small.orders.with_columns(pl.col("customer_id") * 1_000_003 - 7)
    text = small.orders.with_columns(pl.format("c{}", pl.col("customer_id").cast(pl.String).str.zfill(6))
                                     .alias("customer_id"))
    shuffled = small.orders.sample(fraction=1.0, shuffle=True, seed=5)
    for orders, key in ((sparse, pl.col("customer_id") * 1_000_003 - 7),
                        (text, pl.format("c{}", pl.col("customer_id").cast(pl.String).str.zfill(6))),
                        (shuffled, pl.col("customer_id"))):
        got = churn.features(orders, cutoff=CUT, btyd=False)
        want = base.with_columns(key.alias("customer_id"))
        assert got["customer_id"].to_list() == sorted(want["customer_id"].to_list())
        assert got.columns == want.columns and got.dtypes == want.dtypes
        for c in got.columns:
            a, b = got[c], want[c]
            assert a.is_null().to_list() == b.is_null().to_list(), c
            if a.dtype.is_float():  # sums in another row order may differ in the last bit
                np.testing.assert_allclose(a.drop_nulls().to_numpy(), b.drop_nulls().to_numpy(), rtol=1e-12,
                                           atol=1e-12, err_msg=c)
            else:
                assert a.to_list() == b.to_list(), c


# --------------------------------------------------------------------------- features vs pandas


def pandas_features(orders: pl.DataFrame, items: pl.DataFrame, events: pl.DataFrame, cutoff: dt.datetime):
    """A straightforward pandas computation of the same definitions."""
    import pandas as pd

    o = orders.to_pandas()
    o = o[o["order_date"] < cutoff].copy()
    o["ago"] = (cutoff - o["order_date"]).dt.total_seconds() / 86400
    o["day"] = o["order_date"].dt.floor("D")
    g = o.groupby("customer_id")
    out = pd.DataFrame({
        "recency": g["ago"].min(), "frequency": g.size(), "monetary_sum": g["amount"].sum(),
        "monetary_mean": g["amount"].mean(), "monetary_max": g["amount"].max(), "tenure": g["ago"].max(),
        "purchase_days": g["day"].nunique(),
    })
    gaps = o.drop_duplicates(["customer_id", "day"]).sort_values(["customer_id", "day"])
    gaps["gap"] = gaps.groupby("customer_id")["day"].diff().dt.days
    gg = gaps.groupby("customer_id")["gap"]
    out["interval_mean"] = gg.mean()
    out["interval_std"] = gg.std()
    out["interval_last"] = gg.last()
    out["overdue_ratio"] = out["recency"] / out["interval_mean"]
    for w in (30, 90, 180, 365):
        inside = o[o["ago"] <= w].groupby("customer_id")
        out[f"orders_{w}d"] = inside.size().reindex(out.index).fillna(0)
        out[f"spend_{w}d"] = inside["amount"].sum().reindex(out.index).fillna(0)
    for a, b in ((30, 90), (90, 180), (180, 365)):
        for k in ("orders", "spend"):
            den = out[f"{k}_{b}d"]
            out[f"{k}_trend_{a}_{b}d"] = (out[f"{k}_{a}d"] / a) / (den / b)
            out.loc[den == 0, f"{k}_trend_{a}_{b}d"] = np.nan
    out["discount_share"] = g["discount"].apply(lambda s: (s > 0).mean())
    out["discount_mean"] = g["discount"].mean()
    out["n_channels"] = g["channel"].nunique()
    for ch in crmkit.datasets.CHANNELS:
        out[f"channel_share_{ch}"] = g["channel"].apply(lambda s, ch=ch: (s.astype(str) == ch).mean())
    wd = o["order_date"].dt.weekday
    o["weekend"], o["wd"], o["hour"] = wd >= 5, wd, o["order_date"].dt.hour + o["order_date"].dt.minute / 60 \
        + o["order_date"].dt.second / 3600 + o["order_date"].dt.microsecond / 3.6e9
    g = o.groupby("customer_id")
    out["weekend_share"] = g["weekend"].mean()
    out["weekday_concentration"] = g["wd"].apply(lambda s: s.value_counts().max() / len(s))
    out["evening_share"] = g["hour"].apply(lambda s: (s >= 18).mean())
    out["hour_mean"] = g["hour"].mean()
    it = items.to_pandas().merge(o[["order_id", "customer_id"]], on="order_id")
    per_cat = it.groupby(["customer_id", "category"])["quantity"].sum()
    out["category_breadth"] = per_cat.groupby(level=0).size()
    out["favourite_category_share"] = per_cat.groupby(level=0).max() / per_cat.groupby(level=0).sum()
    out["products_distinct"] = it.groupby("customer_id")["product"].nunique()
    out["items_per_order"] = it.groupby("customer_id")["quantity"].sum() / out["frequency"]
    e = events.to_pandas()
    e = e[e["timestamp"] < cutoff].dropna(subset=["customer_id"]).copy()
    e["ago"] = (cutoff - e["timestamp"]).dt.total_seconds() / 86400
    ge = e.groupby("customer_id")
    out["events_30d"] = e[e["ago"] <= 30].groupby("customer_id").size().reindex(out.index).fillna(0)
    out["sessions_30d"] = e[e["ago"] <= 30].groupby("customer_id")["session_id"].nunique().reindex(out.index).fillna(0)
    out["sessions_90d"] = e[e["ago"] <= 90].groupby("customer_id")["session_id"].nunique().reindex(out.index).fillna(0)
    out["days_since_last_event"] = ge["ago"].min()
    s90 = e[e["ago"] <= 90].groupby(["customer_id", "session_id"])["event"].agg(
        lambda s: ("cart" in set(s.astype(str)), "purchase" in set(s.astype(str))))
    carts = s90[s90.map(lambda t: t[0])]
    out["cart_sessions_90d"] = carts.groupby(level=0).size().reindex(out.index).fillna(0)
    out["cart_abandonment"] = carts.map(lambda t: not t[1]).groupby(level=0).mean()
    return out.sort_index()


def test_features_equal_a_straightforward_pandas_computation(small):
    cut = dt.datetime(2025, 2, 14, 15, 30)  # not midnight: hours matter for recency
    ours = churn.features(small.orders, cutoff=cut, items=small.items, events=small.events).to_pandas() \
        .set_index("customer_id").sort_index()
    ref = pandas_features(small.orders, small.items, small.events, cut)
    assert list(ours.index) == list(ref.index)
    for c in ref.columns:
        np.testing.assert_allclose(ours[c].to_numpy(dtype=float), ref[c].to_numpy(dtype=float), rtol=1e-9,
                                   atol=1e-9, equal_nan=True, err_msg=c)
    assert set(ours.columns) - set(ref.columns) == {"btyd_p_alive", "btyd_p_no_purchase", "btyd_expected_purchases",
                                                    "btyd_expected_spend"}


def test_btyd_features_are_a_bgnbd_fitted_on_the_pre_cutoff_summary(small):
    f = churn.features(small.orders, cutoff=CUT, horizon=120)
    pre = small.orders.filter(pl.col("order_date") < CUT)
    s = clv.summary(pre, amount="amount", observation_end=CUT - dt.timedelta(microseconds=1))
    bgf = clv.BetaGeoFitter().fit(s)
    gg = clv.GammaGammaFitter().fit(s.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0)))
    want = bgf.conditional_probability_no_purchases_up_to_time(120, s["frequency"], s["recency"], s["T"])
    np.testing.assert_allclose(f["btyd_p_no_purchase"].to_numpy(), want.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(f["btyd_p_alive"].to_numpy(),
                               bgf.conditional_probability_alive(s["frequency"], s["recency"], s["T"]).to_numpy(),
                               rtol=1e-6)
    spend = gg.conditional_expected_average_profit(s["frequency"], s["monetary_value"]).to_numpy()
    expected = bgf.predict(120, s["frequency"], s["recency"], s["T"]).to_numpy()
    np.testing.assert_allclose(f["btyd_expected_spend"].to_numpy(), expected * spend, rtol=1e-6)


def test_feature_table_documents_every_column(small):
    f = churn.features(small.orders, cutoff=CUT, items=small.items, events=small.events)
    documented = set(churn.FEATURES["feature"])
    undocumented = [c for c in f.columns[1:] if c not in documented and not c.startswith("channel_share_")]
    assert undocumented == []
    assert churn.FEATURES["definition"].str.len_chars().min() > 10


# --------------------------------------------------------------------------- labels


def test_labels_equal_brute_force(small):
    orders = small.orders
    cut, horizon = dt.datetime(2024, 11, 20, 12), 90
    got = churn.labels(orders, cutoff=cut, horizon=horizon)
    rows = orders.select("customer_id", "order_date", "amount").rows()
    end = cut + dt.timedelta(days=horizon)
    seen = {c for c, d, _ in rows if d < cut}
    want = {}
    for c in seen:
        fut = [a for cc, d, a in rows if cc == c and cut <= d < end]
        want[c] = (len(fut) == 0, len(fut), sum(fut))
    assert got.height == len(seen)
    for c, churned, n, spend in got.rows():
        assert (churned, n) == want[c][:2] and spend == pytest.approx(want[c][2], abs=1e-9)


def test_labels_refuse_an_unobserved_horizon(small):
    with pytest.raises(CrmError, match="do not cover the whole horizon"):
        churn.labels(small.orders, cutoff="2025-06-01", horizon=180)
    y = churn.labels(small.orders, cutoff="2025-06-01", horizon=180, data_end="2025-12-01")
    assert y["churned"].dtype == pl.Boolean


def test_training_set_stacks_cutoffs(small):
    ts = churn.training_set(small.orders, cutoffs=["2024-09-01", "2024-06-01"], horizon=120)
    assert ts["cutoff"].unique().sort().to_list() == [dt.datetime(2024, 6, 1), dt.datetime(2024, 9, 1)]
    one = churn.features(small.orders, cutoff="2024-06-01", horizon=120).join(
        churn.labels(small.orders, cutoff="2024-06-01", horizon=120), on="customer_id")
    assert_frame_equal(ts.filter(pl.col("cutoff") == dt.datetime(2024, 6, 1)).drop("cutoff"), one)


def test_bad_input_is_named(small):
    with pytest.raises(SchemaError, match="'amount'"):
        churn.features(small.orders.drop("amount"), cutoff=CUT)
    with pytest.raises(CrmError, match="cutoff"):
        churn.features(small.orders, cutoff="next tuesday")
    with pytest.raises(CrmError, match="no order falls before"):
        churn.features(small.orders, cutoff="2000-01-01")
    with pytest.raises(CrmError, match="windows"):
        churn.features(small.orders, cutoff=CUT, windows=(90, 30))


# --------------------------------------------------------------------------- the BTYD churn score


def test_p_no_purchase_matches_numerical_integration_over_the_bgnbd_posterior():
    """Integrate the joint posterior of (rate, dropout p) numerically over the rate (p is
    integrated against its Beta prior in closed form) and compare."""
    from scipy import integrate, special

    par = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    m = clv.BetaGeoFitter()
    m.params_ = par
    a, b = par["a"], par["b"]
    for x, tx, big_t, t in ((0, 0.0, 30.0, 26.0), (2, 20.0, 38.0, 26.0), (5, 10.0, 39.0, 10.0)):
        alive_p = special.beta(a, b + x) / special.beta(a, b)  # E[(1-p)^x]
        dead_p = special.beta(a + 1, b + x - 1) / special.beta(a, b) if x > 0 else 0.0  # E[p (1-p)^(x-1)]

        def joint(lam, future):
            prior = lam ** (par["r"] - 1) * np.exp(-par["alpha"] * lam) * par["alpha"] ** par["r"] / special.gamma(par["r"])
            alive = alive_p * lam ** x * np.exp(-lam * big_t)
            dead = dead_p * lam ** x * np.exp(-lam * tx)
            return prior * ((alive * np.exp(-lam * t) + dead) if future else (alive + dead))

        num = sum(integrate.quad(joint, lo, hi, args=(True,), epsabs=1e-14, limit=400)[0]
                  for lo, hi in ((0, 1e-3), (1e-3, 1), (1, 80)))
        den = sum(integrate.quad(joint, lo, hi, args=(False,), epsabs=1e-14, limit=400)[0]
                  for lo, hi in ((0, 1e-3), (1e-3, 1), (1, 80)))
        got = m.conditional_probability_no_purchases_up_to_time(t, x, tx, big_t)
        assert got == pytest.approx(num / den, rel=1e-6), (x, tx, big_t)
    # the trap it avoids: a one-time buyer is always "alive" under BG/NBD
    assert m.conditional_probability_alive(0, 0.0, 300.0) == 1.0
    assert m.conditional_probability_no_purchases_up_to_time(26, 0, 0.0, 300.0) > 0.9


def test_p_no_purchase_for_pareto_and_mbg():
    pareto = clv.ParetoNBDFitter()
    pareto.params_ = {"r": 0.5533, "alpha": 10.578, "s": 0.6062, "beta": 11.67}
    args = (39.0, np.array([0.0, 2.0, 7.0]), np.array([0.0, 30.4, 35.0]), np.array([38.9, 38.9, 38.9]))
    np.testing.assert_allclose(pareto.conditional_probability_no_purchases_up_to_time(*args),
                               pareto.conditional_probability_of_n_purchases_up_to_time(0, *args), rtol=1e-12)
    mbg = clv.ModifiedBetaGeoFitter()
    mbg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    alive = mbg.conditional_probability_alive(1, 5.0, 30.0)
    want = (1 - alive) + alive * ((4.414 + 30) / (4.414 + 30 + 20)) ** (0.243 + 1)
    assert mbg.conditional_probability_no_purchases_up_to_time(20, 1, 5.0, 30.0) == pytest.approx(want, rel=1e-12)
    s = pl.DataFrame({"frequency": [0, 3], "recency": [0.0, 20.0], "T": [30.0, 30.0]})
    by_expr = s.select(mbg.p_no_purchase_expr(20.0))
    np.testing.assert_allclose(by_expr.to_series().to_numpy(),
                               mbg.conditional_probability_no_purchases_up_to_time(20, s["frequency"], s["recency"],
                                                                                   s["T"]).to_numpy(), rtol=1e-15)


# --------------------------------------------------------------------------- CDNOW, out of time


@pytest.fixture(scope="module")
def cdnow():
    lifetimes = importlib.util.find_spec("lifetimes")
    if lifetimes is None:
        pytest.skip("lifetimes (which ships CDNOW) is not installed")
    path = os.path.join(os.path.dirname(lifetimes.origin), "datasets", "CDNOW_master.txt")
    with open(path) as fh:
        raw = [line.split() for line in fh if line.strip() and line.split()[0].isdigit()]
    return pl.DataFrame({
        "customer_id": [int(r[0]) for r in raw],
        "order_date": pl.Series([r[1] for r in raw]).str.to_date("%Y%m%d"),
        "amount": [float(r[3]) for r in raw],
    })


def test_cdnow_btyd_baselines_out_of_time(cdnow):
    """BG/NBD P(no purchase in 182 days) ranks CDNOW's churners about as well as recency;
    1 - P(alive) ranks them worse than a coin (the trap the docstring explains)."""
    cut = dt.date(1997, 12, 31)
    f = churn.features(cdnow, cutoff=cut, horizon=182).join(churn.labels(cdnow, cutoff=cut, horizon=182),
                                                             on="customer_id")
    y = f["churned"].to_numpy()
    auc_btyd = metrics.roc_auc_score(y, f["btyd_p_no_purchase"])
    auc_alive = metrics.roc_auc_score(y, 1 - f["btyd_p_alive"].to_numpy())
    auc_recency = metrics.roc_auc_score(y, f["recency"])
    assert 0.77 < auc_btyd < 0.81 and auc_alive < 0.45 and 0.78 < auc_recency < 0.81
    assert metrics.expected_calibration_error(y, f["btyd_p_no_purchase"]) < 0.05


@needs_ml
def test_cdnow_churn_model_out_of_time(cdnow):
    model = churn.ChurnModel(horizon=182).fit(cdnow, cutoffs=["1997-07-01"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = model.evaluate(cdnow, cutoff="1997-12-31")
    row = ev.filter((pl.col("task") == "churn") & (pl.col("model") == "ChurnModel")).row(0, named=True)
    assert row["roc_auc"] > 0.79 and row["ece"] < 0.04
    spend = {r["model"]: r["mae"] for r in ev.filter(pl.col("task") == "future_spend").iter_rows(named=True)}
    assert spend["ChurnModel"] < spend["naive last 182 days"]


# --------------------------------------------------------------------------- generated world


@needs_ml
def test_generated_world_dropouts_rank_above_live_customers(tmp_path):
    world = crmkit.datasets.generate(n_customers=2_500, seed=5, start="2022-06-01", end="2025-07-01")
    model = churn.ChurnModel(horizon=180, n_cutoffs=3).fit(world.orders, items=world.items, events=world.events)
    as_of = dt.datetime(2025, 7, 1)
    scores = model.score(world.orders, as_of=as_of, items=world.items, events=world.events)
    truth = world.truth.customers.select("customer_id", "alive")
    joined = scores.join(truth, on="customer_id")
    auc = metrics.roc_auc_score(~joined["alive"].to_numpy(), joined["churn_probability"])
    assert auc > 0.8, auc
    assert scores["top_reasons"].str.len_chars().min() >= 0
    assert scores.filter(pl.col("churn_probability") > 0.5)["top_reasons"].str.len_chars().min() > 0
    assert set(scores["risk_band"].cast(pl.String).unique()) <= {"low", "medium", "high", "very high"}
    # JSON round trip gives the same scores
    path = tmp_path / "churn.json"
    model.save(path)
    assert json.loads(path.read_text())["crmkit_model"] == "crmkit.churn.ChurnModel"
    again = churn.load(path).score(world.orders, as_of=as_of, items=world.items, events=world.events)
    assert_frame_equal(scores, again)


def test_top_reasons_equal_a_row_by_row_reference():
    from crmkit.churn._reasons import _phrase, top_reasons

    rng = np.random.default_rng(3)
    n = 400
    frame = pl.DataFrame({
        "recency": rng.integers(0, 400, n).astype(float),
        "overdue_ratio": np.where(rng.random(n) < 0.2, np.nan, rng.random(n) * 5),
        "frequency": rng.integers(1, 30, n).astype(float),
        "spend_90d": rng.gamma(2, 40, n),
        "interval_mean": np.where(rng.random(n) < 0.3, np.nan, rng.random(n) * 90),
    }).with_columns(pl.all().fill_nan(None))
    names = frame.columns
    contrib = rng.normal(size=(n, len(names)))
    contrib[rng.random(contrib.shape) < 0.3] *= -1
    contrib[:5] = -1.0  # nothing pushes these toward churn
    before = contrib.copy()
    got = top_reasons(frame, contrib, names, horizon=180, k=3).to_list()
    np.testing.assert_array_equal(contrib, before)  # the input is left as it was
    # Reference: one row at a time, the positive contributions in decreasing order.
    for i in range(n):
        order = [j for j in np.argsort(-contrib[i], kind="stable")[:3] if contrib[i, j] > 0]
        want = "; ".join(frame[i].select(_phrase(names[j], 180)).item() for j in order)
        assert got[i] == want, (i, got[i], want)
    assert got[:5] == [""] * 5
