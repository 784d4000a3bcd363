"""The synthetic world: schema, determinism, integrity, and the planted truth.

The generating mechanisms are checked against an independent numpy simulation of
the same stories and against the planted parameters.
"""

import datetime as dt

import numpy as np
import polars as pl
import pytest

import crmkit
from crmkit import datasets


def test_schemas(world):
    assert world.customers.schema == pl.Schema(
        {
            "record_id": pl.Int64,
            "source": pl.Enum(datasets.SOURCES),
            "name": pl.String,
            "phone": pl.String,
            "email": pl.String,
            "birth_date": pl.String,
            "gender": pl.String,
            "city": pl.String,
            "address": pl.String,
            "signup_date": pl.Date,
        }
    )
    assert world.orders.schema == pl.Schema(
        {
            "order_id": pl.Int64,
            "customer_id": pl.Int64,
            "order_date": pl.Datetime("us"),
            "amount": pl.Float64,
            "channel": pl.Enum(datasets.CHANNELS),
            "discount": pl.Float64,
        }
    )
    assert world.items.schema == pl.Schema(
        {"order_id": pl.Int64, "product": pl.String, "category": pl.String, "quantity": pl.Int32, "price": pl.Float64}
    )
    assert world.events.schema == pl.Schema(
        {"customer_id": pl.Int64, "session_id": pl.Int64, "event": pl.Enum(datasets.EVENTS), "timestamp": pl.Datetime("us")}
    )


