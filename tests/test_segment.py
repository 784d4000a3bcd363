"""Segmentation: RFM, k-means, scaling, choice of k, profiles, tags, segment_customers.

References: plain pandas computations (RFM, qcut on ranks, profiles), the R rfm
package's and the common regex-map segment definitions typed in independently,
scikit-learn (KMeans, scalers, silhouette), and brute force.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
from polars.testing import assert_frame_equal
import pytest

import crmkit
from crmkit.errors import CrmError, SchemaError
from crmkit.segment._rfm import _segment_expr


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------


def make_orders(n: int = 20_000, n_customers: int = 3_000, seed: int = 1, negative_share: float = 0.0) -> pl.DataFrame:
    """Orders with skewed customer activity, datetimes, some same-day repeats."""
    rng = np.random.default_rng(seed)
    weights = rng.pareto(1.5, n_customers) + 0.1
    cust = rng.choice(n_customers, size=n, p=weights / weights.sum())
    minutes = rng.integers(0, 60 * 24 * 365, n)
    amount = np.round(rng.gamma(2.0, 30.0, n), 2)
    if negative_share:
        neg = rng.random(n) < negative_share
        amount[neg] = -np.round(amount[neg] / 2, 2)
    return pl.DataFrame(
        {
            "order_id": np.arange(n, dtype=np.int64),
            "customer_id": cust.astype(np.int64),
            "order_date": pl.Series((np.datetime64("2023-01-01T00:00") + minutes.astype("timedelta64[m]")).astype("datetime64[us]")),
            "amount": amount,
            "channel": rng.choice(["app", "store", "web"], size=n),
            "discount": np.where(rng.random(n) < 0.3, np.round(rng.random(n) * 10, 2), 0.0),
        }
    )


def generated_orders(n_customers: int = 2_000, seed: int = 3) -> pl.DataFrame:
    """The project's generator when present (main), else the local generator."""
    gen = getattr(getattr(crmkit, "datasets", None), "generate", None)
    if gen is None:
        return make_orders(n_customers * 8, n_customers, seed)
    return gen(n_customers=n_customers, seed=seed).orders


def pandas_rfm(pdf: pd.DataFrame, *, order: str | None = None, as_of=None, bins: int = 5) -> pd.DataFrame:
    """The plain pandas computation users know."""
    if as_of is None:
        as_of = pdf["order_date"].max().normalize() + pd.Timedelta(days=1)
    g = pdf.groupby("customer_id")
    out = pd.DataFrame(
        {
            "last": g["order_date"].max(),
            "frequency": g[order].nunique() if order else g.size(),
            "monetary": g["amount"].sum(),
        }
    )
    out["recency_days"] = (as_of - out["last"]).dt.days
    out["r_score"] = pd.qcut(out["recency_days"].rank(method="first"), bins, labels=list(range(bins, 0, -1))).astype(int)
    out["f_score"] = pd.qcut(out["frequency"].rank(method="first"), bins, labels=list(range(1, bins + 1))).astype(int)
    out["m_score"] = pd.qcut(out["monetary"].rank(method="first"), bins, labels=list(range(1, bins + 1))).astype(int)
    return out.reset_index()


def same_rfm(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Equal, except monetary sums up to summation order (the streaming engine adds in
    a different order than the in-memory one)."""
    assert a.columns == b.columns
    assert a.drop("monetary").equals(b.drop("monetary"))
    np.testing.assert_allclose(a["monetary"].to_numpy(), b["monetary"].to_numpy(), rtol=1e-12)
    return True


@pytest.fixture(scope="module")
def orders() -> pl.DataFrame:
    return make_orders()


# --------------------------------------------------------------------------------------
# rfm: values and scores against pandas
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bins", [2, 3, 4, 5, 7, 10])
def test_rfm_equals_plain_pandas(orders, bins):
    got = crmkit.rfm(orders, bins=bins, segments=None)
    ref = pandas_rfm(orders.to_pandas(), bins=bins)
    assert got["customer_id"].to_list() == ref["customer_id"].tolist()
    assert got["recency_days"].to_list() == ref["recency_days"].tolist()
    assert got["frequency"].to_list() == ref["frequency"].tolist()
    np.testing.assert_allclose(got["monetary"].to_numpy(), ref["monetary"].to_numpy(), rtol=1e-12)
    for s in ("r_score", "f_score", "m_score"):
        assert got[s].to_list() == ref[s].tolist(), s


def test_rfm_on_generated_orders_equals_pandas():
    o = generated_orders()
    got = crmkit.rfm(o, order="order_id", segments=None)
    ref = pandas_rfm(o.to_pandas(), order="order_id")
    assert got["recency_days"].to_list() == ref["recency_days"].tolist()
    assert got["frequency"].to_list() == ref["frequency"].tolist()
    np.testing.assert_allclose(got["monetary"].to_numpy(), ref["monetary"].to_numpy(), rtol=1e-12)
    for s in ("r_score", "f_score", "m_score"):
        assert got[s].to_list() == ref[s].tolist(), s


def test_rank_bins_match_qcut_exhaustively():
    from crmkit.segment._rfm import _score_by_rank

    for n in range(2, 130):
        for b in range(2, min(n, 12) + 1):
            ref = pd.qcut(pd.Series(np.arange(n, dtype=float)).rank(method="first"), b, labels=False) + 1
            got = pl.Series(_score_by_rank(np.arange(n, dtype=float), b, higher_is_better=True))
            assert got.to_list() == ref.tolist(), (n, b)


def test_score_bins_hold_equal_shares(orders):
    got = crmkit.rfm(orders, bins=5, segments=None)
    n = got.height
    for s in ("r_score", "f_score", "m_score"):
        counts = got[s].value_counts()["count"].to_list()
        assert len(counts) == 5
        assert max(counts) - min(counts) <= 1, (s, counts)
        assert sum(counts) == n


def test_order_ids_and_mean(orders):
    # Two rows per order id: frequency counts distinct orders, mean is per order.
    doubled = pl.concat([orders, orders]).sort("order_id")
    a = crmkit.rfm(orders, segments=None)
    b = crmkit.rfm(doubled, order="order_id", segments=None)
    assert a["frequency"].to_list() == b["frequency"].to_list()
    np.testing.assert_allclose(b["monetary"].to_numpy(), 2 * a["monetary"].to_numpy())
    m = crmkit.rfm(doubled, order="order_id", monetary="mean", segments=None)
    np.testing.assert_allclose(m["monetary"].to_numpy(), 2 * a["monetary"].to_numpy() / a["frequency"].to_numpy())
    # monetary="mean" without order ids: pandas' mean of the rows.
    ref = orders.to_pandas().groupby("customer_id")["amount"].mean()
    np.testing.assert_allclose(crmkit.rfm(orders, monetary="mean", segments=None)["monetary"].to_numpy(), ref.to_numpy())


def test_lazyframe_equals_dataframe(orders, tmp_path):
    a = crmkit.rfm(orders)
    assert same_rfm(crmkit.rfm(orders.lazy()), a)
    path = tmp_path / "orders.parquet"
    orders.write_parquet(path)
    assert same_rfm(crmkit.rfm(pl.scan_parquet(path)), a)
    assert same_rfm(crmkit.rfm(orders.to_pandas()), a)


def test_date_dtype_and_explicit_as_of():
    o = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "order_date": [date(2024, 1, 1), date(2024, 2, 1), date(2024, 1, 15), date(2024, 3, 1)],
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    with pytest.warns(UserWarning, match="1 row"):
        r = crmkit.rfm(o, as_of=date(2024, 2, 10), bins=2, segments=None)
    # c ordered after as_of: ignored, so c is not a customer yet.
    assert r["customer_id"].to_list() == ["a", "b"]
    assert r["recency_days"].to_list() == [9, 26]
    r2 = crmkit.rfm(o, as_of="2024-03-02", bins=2, segments=None)
    assert r2["recency_days"].to_list() == [30, 47, 1]
    # A datetime column with a date as_of: midnight of that day.
    o2 = o.with_columns(pl.col("order_date").cast(pl.Datetime("us")) + pl.duration(hours=18))
    r3 = crmkit.rfm(o2, as_of=date(2024, 3, 2), bins=2, segments=None)
    assert r3["recency_days"].to_list() == [29, 46, 0]


def test_timezone_aware_dates():
    o = make_orders(2000, 300).with_columns(pl.col("order_date").dt.replace_time_zone("Asia/Shanghai"))
    r = crmkit.rfm(o, segments=None)
    ref = pandas_rfm(o.to_pandas())
    assert r["recency_days"].to_list() == ref["recency_days"].tolist()


# --------------------------------------------------------------------------------------
# segment tables
# --------------------------------------------------------------------------------------


def all_scores() -> pl.DataFrame:
    g = np.array(np.meshgrid(range(1, 6), range(1, 6), range(1, 6), indexing="ij")).reshape(3, -1)
    return pl.DataFrame({"r_score": g[0], "f_score": g[1], "m_score": g[2]}).cast(pl.Int32)


def test_rfm_preset_is_the_r_package_table():
    # The R rfm package's vectors, as published in its rfm_segment() example.
    names = ["Champions", "Loyal Customers", "Potential Loyalist", "New Customers", "Promising",
             "Need Attention", "About To Sleep", "At Risk", "Can't Lose Them", "Lost"]
    recency_lower = [4, 2, 3, 4, 3, 2, 2, 1, 1, 1]
    recency_upper = [5, 5, 5, 5, 4, 3, 3, 2, 1, 2]
    frequency_lower = [4, 3, 1, 1, 1, 2, 1, 2, 4, 1]
    frequency_upper = [5, 5, 3, 1, 1, 3, 2, 5, 5, 2]
    monetary_lower = [4, 3, 1, 1, 1, 2, 1, 2, 4, 1]
    monetary_upper = [5, 5, 3, 1, 1, 3, 2, 5, 5, 2]

    def r_rule(r, f, m):
        for i, name in enumerate(names):
            if (recency_lower[i] <= r <= recency_upper[i] and frequency_lower[i] <= f <= frequency_upper[i]
                    and monetary_lower[i] <= m <= monetary_upper[i]):
                return name
        return "Others"

    s = all_scores()
    got = s.with_columns(_segment_expr("rfm", 5).alias("segment"))
    for r, f, m, seg in got.iter_rows():
        assert seg == r_rule(r, f, m), (r, f, m)
    assert got.filter(pl.col("segment") == "Others").height > 0  # the table leaves gaps


def test_rf_grid_is_the_regex_map():
    # The widely used regex map on the "RF" string.
    seg_map = {
        r"[1-2][1-2]": "hibernating", r"[1-2][3-4]": "at_risk", r"[1-2]5": "cant_loose",
        r"3[1-2]": "about_to_sleep", r"33": "need_attention", r"[3-4][4-5]": "loyal_customers",
        r"41": "promising", r"51": "new_customers", r"[4-5][2-3]": "potential_loyalists",
        r"5[4-5]": "champions",
    }
    got = all_scores().with_columns(_segment_expr("rf-grid", 5).alias("segment"))
    for r, f, _, seg in got.iter_rows():
        rf = f"{r}{f}"
        expected = [name for pat, name in seg_map.items() if re.fullmatch(pat, rf)]
        assert expected == [seg], (rf, expected, seg)


def test_value_tiers_cover_everyone():
    got = all_scores().with_columns(_segment_expr("value-tiers", 5).alias("segment"))
    assert set(got["segment"]) == {"high_value", "potential", "dormant", "churned"}
    row = lambda r, f, m: got.filter((pl.col("r_score") == r) & (pl.col("f_score") == f) & (pl.col("m_score") == m))["segment"].item()  # noqa: E731
    assert row(5, 5, 5) == "high_value"
    assert row(3, 4, 4) == "high_value"
    assert row(5, 3, 5) == "potential"
    assert row(2, 5, 5) == "dormant"
    assert row(1, 5, 5) == "churned"


def test_user_tables(orders):
    table = pl.DataFrame({"segment": ["best", "rest"], "r_min": [4, None], "f_min": [4, None]})
    r = crmkit.rfm(orders, segments=table)
    best = (r["r_score"] >= 4) & (r["f_score"] >= 4)
    assert (r.filter(best)["segment"] == "best").all()
    assert (r.filter(~best)["segment"] == "rest").all()
    rows = [("best", 4, 5, 4, 5, None, None)]
    r2 = crmkit.rfm(orders, segments=rows)
    assert r2.filter(~best)["segment"].unique().to_list() == ["Others"]
    r3 = crmkit.rfm(orders, segments={"best": (pl.col("r_score") >= 4) & (pl.col("f_score") >= 4)})
    assert r3["segment"].to_list() == r2["segment"].to_list()
    with pytest.raises(SchemaError, match="unknown column"):
        crmkit.rfm(orders, segments=pl.DataFrame({"segment": ["x"], "recency_min": [1]}))
    with pytest.raises(CrmError, match="r_min=5 > r_max=4"):
        crmkit.rfm(orders, segments=[("x", 5, 4, None, None, None, None)])


def test_presets_need_five_levels(orders):
    with pytest.raises(CrmError, match="defined on scores 1..5"):
        crmkit.rfm(orders, bins=4)
    assert crmkit.rfm(orders, bins=4, segments=None).height > 0


def test_explicit_cut_points(orders):
    cuts = {"recency": [30, 90, 180, 365], "frequency": [1, 2, 4, 8], "monetary": [50, 100, 250, 500]}
    r = crmkit.rfm(orders, bins=cuts, segments="rf-grid")
    ref_r = 5 - np.searchsorted(cuts["recency"], r["recency_days"].to_numpy(), side="left")
    ref_f = 1 + np.searchsorted(cuts["frequency"], r["frequency"].to_numpy(), side="left")
    ref_m = 1 + np.searchsorted(cuts["monetary"], r["monetary"].to_numpy(), side="left")
    assert r["r_score"].to_list() == ref_r.tolist()
    assert r["f_score"].to_list() == ref_f.tolist()
    assert r["m_score"].to_list() == ref_m.tolist()
    with pytest.raises(CrmError, match="strictly increasing"):
        crmkit.rfm(orders, bins={"recency": [5, 1], "frequency": [1], "monetary": [1]}, segments=None)
    with pytest.raises(CrmError, match="missing"):
        crmkit.rfm(orders, bins={"recency": [5]}, segments=None)


def test_rfm_summary_adds_up(orders):
    r = crmkit.rfm(orders)
    s = crmkit.rfm_summary(r)
    assert s["customers"].sum() == r.height
    assert abs(s["share"].sum() - 1) < 1e-12
    assert s["orders"].sum() == r["frequency"].sum()
    assert abs(s["revenue"].sum() - r["monetary"].sum()) < 1e-6
    champ = r.filter(pl.col("segment") == "Champions")
    row = s.filter(pl.col("segment") == "Champions").row(0, named=True)
    assert row["avg_order_value"] == pytest.approx(champ["monetary"].sum() / champ["frequency"].sum())
    assert row["mean_recency_days"] == pytest.approx(champ["recency_days"].mean())
    m = crmkit.rfm(orders, monetary="mean")
    sm = crmkit.rfm_summary(m, monetary="mean")
    assert abs(sm["revenue"].sum() - r["monetary"].sum()) < 1e-6


# --------------------------------------------------------------------------------------
# rfm: bad input
# --------------------------------------------------------------------------------------


def test_no_orders_gives_empty_frame(orders):
    with pytest.warns(UserWarning, match="no orders"):
        r = crmkit.rfm(orders.head(0))
    assert r.height == 0
    assert r.columns == ["customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score",
                         "m_score", "rfm_score", "segment"]


def test_one_customer_gets_middle_scores():
    o = pl.DataFrame({"customer_id": [1, 1], "order_date": [date(2024, 1, 1), date(2024, 1, 5)], "amount": [5.0, 7.0]})
    r = crmkit.rfm(o)
    assert r.row(0, named=True) | {} == {
        "customer_id": 1, "recency_days": 1, "frequency": 2, "monetary": 12.0,
        "r_score": 3, "f_score": 3, "m_score": 3, "rfm_score": "333", "segment": "Loyal Customers",
    }


def test_equal_amounts_split_by_customer_id():
    o = pl.DataFrame({"customer_id": list(range(10)), "order_date": [date(2024, 1, 1)] * 10, "amount": [9.0] * 10})
    r = crmkit.rfm(o, segments=None)
    # All ties: rank(method="first") breaks them by customer id, as pandas does.
    assert r["m_score"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert r["r_score"].to_list() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_null_dates_and_amounts_are_dropped_with_a_warning(orders):
    o = orders.with_columns(
        pl.when(pl.col("order_id") % 100 == 0).then(None).otherwise(pl.col("order_date")).alias("order_date"),
        pl.when(pl.col("order_id") % 101 == 0).then(float("nan")).otherwise(pl.col("amount")).alias("amount"),
    )
    bad = (o["order_date"].is_null() | o["amount"].is_nan()).sum()
    with pytest.warns(UserWarning, match=r"null 'order_date' \(200\).*NaN 'amount' \(199\)"):
        r = crmkit.rfm(o, segments=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean = crmkit.rfm(o.filter(pl.col("order_date").is_not_null() & pl.col("amount").is_not_nan()), segments=None)
    assert same_rfm(r, clean)
    assert bad > 0
    with pytest.warns(UserWarning):
        assert same_rfm(crmkit.rfm(o.lazy(), segments=None), clean)


def test_customers_left_without_orders_are_counted_in_the_warning():
    o = pl.DataFrame({"customer_id": [1, 1, 2, 3], "order_date": [date(2024, 1, 1), date(2024, 1, 5), date(2024, 1, 2), None],
                      "amount": [5.0, None, None, 3.0]})
    for data in (o, o.lazy()):
        with pytest.warns(UserWarning, match=r"null 'amount' \(2\).*; 2 customer\(s\) had no other order to count"):
            r = crmkit.rfm(data, segments=None)
        assert r["customer_id"].to_list() == [1]
        with pytest.warns(UserWarning, match=r"dropped 1 row\(s\) with a null 'order_date'; 1 customer\(s\) had no other"):
            p = crmkit.profile(data)
        assert p["customer_id"].to_list() == [1, 2]


def test_null_customer_ids_raise(orders):
    o = orders.with_columns(pl.when(pl.col("order_id") == 3).then(None).otherwise(pl.col("customer_id")).alias("customer_id"))
    with pytest.raises(SchemaError, match="'customer_id'.*1 null"):
        crmkit.rfm(o)
    with pytest.raises(SchemaError, match="'customer_id'.*1 null"):
        crmkit.rfm(o.lazy())


def test_schema_errors(orders):
    with pytest.raises(SchemaError, match="'order_dt' not found.*did you mean 'order_date'"):
        crmkit.rfm(orders, date="order_dt")
    with pytest.raises(SchemaError, match="'order_date'.*must be a date"):
        crmkit.rfm(orders.with_columns(pl.col("order_date").dt.strftime("%Y-%m-%d")))
    with pytest.raises(SchemaError, match="'amount'.*numeric"):
        crmkit.rfm(orders.with_columns(pl.col("amount").cast(pl.String)))
    with pytest.raises(CrmError, match="bins"):
        crmkit.rfm(orders, bins=0)
    with pytest.raises(CrmError, match="monetary"):
        crmkit.rfm(orders, monetary="median")
    with pytest.raises(CrmError, match="segments"):
        crmkit.rfm(orders, segments="rfm-classic")


def test_returns_net_exclude_keep():
    o = pl.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 3],
            "order_date": [date(2024, 1, 1), date(2024, 1, 10), date(2024, 1, 20), date(2024, 1, 5), date(2024, 1, 8)],
            "amount": [100.0, 50.0, -30.0, 20.0, -5.0],
        }
    )
    with pytest.warns(UserWarning, match="1 customer.*returns only"):
        net = crmkit.rfm(o, bins=2, segments=None)
    # Customer 1: net spend 120, two purchases, last purchase Jan 10 (the Jan 20 return is not a purchase).
    assert net.select("customer_id", "recency_days", "frequency", "monetary").rows() == [(1, 11, 2, 120.0), (2, 16, 1, 20.0)]
    with pytest.warns(UserWarning, match="dropped 2 return"):
        exc = crmkit.rfm(o, bins=2, segments=None, returns="exclude")
    assert exc.select("customer_id", "recency_days", "frequency", "monetary").rows() == [(1, 1, 2, 150.0), (2, 6, 1, 20.0)]
    keep = crmkit.rfm(o, bins=2, segments=None, returns="keep")
    assert keep.select("customer_id", "recency_days", "frequency", "monetary").rows() == [
        (1, 1, 3, 120.0), (2, 16, 1, 20.0), (3, 13, 1, -5.0)]
    # Net with order ids: a return on its own order id is not a purchase.
    o2 = o.with_columns(pl.Series("order_id", [1, 2, 3, 4, 5]))
    with pytest.warns(UserWarning):
        net2 = crmkit.rfm(o2, bins=2, segments=None, order="order_id")
    assert net2["frequency"].to_list() == [2, 1]


# --------------------------------------------------------------------------------------
# KMeans against scikit-learn
# --------------------------------------------------------------------------------------

sklearn = pytest.importorskip("sklearn")
from sklearn.cluster import KMeans as SkKMeans  # noqa: E402
from sklearn.metrics import silhouette_score as sk_silhouette  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler  # noqa: E402


def blobs(n=6000, k=5, d=4, seed=0, spread=1.0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, (k, d))
    lab = rng.integers(0, k, n)
    return centres[lab] + rng.normal(0, spread, (n, d)), lab


@pytest.mark.parametrize("algorithm", ["lloyd", "full"])
def test_same_init_same_result_as_sklearn(algorithm):
    X, _ = blobs(5000, 6, 3, seed=2, spread=3.0)
    init = X[:6].copy()
    ours = crmkit.KMeans(6, init=init, max_iter=300, algorithm=algorithm).fit(X)
    ref = SkKMeans(6, init=init, n_init=1, algorithm="lloyd", max_iter=300).fit(X)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-9, atol=1e-9)
    assert (ours.labels_ == ref.labels_).all()
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-9)
    assert ours.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inertia_close_to_sklearn(seed):
    X, _ = blobs(8000, 8, 5, seed=seed, spread=2.5)
    ours = crmkit.KMeans(8, n_init=4, random_state=seed).fit(X)
    ref = SkKMeans(8, n_init=4, random_state=seed).fit(X)
    assert ours.inertia_ <= ref.inertia_ * 1.005
    # Uniform noise (no cluster structure) too.
    U = np.random.default_rng(seed).random((5000, 3))
    assert crmkit.KMeans(6, n_init=4, random_state=seed).fit(U).inertia_ <= SkKMeans(6, n_init=4, random_state=seed).fit(U).inertia_ * 1.005


def test_weighted_fit_matches_sklearn():
    X, _ = blobs(2000, 4, 2, seed=5, spread=2.0)
    w = np.random.default_rng(0).integers(1, 5, len(X)).astype(float)
    init = X[:4].copy()
    ours = crmkit.KMeans(4, init=init).fit(X, sample_weight=w)
    ref = SkKMeans(4, init=init, n_init=1).fit(X, sample_weight=w)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-9, atol=1e-9)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-9)


def test_kmeans_estimator_surface():
    X, _ = blobs(3000, 3, 2, seed=3)
    km = crmkit.KMeans(3, random_state=7)
    labels = km.fit_predict(X)
    assert labels.dtype == np.int32 and labels.shape == (3000,)
    assert (km.predict(X) == labels).all()
    assert km.cluster_centers_.shape == (3, 2)
    assert km.n_iter_ >= 1 and km.n_features_in_ == 2
    brute = ((X - km.cluster_centers_[labels]) ** 2).sum()
    assert km.inertia_ == pytest.approx(brute, rel=1e-10)
    assert km.score(X) == pytest.approx(-km.inertia_, rel=1e-10)
    D = km.transform(X)
    assert D.shape == (3000, 3) and (D.argmin(1) == labels).all()
    # Same random_state, same model; a different one may differ but is valid.
    again = crmkit.KMeans(3, random_state=7).fit(X)
    assert np.array_equal(again.cluster_centers_, km.cluster_centers_)
    assert km.get_params()["n_clusters"] == 3
    assert km.set_params(n_clusters=4).n_clusters == 4


def test_polars_input_and_json_round_trip():
    X, _ = blobs(1000, 3, 3, seed=4)
    df = pl.DataFrame(X, schema=["a", "b", "c"])
    km = crmkit.KMeans(3, random_state=0).fit(df)
    assert list(km.feature_names_in_) == ["a", "b", "c"]
    # Columns are matched by name.
    assert (km.predict(df.select("c", "a", "b")) == km.labels_).all()
    loaded = crmkit.KMeans.from_json(km.to_json())
    assert (loaded.predict(df) == km.labels_).all()
    assert json.loads(km.to_json())["params"]["n_clusters"] == 3


def test_deterministic_whatever_the_thread_count(tmp_path):
    code = (
        "import numpy as np, crmkit, sys;"
        "rng=np.random.default_rng(0); X=rng.normal(size=(50000,4));"
        "km=crmkit.KMeans(6, n_init=2, random_state=3).fit(X);"
        "sys.stdout.write(repr(km.inertia_.hex()) + repr(km.cluster_centers_.tobytes().hex()[:400]))"
    )
    outs = []
    for threads in ("1", "2", "3"):
        env = dict(os.environ, RAYON_NUM_THREADS=threads)
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)
    assert outs[0] == outs[1] == outs[2]


def test_kmeans_bad_input():
    X, _ = blobs(10, 2, 2)
    with pytest.raises(CrmError, match="n_clusters=11 is larger than the number of samples \\(10\\)"):
        crmkit.KMeans(11).fit(X)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(CrmError, match="row 3, column 1"):
        crmkit.KMeans(2).fit(bad)
    with pytest.raises(CrmError, match="2-D"):
        crmkit.KMeans(2).fit(X[:, 0])
    with pytest.raises(SchemaError, match="'b'.*1 null"):
        crmkit.KMeans(2).fit(pl.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, None, 2.0]}))
    with pytest.raises(SchemaError, match="'s'.*numeric"):
        crmkit.KMeans(2).fit(pl.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]}))
    with pytest.raises(CrmError, match="not fitted"):
        crmkit.KMeans(2).predict(X)
    with pytest.raises(CrmError, match="n_clusters must be"):
        crmkit.KMeans(0).fit(X)
    with pytest.raises(CrmError, match="3 feature"):
        crmkit.KMeans(2, random_state=0).fit(X).predict(np.zeros((2, 3)))
    # k == n: every point its own centre.
    assert crmkit.KMeans(10, random_state=0).fit(X).inertia_ == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------------------
# scale, silhouette, choose_k
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,ref",
    [("standard", StandardScaler), ("minmax", MinMaxScaler), ("robust", RobustScaler)],
)
def test_scale_matches_sklearn_and_inverts(method, ref):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.gamma(2, 10, 500), rng.normal(5, 2, 500), np.full(500, 3.0)])
    df = pl.DataFrame(X, schema=["a", "b", "const"]).with_columns(pl.Series("id", range(500)))
    scaled, scaler = crmkit.scale(df, ["a", "b", "const"], method=method)
    np.testing.assert_allclose(scaled.select("a", "b", "const").to_numpy(), ref().fit_transform(X), atol=1e-12)
    assert scaled["id"].to_list() == list(range(500))
    back = scaler.inverse_transform(scaled)
    np.testing.assert_allclose(back.select("a", "b", "const").to_numpy(), X, rtol=1e-12)
    centres = scaler.inverse_transform(scaled.select("a", "b", "const").to_numpy()[:2])
    np.testing.assert_allclose(centres.to_numpy(), X[:2], rtol=1e-12)
    again = crmkit.Scaler.from_json(scaler.to_json())
    assert again.transform(df).equals(scaled)


def test_scale_log1p_and_errors():
    df = pl.DataFrame({"x": [0.0, 1.0, 9.0]})
    s, sc = crmkit.scale(df, method="log1p")
    np.testing.assert_allclose(s["x"].to_numpy(), np.log1p([0, 1, 9]))
    np.testing.assert_allclose(sc.inverse_transform(s)["x"].to_numpy(), [0, 1, 9])
    with pytest.raises(CrmError, match="log1p"):
        crmkit.scale(pl.DataFrame({"x": [-2.0, 1.0]}), method="log1p")
    with pytest.raises(SchemaError, match="'y' not found"):
        crmkit.scale(df, ["y"])
    with pytest.raises(CrmError, match="method"):
        crmkit.scale(df, method="zscore")
    with pytest.raises(CrmError, match="empty"):
        crmkit.scale(df.head(0))


def test_silhouette_equals_sklearn():
    X, lab = blobs(1500, 4, 3, seed=1, spread=3.0)
    assert crmkit.silhouette_score(X, lab) == pytest.approx(sk_silhouette(X, lab), rel=1e-10)
    # singleton cluster scores 0, as in scikit-learn
    lab2 = lab.copy()
    lab2[0] = 9
    assert crmkit.silhouette_score(X, lab2) == pytest.approx(sk_silhouette(X, lab2), rel=1e-10)
    with pytest.raises(CrmError, match="distinct labels"):
        crmkit.silhouette_score(X, np.zeros(len(X)))


def test_choose_k_finds_the_blobs():
    X, _ = blobs(3000, 4, 2, seed=11, spread=0.5)
    c = crmkit.choose_k(X, k=range(2, 8), random_state=0)
    assert c.k == 4 and int(c) == 4
    assert c.scores["k"].to_list() == list(range(2, 8))
    # The sampled silhouette is close to the exact one.
    big = crmkit.choose_k(X, k=[4], sample_size=800, random_state=0).scores["silhouette"].item()
    assert big == pytest.approx(c.scores.filter(pl.col("k") == 4)["silhouette"].item(), abs=0.03)
    e = crmkit.choose_k(X, k=range(1, 9), metric="inertia", random_state=0)
    assert e.k == 4
    assert e.scores["silhouette"].null_count() == e.scores.height
    with pytest.warns(UserWarning, match="skipped"):
        crmkit.choose_k(X[:5], k=range(2, 8))
    with pytest.raises(CrmError, match="no k to try"):
        crmkit.choose_k(X[:2], k=[2, 3])


# --------------------------------------------------------------------------------------
# profile and tags
# --------------------------------------------------------------------------------------


def pandas_profile(o: pd.DataFrame, as_of) -> pd.DataFrame:
    rows = []
    for cid, g in o.sort_values(["customer_id", "order_date"]).groupby("customer_id"):
        gaps = g["order_date"].diff().dt.total_seconds().dropna().to_numpy() / 86400
        trend = np.polyfit(np.arange(len(gaps)), gaps, 1)[0] if len(gaps) >= 2 else np.nan
        ch = g["channel"].value_counts()
        fav = sorted(ch[ch == ch.max()].index)[0]
        rows.append({
            "customer_id": cid,
            "orders": len(g),
            "revenue": g["amount"].sum(),
            "tenure_days": (as_of - g["order_date"].min()).days,
            "recency_days": (as_of - g["order_date"].max()).days,
            "mean_interpurchase_days": gaps.mean() if len(gaps) else np.nan,
            "interpurchase_trend_days": trend,
            "favourite_channel": fav,
            "discount_share": (g["discount"] > 0).mean(),
            "weekend_share": (g["order_date"].dt.dayofweek >= 5).mean(),
        })
    return pd.DataFrame(rows)


def test_profile_equals_pandas():
    o = make_orders(4000, 400, seed=9)
    p = crmkit.profile(o)
    as_of = o.to_pandas()["order_date"].max().normalize() + pd.Timedelta(days=1)
    ref = pandas_profile(o.to_pandas(), as_of)
    assert p["customer_id"].to_list() == ref["customer_id"].tolist()
    for c in ["orders", "tenure_days", "recency_days", "favourite_channel"]:
        assert p[c].to_list() == ref[c].tolist(), c
    for c in ["revenue", "mean_interpurchase_days", "interpurchase_trend_days", "discount_share", "weekend_share"]:
        np.testing.assert_allclose(p[c].to_numpy().astype(float), ref[c].to_numpy().astype(float), rtol=1e-9, atol=1e-9, err_msg=c)
    assert p["first_order"].dtype == o["order_date"].dtype
    np.testing.assert_allclose(p["avg_order_value"].to_numpy(), (ref["revenue"] / ref["orders"]).to_numpy())
    lazy = crmkit.profile(o.lazy())
    floats = [c for c, t in p.schema.items() if t.is_float()]
    assert lazy.drop(floats).equals(p.drop(floats))
    for c in floats:  # the streaming engine sums in another order
        np.testing.assert_allclose(lazy[c].to_numpy().astype(float), p[c].to_numpy().astype(float), rtol=1e-9, atol=1e-9)


def test_profile_with_items_events_customers():
    o = pl.DataFrame({
        "order_id": [1, 2, 3],
        "customer_id": [10, 10, 20],
        "order_date": [datetime(2024, 5, 1, 9), datetime(2024, 5, 4, 9), datetime(2024, 5, 2, 12)],
        "amount": [30.0, 12.0, 8.0],
    })
    items = pl.DataFrame({
        "order_id": [1, 1, 2, 3],
        "product": ["p1", "p2", "p3", "p4"],
        "category": ["书籍", "toys", "书籍", "toys"],
        "quantity": [1, 2, 1, 4],
        "price": [20.0, 5.0, 12.0, 2.0],
    })
    events = pl.DataFrame({
        "customer_id": [10, 20, 20, 30],
        "session_id": [1, 2, 3, 4],
        "event": ["view", "view", "cart", "view"],
        "timestamp": [datetime(2024, 5, 3), datetime(2024, 5, 9, 8), datetime(2024, 5, 9, 9), datetime(2024, 5, 1)],
    })
    customers = pl.DataFrame({"customer_id": [10, 20, 30], "city": ["上海", "Paris", "Lyon"]})
    p = crmkit.profile(o, customers=customers, items=items, events=events)
    assert p["customer_id"].to_list() == [10, 20, 30]
    assert p["city"].to_list() == ["上海", "Paris", "Lyon"]
    assert p["orders"].to_list() == [2, 1, 0]
    assert p["favourite_category"].to_list() == ["书籍", "toys", None]
    assert p["favourite_category_share"].to_list()[:2] == pytest.approx([32 / 42, 1.0])
    assert p["sessions"].to_list() == [1, 2, 1]
    assert p["last_activity"].to_list()[:2] == [datetime(2024, 5, 4, 9), datetime(2024, 5, 9, 9)]
    t = crmkit.tags(p)
    assert "loves:书籍" in t["tags"][0].to_list()
    assert "loves:toys" in t["tags"][1].to_list()


def test_profile_as_of_and_errors():
    o = make_orders(500, 50, seed=2)
    p = crmkit.profile(o, as_of=datetime(2023, 7, 1))
    assert p["last_order"].max() <= datetime(2023, 7, 1)
    assert p["recency_days"].min() >= 0
    with pytest.raises(SchemaError, match="'customer_id'.*null"):
        crmkit.profile(o.with_columns(pl.lit(None, pl.Int64).alias("customer_id")))
    with pytest.raises(SchemaError, match="'chan'"):
        crmkit.profile(o, channel="chan")
    q = crmkit.profile(o.drop("channel", "discount"))
    assert "favourite_channel" not in q.columns and "discount_share" not in q.columns


def test_profile_drops_null_dates_with_a_warning_like_rfm():
    o = make_orders(500, 50, seed=4)
    holes = o.with_columns(pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise(pl.col("order_date"))
                           .alias("order_date"))
    n = holes["order_date"].null_count()
    with pytest.warns(UserWarning, match=rf"dropped {n} row\(s\) with a null 'order_date'"):
        got = crmkit.profile(holes)
    want = crmkit.profile(holes.filter(pl.col("order_date").is_not_null()))
    # Float means may differ in the last bits with the threads' summation order.
    assert_frame_equal(got, want, check_exact=False)
    with pytest.warns(UserWarning, match="null 'order_date'"):
        lazy = crmkit.profile(holes.lazy())
    assert_frame_equal(lazy, want, check_exact=False)


def test_tags_default_and_user_rules():
    p = pl.DataFrame({
        "customer_id": [1, 2, 3, 4, 5],
        "orders": [10, 1, 4, 2, 3],
        "revenue": [900.0, 10.0, 200.0, 40.0, 60.0],
        "tenure_days": [400, 5, 300, 200, 100],
        "recency_days": [3, 5, 120, 60, 10],
        "mean_interpurchase_days": [30.0, None, 20.0, 25.0, 30.0],
        "discount_share": [0.0, 1.0, 0.75, 0.5, 0.0],
        "weekend_share": [0.2, 1.0, 0.0, 0.5, 1.0],
    })
    t = crmkit.tags(p)["tags"].to_list()
    assert t[0] == ["high_value", "frequent"]
    assert t[1] == ["new"]
    assert t[2] == ["dormant_90d", "churn_risk", "discount_seeker"]
    assert t[3] == ["churn_risk", "discount_seeker"]
    assert t[4] == ["weekend_shopper"]
    u = crmkit.tags(p, {"vip": pl.col("revenue") > 100, "band": pl.when(pl.col("orders") > 3).then(pl.lit("band:many"))})
    assert u["tags"].to_list() == [["vip", "band:many"], [], ["vip", "band:many"], [], []]
    with pytest.raises(SchemaError, match="'nope'"):
        crmkit.tags(p, {"x": pl.col("nope") > 1})
    with pytest.raises(CrmError, match="boolean or a string"):
        crmkit.tags(p, {"x": pl.col("orders") + 1})


# --------------------------------------------------------------------------------------
# segment_customers and the demo step
# --------------------------------------------------------------------------------------


def three_kinds_of_customers(seed=0) -> pl.DataFrame:
    """Frequent, very recent big spenders (1/6), recent one-off buyers (1/3) and lapsed
    occasional buyers (1/2): the usual shape of a customer base."""
    rng = np.random.default_rng(seed)
    rows = []
    end = datetime(2024, 12, 31)
    for c in range(300):
        kind = 0 if c % 6 == 0 else (1 if c % 6 in (1, 2) else 2)
        n = [20, 1, 3][kind]
        last = [rng.integers(0, 4), rng.integers(5, 20), rng.integers(200, 300)][kind]
        amt = [200.0, 20.0, 40.0][kind]
        for i in range(n):
            rows.append((c, end - timedelta(days=int(last + i * 7)), float(amt * rng.uniform(0.8, 1.2))))
    return pl.DataFrame(rows, schema=["customer_id", "order_date", "amount"], orient="row")


def kind_of(customer_id: pl.Series) -> pl.Series:
    m = customer_id % 6
    return pl.select(pl.when(m == 0).then(0).when(m.is_in([1, 2])).then(1).otherwise(2)).to_series()


def test_segment_customers_recovers_groups_and_names_them():
    o = three_kinds_of_customers()
    seg = crmkit.segment_customers(o, k=None, k_range=range(2, 7), random_state=0)
    assert seg.clusters.height == 3
    assert seg.customers.height == 300
    kind = kind_of(seg.customers["customer_id"])
    for k in range(3):
        assert seg.customers.filter(kind == k)["cluster"].n_unique() == 1
    names = dict(zip(seg.customers["customer_id"].to_list(), seg.customers["cluster_name"].to_list()))
    assert names[0] == "champions"
    # Recent one-off buyers sit at R4-5 F1 of the grid.
    assert names[1] in ("new_customers", "promising")
    assert names[3] == "hibernating"
    assert seg.clusters["customers"].sum() == 300
    assert seg.clusters["cluster"].to_list() == [0, 1, 2]
    # Cluster 0 has the most revenue; centres in original units are near the group medians.
    c0 = seg.clusters.row(0, named=True)
    assert c0["cluster_name"] == "champions" and c0["centre_frequency"] == pytest.approx(20, rel=0.05)
    assert seg.k_scores is not None and seg.k_scores.height == 5
    feats = seg.customers.select(
        pl.col("recency_days").cast(pl.Float64).log1p().alias("log_recency"),
        pl.col("frequency").cast(pl.Float64).log1p().alias("log_frequency"),
        pl.col("monetary").log1p().alias("log_monetary"),
    )
    assert (seg.model.predict(seg.scaler.transform(feats)) == seg.customers["cluster"].to_numpy()).all()


def test_segment_customers_bad_input():
    o = three_kinds_of_customers().filter(pl.col("customer_id") < 4)
    with pytest.raises(CrmError, match="k=5 is larger than the number of customers \\(4\\)"):
        crmkit.segment_customers(o, k=5)
    one = o.filter(pl.col("customer_id") == 0)
    assert crmkit.segment_customers(one, k=1).clusters.height == 1
    with pytest.raises(CrmError, match="at least 3 customers"):
        crmkit.segment_customers(one)


def test_demo_step():
    from crmkit._pipeline import Context
    from crmkit.segment import demo_step

    o = make_orders(3000, 300, seed=4)
    out = demo_step(Context(orders=o))
    assert set(out.tables) >= {"rfm", "rfm_summary", "profile", "clusters"}
    assert out.tables["rfm"].height == o["customer_id"].n_unique()
    assert any("RFM" in line for line in out.summary)


def test_profile_many_channels_and_time_zones():
    o = make_orders(3000, 200, seed=6)
    rng = np.random.default_rng(0)
    many = o.with_columns(pl.Series("channel", [f"shop{v:02d}" for v in rng.integers(0, 40, o.height)]))
    p = crmkit.profile(many)  # more than 32 channels: the two-group-by path
    as_of = many.to_pandas()["order_date"].max().normalize() + pd.Timedelta(days=1)
    ref = pandas_profile(many.to_pandas(), as_of)
    assert p["favourite_channel"].to_list() == ref["favourite_channel"].tolist()
    # Enum channels (the generator's dtype) give the same favourites as strings.
    enum = o.with_columns(pl.col("channel").cast(pl.Enum(["web", "store", "app"])))
    assert crmkit.profile(enum)["favourite_channel"].to_list() == crmkit.profile(o)["favourite_channel"].to_list()
    # Weekends are counted in local time for zoned datetimes.
    tz = o.with_columns(pl.col("order_date").dt.replace_time_zone("Asia/Shanghai"))
    local = tz.to_pandas()
    share = (local["order_date"].dt.dayofweek >= 5).groupby(local["customer_id"]).mean()
    np.testing.assert_allclose(crmkit.profile(tz)["weekend_share"].to_numpy(), share.to_numpy())


def test_demo_step_on_a_generated_world():
    from crmkit._pipeline import Context
    from crmkit.segment import demo_step

    world = crmkit.datasets.generate(n_customers=500, seed=2)
    out = demo_step(Context(orders=world.orders, customers=world.customers, items=world.items, events=world.events))
    prof = out.tables["profile"]
    assert prof.height == world.orders["customer_id"].n_unique()
    assert {"favourite_category", "sessions", "tags"} <= set(prof.columns)


def test_lazy_input_with_returns_as_of_and_bad_rows_equals_eager():
    o = make_orders(6000, 700, seed=12, negative_share=0.1).with_columns(
        pl.when(pl.col("order_id") % 97 == 0).then(None).otherwise(pl.col("order_date")).alias("order_date"),
    )
    as_of = datetime(2023, 11, 1)
    for returns in ("net", "exclude", "keep"):
        with pytest.warns(UserWarning) as eager_w:
            a = crmkit.rfm(o, as_of=as_of, returns=returns, order="order_id")
        with pytest.warns(UserWarning) as lazy_w:
            b = crmkit.rfm(o.lazy(), as_of=as_of, returns=returns, order="order_id")
        assert same_rfm(a, b)
        assert [str(w.message) for w in eager_w] == [str(w.message) for w in lazy_w]
        # Reference: pandas on the rows that remain, returns treated as documented.
        pdf = o.filter(pl.col("order_date").is_not_null() & (pl.col("order_date") <= as_of)).to_pandas()
        if returns == "exclude":
            pdf = pdf[pdf["amount"] >= 0]
        g = pdf.groupby("customer_id")
        if returns == "net":
            buys = pdf[pdf["amount"] >= 0].groupby("customer_id")
            ref = pd.DataFrame({"last": buys["order_date"].max(), "frequency": buys["order_id"].nunique(),
                                "monetary": g["amount"].sum()}).dropna(subset=["last"])
        else:
            ref = pd.DataFrame({"last": g["order_date"].max(), "frequency": g["order_id"].nunique(),
                                "monetary": g["amount"].sum()})
        ref["recency_days"] = (pd.Timestamp(as_of) - ref["last"]).dt.days
        assert a["customer_id"].to_list() == ref.index.tolist()
        assert a["recency_days"].to_list() == ref["recency_days"].astype(int).tolist()
        assert a["frequency"].to_list() == ref["frequency"].astype(int).tolist()
        np.testing.assert_allclose(a["monetary"].to_numpy(), ref["monetary"].to_numpy(), rtol=1e-12)


def test_profile_returns_net_exclude_keep():
    o = make_orders(4000, 400, seed=21, negative_share=0.15)
    # One customer with returns only.
    extra = pl.DataFrame({"order_id": [10**6], "customer_id": [10**5], "order_date": [datetime(2023, 6, 1)],
                          "amount": [-12.5], "channel": ["web"], "discount": [0.0]}).cast(o.schema)
    o = pl.concat([o, extra])
    pdf = o.to_pandas()
    as_of = pdf["order_date"].max().normalize() + pd.Timedelta(days=1)
    buys = pdf[pdf["amount"] >= 0]
    n_only = len(set(pdf.loc[pdf["amount"] < 0, "customer_id"]) - set(buys["customer_id"]))
    assert n_only >= 1
    with pytest.warns(UserWarning, match=f"left out {n_only} customer"):
        net = crmkit.profile(o)
    ref = pandas_profile(buys, as_of).set_index("customer_id")
    ret = pdf[pdf["amount"] < 0].groupby("customer_id")["amount"].agg(["size", "sum"])
    ref["returns"] = ret["size"].reindex(ref.index).fillna(0).astype(int)
    ref["returned_amount"] = -ret["sum"].reindex(ref.index).fillna(0.0)
    ref["revenue"] = pdf.groupby("customer_id")["amount"].sum().reindex(ref.index)
    assert net["customer_id"].to_list() == ref.index.tolist()
    for c in ["orders", "returns", "tenure_days", "recency_days", "favourite_channel"]:
        assert net[c].to_list() == ref[c].tolist(), c
    for c in ["revenue", "returned_amount", "mean_interpurchase_days", "interpurchase_trend_days", "weekend_share"]:
        np.testing.assert_allclose(net[c].to_numpy().astype(float), ref[c].to_numpy().astype(float), rtol=1e-9, atol=1e-9, err_msg=c)
    np.testing.assert_allclose(net["avg_order_value"].to_numpy(), (ref["revenue"] / ref["orders"]).to_numpy(), rtol=1e-12)
    with pytest.warns(UserWarning, match=f"left out {n_only} customer"):
        lazy = crmkit.profile(o.lazy())
    assert lazy.select("customer_id", "orders", "returns").equals(net.select("customer_id", "orders", "returns"))
    # A customers table keeps the returns-only customer with orders 0 and negative revenue.
    cust = pl.DataFrame({"customer_id": o["customer_id"].unique().sort()})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        listed = crmkit.profile(o, customers=cust)
    row = listed.filter(pl.col("customer_id") == 10**5).row(0, named=True)
    assert (row["orders"], row["returns"], row["returned_amount"], row["revenue"]) == (0, 1, 12.5, -12.5)
    # exclude: pandas on purchases only; keep: every row an order.
    with pytest.warns(UserWarning, match=r"dropped \d+ return row"):
        exc = crmkit.profile(o, returns="exclude")
    ref_exc = pandas_profile(buys, as_of)
    assert exc["orders"].to_list() == ref_exc["orders"].tolist()
    np.testing.assert_allclose(exc["revenue"].to_numpy(), ref_exc["revenue"].to_numpy())
    assert "returns" not in exc.columns
    keep = crmkit.profile(o, returns="keep")
    ref_keep = pandas_profile(pdf, as_of)
    assert keep["orders"].to_list() == ref_keep["orders"].tolist()
    np.testing.assert_allclose(keep["revenue"].to_numpy(), ref_keep["revenue"].to_numpy())
    with pytest.raises(CrmError, match="returns must be"):
        crmkit.profile(o, returns="drop")


def test_profile_and_kmeans_edge_cases():
    o = pl.DataFrame({"customer_id": [1, 2, 3], "order_date": [date(2024, 1, 1)] * 3, "amount": [5.0] * 3})
    empty = crmkit.profile(o.head(0))
    assert empty.height == 0 and "revenue" in empty.columns
    assert crmkit.tags(empty)["tags"].dtype == pl.List(pl.String)
    one = crmkit.profile(o.head(1))
    assert one.select("orders", "revenue", "tenure_days", "mean_interpurchase_days").row(0) == (1, 5.0, 1, None)
    # Fewer distinct points than clusters: a warning, as scikit-learn gives.
    with pytest.warns(UserWarning, match="only 1 distinct cluster"):
        km = crmkit.KMeans(3, random_state=0).fit(np.ones((10, 2)))
    assert km.inertia_ == 0.0
    # All customers alike: k=3 asked, one cluster found and said so.
    with pytest.warns(UserWarning, match="distinct cluster"):
        seg = crmkit.segment_customers(o, k=3)
    assert seg.clusters["customers"].sum() == 3


def test_dense_id_kernel_equals_polars_group_by():
    # In-memory frames with dense integer ids take the Rust pass; LazyFrames and sparse
    # or string ids take polars' group-by. Both must agree.
    o = make_orders(8000, 900, seed=31, negative_share=0.1)
    variants = {
        "datetime": o,
        "date": o.with_columns(pl.col("order_date").dt.date()),
        "zoned": o.with_columns(pl.col("order_date").dt.replace_time_zone("UTC").dt.convert_time_zone("America/New_York")),
        "uint32 ids": o.with_columns(pl.col("customer_id").cast(pl.UInt32)),
        "int amounts": o.with_columns((pl.col("amount") * 100).round().cast(pl.Int64)),
    }
    from crmkit.segment._rfm import _dense_agg

    for name, frame in variants.items():
        assert _dense_agg(frame, "customer_id", "order_date", "amount", frame.schema["order_date"], True) is not None
        for returns in ("net", "keep"):
            with warnings.catch_warnings(record=True) as w_eager:
                warnings.simplefilter("always")
                a = crmkit.rfm(frame, returns=returns)
            with warnings.catch_warnings(record=True) as w_lazy:
                warnings.simplefilter("always")
                b = crmkit.rfm(frame.lazy(), returns=returns)
            assert a.schema == b.schema, name
            assert same_rfm(a, b), (name, returns)
            assert [str(x.message) for x in w_eager] == [str(x.message) for x in w_lazy]
    # Sparse ids fall back to the group-by and give the same table, ids aside.
    sparse = o.with_columns(pl.col("customer_id") * 1_000_003 + 17)
    assert _dense_agg(sparse, "customer_id", "order_date", "amount", sparse.schema["order_date"], True) is None
    with pytest.warns(UserWarning):
        s = crmkit.rfm(sparse)
    with pytest.warns(UserWarning):
        d = crmkit.rfm(o)
    assert s["customer_id"].to_list() == [c * 1_000_003 + 17 for c in d["customer_id"].to_list()]
    assert same_rfm(s.drop("customer_id"), d.drop("customer_id"))


def test_rfm_sums_float32_amounts_in_float64():
    # 2**24 + 1 + 1 is not representable in Float32: a Float32 sum loses both ones,
    # and which ones it loses depends on the row order.
    orders = pl.DataFrame({
        "customer_id": ["a", "a", "a", "b"],
        "order_date": [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 1)],
        "amount": pl.Series([2.0**24, 1.0, 1.0, 5.0], dtype=pl.Float32),
    })
    out = crmkit.rfm(orders, as_of=date(2024, 2, 1)).sort("customer_id")
    assert out["monetary"].to_list() == [2.0**24 + 2.0, 5.0]
    lazy = crmkit.rfm(orders.lazy(), as_of=date(2024, 2, 1)).sort("customer_id")
    assert lazy["monetary"].to_list() == [2.0**24 + 2.0, 5.0]