def test_same_seed_same_world_and_other_seed_differs():
    a = datasets.generate(n_customers=500, seed=7)
    b = datasets.generate(n_customers=500, seed=7)
    c = datasets.generate(n_customers=500, seed=8)
    for name in ("customers", "orders", "items", "events"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert not a.orders.equals(c.orders)
    assert a.truth.customers.equals(b.truth.customers)


def test_referential_integrity(world):
    ids = world.truth.customers["customer_id"]
    assert ids.to_list() == list(range(1, 3_001))
    assert world.orders["customer_id"].is_in(ids.implode()).all()
    assert world.events["customer_id"].is_in(ids.implode()).all()
    assert world.orders["order_id"].is_unique().all()
    assert world.orders["order_date"].is_sorted()
    assert set(world.items["order_id"].unique()) == set(world.orders["order_id"])
    # Every record belongs to exactly one true person.
    assert world.truth.records["record_id"].sort().equals(world.customers["record_id"].sort())
    assert world.truth.records["customer_id"].is_in(ids.implode()).all()
    # Every person has at least one record and at least one order.
    assert world.truth.records["customer_id"].n_unique() == 3_000
    counts = world.orders.group_by("customer_id").len().sort("customer_id")
    assert counts["len"].to_list() == world.truth.customers["n_orders"].to_list()


def test_orders_inside_the_window_and_after_first_purchase(world):
    p = world.truth.params
    start = dt.datetime.combine(p["observation_start"], dt.time())
    end = dt.datetime.combine(p["observation_end"], dt.time())
    assert world.orders["order_date"].min() >= start
    assert world.orders["order_date"].max() < end
    first = world.orders.group_by("customer_id").agg(pl.col("order_date").min().alias("first"))
    joined = first.join(world.truth.customers, on="customer_id")
    assert (joined["first"] == joined["first_purchase"]).all()
    # Dropped-out customers never buy after their dropout date.
    last = world.orders.group_by("customer_id").agg(pl.col("order_date").max().alias("last"))
    dropped = last.join(world.truth.customers, on="customer_id").filter(pl.col("dropout_date").is_not_null())
    assert (dropped["last"] == dropped["dropout_date"]).all()


def _numpy_bgnbd_mean_orders(n, r, alpha, a, b, days, seed):
    """An independent simulation of the same BG/NBD story, in numpy."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    first = rng.uniform(0, days - 1, n)
    t = first.copy()
    count = np.ones(n)
    alive = np.ones(n, bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        t[idx] += rng.exponential(1 / lam[idx])
        ok = t[idx] < days
        idx = idx[ok]
        count[idx] += 1
        drop = rng.random(idx.size) < p[idx]
        alive[:] = False
        alive[idx[~drop]] = True
    return count.mean(), count.std()


def test_purchase_process_matches_an_independent_simulation():
    n = 30_000
    w = datasets.generate(n_customers=n, seed=99, event_days=0)
    ours = w.orders.height / n
    theirs, sd = _numpy_bgnbd_mean_orders(n, 0.9, 30.0, 0.8, 6.0, 1461, seed=5)
    se = sd / np.sqrt(n) * np.sqrt(2)
    assert abs(ours - theirs) < 4 * se, (ours, theirs, se)
    truth = w.truth.customers
    assert truth["purchase_rate"].mean() == pytest.approx(0.9 / 30.0, rel=0.03)
    assert truth["dropout_prob"].mean() == pytest.approx(0.8 / 6.8, abs=0.004)


def test_spend_follows_gamma_gamma(world):
    per_customer = world.orders.group_by("customer_id").agg(
        pl.col("amount").mean().alias("observed"), pl.len().alias("n")
    )
    frequent = per_customer.join(world.truth.customers, on="customer_id").filter(pl.col("n") >= 25)
    assert frequent.height > 100
    ratio = (frequent["observed"] / frequent["mean_spend"]).mean()
    assert ratio == pytest.approx(1.0, abs=0.03)
    # The population mean of p/ν is p·γ/(q-1).
    assert world.truth.customers["mean_spend"].mean() == pytest.approx(6 * 150 / 3, rel=0.08)
    assert (world.orders["amount"] > 0).all()


def test_items_add_up_to_the_gross_amount(world):
    gross = world.items.group_by("order_id").agg((pl.col("quantity") * pl.col("price")).sum().alias("lines"))
    check = gross.join(world.orders, on="order_id").with_columns(
        expected=pl.col("amount") / (1 - pl.col("discount"))
    )
    assert ((check["lines"] - check["expected"]).abs() <= 0.05).all()


def test_planted_bundles_cooccur(world):
    baskets = world.items.group_by("order_id").agg(pl.col("product"))
    n_orders = baskets.height
    for products, prob in world.truth.bundles.select("products", "probability").iter_rows():
        together = baskets.filter(pl.all_horizontal(pl.col("product").list.contains(p) for p in products)).height
        assert together / n_orders >= 0.6 * prob, (products, together / n_orders, prob)


def test_sessions_follow_the_planted_funnel():
    w = datasets.generate(n_customers=20_000, seed=5)
    reached = w.events.group_by("session_id").agg(
        [(pl.col("event") == step).any().alias(step) for step in datasets.FUNNEL_STEPS]
    )
    counts = [reached[step].sum() for step in datasets.FUNNEL_STEPS]
    assert counts[0] == reached.height  # every session has a view
    truth = w.truth.funnel["step_probability"].to_list()
    for k in range(1, 4):
        assert counts[k] / counts[k - 1] == pytest.approx(truth[k], abs=0.02)
    # Some visitors browse without buying in the event window.
    buyers = w.events.filter(pl.col("event") == "purchase")["customer_id"].unique()
    visitors = w.events["customer_id"].unique()
    assert 0.05 < 1 - buyers.len() / visitors.len() < 0.9
    # Every purchase event is an order of that customer at the same instant.
    purchases = w.events.filter(pl.col("event") == "purchase").select("customer_id", pl.col("timestamp").alias("order_date"))
    assert purchases.join(w.orders, on=["customer_id", "order_date"], how="anti").height == 0


def test_records_are_dirty_like_real_exports(world):
    c = world.customers
    phone = c["phone"].drop_nulls()
    assert phone.str.contains("０|１|２|３|４|５|６|７|８|９").any(), "full-width digits"
    assert phone.str.starts_with("+86").any() and phone.str.starts_with("0086").any()
    assert phone.str.contains("-").any() and phone.str.contains(" ").any()
    placeholders = ["N/A", "null", "-", "无"]
    for col in ("name", "phone", "email", "birth_date"):
        assert c[col].is_in(placeholders).any(), col
        assert c[col].null_count() > 0, col
    email = c["email"].drop_nulls()
    assert (email != email.str.to_lowercase()).any()
    names = c["name"].drop_nulls()
    assert names.str.contains(r"[\p{Han}]").mean() > 0.5
    assert names.str.contains(r"^[A-Za-z ,.']+$").mean() > 0.05
    births = c["birth_date"].drop_nulls()
    assert births.str.contains("年").any() and births.str.contains(r"^\d{8}$").any()
    # People appear several times across sources.
    per_person = world.truth.records.group_by("customer_id").len()
    assert (per_person["len"] > 1).mean() == pytest.approx(0.38, abs=0.04)


def test_sample_is_5000_customers():
    s = datasets.load_sample()
    assert s.truth.customers.height == 5_000
    assert s.orders.height > 30_000


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"n_customers": 0}, crmkit.CrmError, "n_customers"),
        ({"n_customers": -5}, crmkit.CrmError, "n_customers"),
        ({"n_customers": 2.5}, crmkit.CrmError, "n_customers"),
        ({"n_customers": 10**9}, crmkit.TooLargeError, "limit"),
        ({"seed": -1}, crmkit.CrmError, "seed"),
        ({"start": "not a date"}, crmkit.CrmError, "start"),
        ({"start": "2025-01-01", "end": "2024-01-01"}, crmkit.CrmError, "window"),
        ({"alpha": float("nan")}, crmkit.CrmError, "alpha"),
        ({"funnel": (0.5, 0.5)}, crmkit.CrmError, "funnel"),
        ({"funnel": (0.5, 0.5, 1.5)}, crmkit.CrmError, "funnel"),
        ({"n_products": 5}, crmkit.CrmError, "n_products"),
    ],
)
def test_bad_arguments_give_clear_errors(kwargs, error, text):
    args = {"n_customers": 10, **kwargs}
    with pytest.raises(error, match=text):
        datasets.generate(**args)


def test_write_and_describe(tmp_path):
    w = datasets.generate(n_customers=50, seed=1)
    paths = datasets.write(w, str(tmp_path))
    assert len(paths) == 4
    back = pl.read_parquet(tmp_path / "orders.parquet")
    assert back.equals(w.orders)
    d = datasets.describe(w.tables())
    assert d.filter(pl.col("table") == "orders")["rows"].item() == w.orders.height
