"""A synthetic CRM world with known truth, generated in Rust.

`generate` builds customers (dirty, duplicated records as real CRM exports hold
them), orders, order lines and a web event log, plus the truth behind them: who is
who, each customer's generating behaviour, the planted product bundles and the
planted funnel. It is deterministic for a seed whatever the number of threads.

The generating mechanisms, in days:

- purchases follow BG/NBD exactly: each customer's first purchase is uniform in
  the observation window; while alive they buy at rate ``λ ~ Gamma(r, rate=alpha)``
  per day and after each repeat purchase drop out with probability
  ``p ~ Beta(a, b)``;
- by default (``anomalies=True``) the world also has weekly and yearly seasonality
  and Chinese retail events (a monotone time warp: BG/NBD holds in operational days,
  see ``seasonality``), planted KPI anomalies (``truth.kpi_anomalies``), satisfaction
  ``surveys`` and a sales pipeline (``opportunities``); ``anomalies=False`` gives the
  flat BG/NBD world of earlier versions, table for table;
- each order's amount follows Gamma-Gamma: ``ν ~ Gamma(q, rate=gamma)`` per
  customer and ``amount ~ Gamma(p, rate=ν)``, so a customer's mean spend is
  ``p / ν``; ``discount`` is the share taken off the gross price and order lines'
  ``quantity * price`` add up to the gross amount ``amount / (1 - discount)``
  (list prices scaled per order, to the cent);
- order lines draw products by popularity (half from the customer's favourite
  category) and, in a share ``bundle_rate`` of orders, a planted bundle;
- for orders in the last ``event_days`` days the event log holds the buying web
  session (search?, views, cart, checkout, purchase at the order's time) and the
  sessions that did not buy before it, 40% of them owned by another customer (people
  browse without buying, so a per-customer funnel converts less than 100%); per
  session the steps follow the planted funnel ``P(cart | view), P(checkout | cart),
  P(purchase | checkout)``.

>>> from crmkit import datasets
>>> world = datasets.generate(n_customers=300, seed=1)
>>> world.customers.columns
['record_id', 'source', 'name', 'phone', 'email', 'birth_date', 'gender', 'city', 'address', 'signup_date']
>>> world.truth.records.join(world.customers, on="record_id").height == world.customers.height
True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, cast

import polars as pl

from crmkit import _core

if TYPE_CHECKING:
    import numpy as np
from crmkit.errors import CrmError

SOURCES = ["web", "app", "store", "wechat", "import"]
CHANNELS = ["web", "app", "store", "wechat"]
EVENTS = ["view", "search", "cart", "checkout", "purchase"]
FUNNEL_STEPS = ["view", "cart", "checkout", "purchase"]

_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Truth:
    """What really lies behind a generated world."""

    #: record_id -> customer_id: the true person behind each customer record.
    records: pl.DataFrame
    #: One row per customer: generating behaviour and true attributes
    #: (purchase_rate per day, dropout_prob, spend_rate ν, mean_spend = p/ν,
    #: first_purchase, dropout_date, alive at the end, n_orders, favourite_category,
    #: preferred_channel, discount_seeker, name, phone in E.164, email, birth_date).
    customers: pl.DataFrame
    #: Planted product bundles: bundle_id, products (sorted list), probability per order.
    bundles: pl.DataFrame
    #: Planted per-session funnel: step, step_probability, conversion, drop_off, is_bottleneck.
    funnel: pl.DataFrame
    #: Generating parameters (time unit: days).
    params: dict[str, Any]
    # --- kpi (issue 13) ---
    #: Planted KPI anomalies: period_start, by ("channel=store" or null), kpi, kind, size, freq.
    kpi_anomalies: Optional[pl.DataFrame] = None
    #: Purchase-intensity weight of each calendar day (day, weight; mean 1).
    day_weights: Optional[pl.DataFrame] = None
    #: Each customer's latent satisfaction behind the surveys (customer_id, satisfaction,
    #: p_promoter, p_detractor).
    satisfaction: Optional[pl.DataFrame] = None
    #: The sales team: owner, win_probability, mean_cycle_days, deal_size_multiplier.
    sales_reps: Optional[pl.DataFrame] = None
    #: With ``campaigns``: per campaign and segment (and segment "all") the planted uplift
    #: (probability that a contacted customer places a campaign order) and the expected
    #: effects on that audience: incremental_response, incremental_orders_per_customer,
    #: incremental_revenue_per_customer.
    campaigns: Optional[pl.DataFrame] = None
    #: With ``campaigns``: order_id, campaign_id of the orders the campaigns caused.
    campaign_orders: Optional[pl.DataFrame] = None


@dataclass(frozen=True)
class CrmWorld:
    """The tables of a generated CRM world and the truth behind them."""

    #: Customer records: record_id, source, name, phone, email, birth_date (text in
    #: mixed formats), gender, city, address, signup_date.
    customers: pl.DataFrame
    #: order_id, customer_id, order_date (datetime), amount (net paid), channel, discount.
    orders: pl.DataFrame
    #: Order lines: order_id, product, category, quantity, price (gross unit price).
    items: pl.DataFrame
    #: Web events: customer_id, session_id, event, timestamp.
    events: pl.DataFrame
    truth: Truth = field(repr=False)
    # --- kpi (issue 13) ---
    #: Satisfaction surveys after a share of orders: customer_id, survey_date, nps_score (0-10), csat (1-5).
    surveys: Optional[pl.DataFrame] = None
    #: Sales pipeline: opportunity_id, customer_id, owner, stage, amount, created_date,
    #: closed_date, won, furthest_stage.
    opportunities: Optional[pl.DataFrame] = None
    #: With ``campaigns``: campaign_id, customer_id, group (treatment/control), sent_at,
    #: channel, cost (per contact; 0 for the holdout), segment (recency at send time).
    campaigns: Optional[pl.DataFrame] = None

    def tables(self) -> dict[str, pl.DataFrame]:
        """The observed tables by name (truth excluded)."""
        tables = {"customers": self.customers, "orders": self.orders, "items": self.items, "events": self.events}
        if self.campaigns is not None:
            tables["campaigns"] = self.campaigns
        return tables

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v.height:,}" for k, v in self.tables().items())
        return f"CrmWorld({sizes}, customers_true={self.truth.customers.height:,})"


def _day(value: dt.date | str, name: str) -> int:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise CrmError(f"generate: argument '{name}' must be a date or 'YYYY-MM-DD', found {value!r}") from None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        raise CrmError(f"generate: argument '{name}' must be a date or 'YYYY-MM-DD', found {value!r}")
    return (value - _EPOCH).days


def generate(
    n_customers: int = 5_000,
    seed: int = 42,
    *,
    start: dt.date | str = "2022-01-01",
    end: dt.date | str = "2026-01-01",
    r: float = 0.9,
    alpha: float = 30.0,
    a: float = 0.8,
    b: float = 6.0,
    p: float = 6.0,
    q: float = 4.0,
    gamma: float = 150.0,
    records_per_person: Sequence[float] = (0.62, 0.25, 0.09, 0.04),
    event_days: int = 90,
    funnel: Sequence[float] = (0.30, 0.45, 0.75),
    n_products: int = 500,
    bundle_rate: float = 0.15,
    n_bundles: int = 12,
    anomalies: bool = True,
    seasonality: Optional[bool] = None,
    survey_rate: float = 0.15,
    n_sales_reps: int = 12,
    opportunities_per_day: Optional[float] = None,
    campaigns: int | bool = 0,
) -> CrmWorld:
    """Generates a synthetic CRM world with known truth.

    Parameters
    ----------
    n_customers
        Number of real people (customers). Each has 1-4 customer records, about
        10 orders on average with the default purchase process, order lines and,
        for recent orders, web sessions.
    seed
        The same seed gives the same world, whatever the number of threads.
    start, end
        Observation window (``end`` exclusive); orders fall inside it.
    r, alpha, a, b
        BG/NBD purchase process in days: rate ~ Gamma(r, rate=alpha), dropout
        probability ~ Beta(a, b).
    p, q, gamma
        Gamma-Gamma spend: order amount ~ Gamma(p, rate=ν), ν ~ Gamma(q, rate=gamma).
    records_per_person
        Weights of a person having 1, 2, 3 or 4 customer records.
    event_days
        How many days before ``end`` the web event log covers (0: no events).
    funnel
        Per-session P(cart | view), P(checkout | cart), P(purchase | checkout).
    n_products, bundle_rate, n_bundles
        Catalogue size, share of orders containing a planted bundle, number of bundles.
    anomalies
        Plant KPI anomalies (listed in ``truth.kpi_anomalies``): a one-day sales spike
        (3x the purchase intensity), a lasting level shift in the store channel (half
        of its orders move to the app from a Monday on), a one-month churn surge in
        the WeChat channel (85% of its orders move to the app: an outage) and a
        conversion drop after a site change (from a Monday 5-10 weeks before the end, the
        sessions that do not buy come from new visitors; planted when ``event_days``
        >= 300, as the weekly conversion needs that much history to judge). ``False`` with
        ``seasonality=False`` gives the clean world of earlier versions, byte for byte.
    seasonality
        Weekly and yearly seasonality in purchase rates (default: same as
        ``anomalies``): the world is generated in operational time and every
        timestamp moves through one monotone warp whose daily speed is the weekday
        weight (Mon 0.90, Tue 0.92, Wed 0.95, Thu 1.00, Fri 1.05, Sat 1.15, Sun 1.03)
        x a yearly cycle 1 + 0.12 cos(2 pi (day of year - 340) / 365.25) x Chinese
        retail events (Spring Festival: 0.8 from 14 to 8 days before, 0.45 from 7
        before to 6 after, 0.8 to 14 after; 618: 1.2 from 1 June, 2.0 on the 18th;
        National Day week 0.85; Double 11: 1.25 from 21 October, 3.0 on 11 November;
        Double 12: 1.6), normalised to mean 1 (``truth.day_weights``). Counts,
        customers and each customer's order sequence are unchanged; the BG/NBD rates
        in ``truth.customers`` are per operational day.
    survey_rate
        Share of orders followed by a satisfaction survey (``surveys``): each customer
        has a latent satisfaction s ~ N(0, 1) (``truth.satisfaction``); NPS answer =
        round(7.6 + 1.8 (s + 0.7 e)) in 0..10, CSAT = round(3.8 + 0.8 (s + 0.6 e)) in 1..5.
    n_sales_reps, opportunities_per_day
        The sales team (``opportunities``; default 0.0008 opportunities per customer
        and day): each rep has a win probability ~ Beta(6, 9), a mean cycle of 15-60
        days and a deal-size multiplier (``truth.sales_reps``).
    campaigns
        Number of marketing campaigns to add (``True``: 6; default 0, none). Each is
        sent to a random 30% of the customers known at its send date (between 180 days
        after ``start`` and 30 days before ``end``), 80% contacted and 20% held out at
        random, with a planted effect per campaign and recency segment (see
        `crmkit.experiment.campaign`). They come from their own random stream: the other
        tables are the same as without campaigns, except that the orders the campaigns
        caused are appended to ``orders`` (new order ids after the last one, no order
        lines in ``items``, listed in ``truth.campaign_orders``) and ``orders`` is
        re-sorted by date.

    Returns
    -------
    CrmWorld
        ``customers``, ``orders``, ``items``, ``events`` and ``truth``.

    Examples
    --------
    >>> world = generate(n_customers=1_000, seed=3)
    >>> world.orders.select(pl.col("customer_id").n_unique()).item()
    1000
    >>> world.truth.funnel.filter("is_bottleneck")["step"].to_list()
    ['cart']
    """
    if isinstance(n_customers, bool) or not isinstance(n_customers, int):
        raise CrmError(f"generate: argument 'n_customers' must be an integer, found {n_customers!r}")
    if n_customers < 1:
        raise CrmError(f"generate: argument 'n_customers' must be at least 1, found {n_customers}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise CrmError(f"generate: argument 'seed' must be a non-negative integer, found {seed!r}")
    if len(records_per_person) != 4:
        raise CrmError("generate: 'records_per_person' needs 4 weights (1, 2, 3 or 4 records per person)")
    if len(funnel) != 3:
        raise CrmError("generate: 'funnel' needs 3 step probabilities (cart|view, checkout|cart, purchase|checkout)")
    start_day, end_day = _day(start, "start"), _day(end, "end")
    raw = _core.generate_world(
        n_customers,
        seed % 2**64,
        start_day,
        end_day,
        float(r),
        float(alpha),
        float(a),
        float(b),
        float(p),
        float(q),
        float(gamma),
        [float(w) for w in records_per_person],
        int(event_days),
        [float(f) for f in funnel],
        int(n_products),
        float(bundle_rate),
        int(n_bundles),
    )
    customers = raw["customers"].with_columns(pl.col("source").cast(pl.Enum(SOURCES)))
    orders = raw["orders"].with_columns(pl.col("channel").cast(pl.Enum(CHANNELS)))
    events = raw["events"].with_columns(pl.col("event").cast(pl.Enum(EVENTS)))
    truth_customers = raw["truth_customers"].with_columns(pl.col("preferred_channel").cast(pl.Enum(CHANNELS)))
    bundles = pl.DataFrame(
        {
            "bundle_id": list(range(1, len(raw["bundles"]) + 1)),
            "products": [sorted(products) for products, _ in raw["bundles"]],
            "probability": [prob for _, prob in raw["bundles"]],
        },
        schema={"bundle_id": pl.Int64, "products": pl.List(pl.String), "probability": pl.Float64},
    )
    step_probability = [1.0, *map(float, funnel)]
    conversion, acc = [], 1.0
    for s in step_probability:
        acc *= s
        conversion.append(acc)
    drop_off = [0.0] + [1.0 - s for s in step_probability[1:]]
    funnel_truth = pl.DataFrame(
        {
            "step": FUNNEL_STEPS,
            "step_probability": step_probability,
            "conversion": conversion,
            "drop_off": drop_off,
        }
    ).with_columns(is_bottleneck=pl.col("drop_off") == pl.col("drop_off").max())
    params = {
        "n_customers": n_customers,
        "seed": seed,
        "time_unit": "day",
        "observation_start": _EPOCH + dt.timedelta(days=start_day),
        "observation_end": _EPOCH + dt.timedelta(days=end_day),
        "r": r,
        "alpha": alpha,
        "a": a,
        "b": b,
        "p": p,
        "q": q,
        "gamma": gamma,
        "records_per_person": tuple(records_per_person),
        "event_days": event_days,
        "funnel": tuple(funnel),
        "n_products": n_products,
        "bundle_rate": bundle_rate,
        "n_bundles": n_bundles,
    }
    truth = Truth(
        records=raw["truth_records"],
        customers=truth_customers,
        bundles=bundles,
        funnel=funnel_truth,
        params=params,
    )
    # --- kpi (issue 13): seasonality, planted anomalies, surveys, sales pipeline ---
    from crmkit import _kpi_world

    planted = _kpi_world.plant(
        orders, events, truth_customers, customers, seed=seed, start_day=start_day, end_day=end_day,
        event_days=int(event_days), seasonality=anomalies if seasonality is None else bool(seasonality),
        anomalies=bool(anomalies),
    )
    if not (0.0 <= survey_rate <= 1.0):
        raise CrmError(f"generate: argument 'survey_rate' must lie in [0, 1], found {survey_rate!r}")
    orders, events = planted["orders"], planted["events"]
    surveys, satisfaction = _core.generate_surveys(
        seed % 2**64, orders["customer_id"].to_numpy(), orders["order_date"].cast(pl.Int64).to_numpy(),
        float(survey_rate), end_day * 86_400_000_000,
    )
    per_day = 0.0008 * n_customers if opportunities_per_day is None else float(opportunities_per_day)
    opportunities, reps = _core.generate_opportunities(
        seed % 2**64, n_customers, start_day, end_day, int(n_sales_reps), per_day
    )
    truth = dataclasses.replace(
        truth, customers=planted["truth_customers"], kpi_anomalies=planted["kpi_anomalies"],
        day_weights=planted["day_weights"], satisfaction=satisfaction, sales_reps=reps,
    )
    params.update(anomalies=bool(anomalies), seasonality=anomalies if seasonality is None else bool(seasonality),
                  survey_rate=survey_rate, n_sales_reps=n_sales_reps, opportunities_per_day=per_day)
    world = CrmWorld(customers=planted["customers"], orders=orders, items=raw["items"], events=events, truth=truth,
                     surveys=surveys, opportunities=opportunities)
    if campaigns:
        world = _with_campaigns(world, 6 if campaigns is True else int(campaigns), seed, start_day, end_day, p)
    return world


def _with_campaigns(world: CrmWorld, n_campaigns: int, seed: int, start_day: int, end_day: int, p: float) -> CrmWorld:
    """Adds campaigns, their truth and the orders they caused (see `generate`)."""
    import dataclasses

    if n_campaigns < 0:
        raise CrmError(f"generate: argument 'campaigns' must be a non-negative number of campaigns, found {n_campaigns}")
    window = 30
    if end_day - window - 1 < start_day + 180:
        raise CrmError("generate: campaigns need an observation window of at least 212 days (180 days of history, "
                       "then the send dates and a 30-day response window)")
    tc = world.truth.customers

    def us(s: pl.Series) -> "np.ndarray":
        values: np.ndarray = s.cast(pl.Datetime("us")).to_physical().to_numpy()
        return values

    table, extra, campaign_truth = _core.generate_campaigns(
        tc["customer_id"].to_numpy(), tc["spend_rate"].to_numpy(), us(tc["first_purchase"]),
        world.orders["customer_id"].to_numpy(), us(world.orders["order_date"]),
        seed % 2**64, n_campaigns, start_day + 180, end_day - window - 1, float(window), 0.3, 0.8, float(p),
    )
    first_id = (cast(Optional[int], world.orders["order_id"].max()) or 0) + 1  # an Int64 column
    extra = extra.with_columns(pl.int_range(first_id, first_id + extra.height, dtype=pl.Int64).alias("order_id"))
    preferred = tc.select("customer_id", pl.col("preferred_channel").alias("channel"))
    new_orders = extra.join(preferred, on="customer_id", how="left").select(
        "order_id", "customer_id", "order_date", "amount", pl.col("channel").cast(world.orders.schema["channel"]),
        pl.lit(0.0).alias("discount"),
    )
    orders = pl.concat([world.orders, new_orders.select(world.orders.columns)], how="vertical").sort(
        "order_date", maintain_order=True
    )
    truth = dataclasses.replace(world.truth, campaigns=campaign_truth,
                                campaign_orders=extra.select("order_id", "campaign_id"))
    return dataclasses.replace(world, orders=orders, truth=truth, campaigns=table)


def load_sample() -> CrmWorld:
    """The built-in sample: 5,000 customers (seed 42), about 48k orders.

    >>> sample = load_sample()
    >>> sample.truth.customers.height
    5000
    """
    return generate(n_customers=5_000, seed=42)


def describe(tables: Mapping[str, Optional[pl.DataFrame]]) -> pl.DataFrame:
    """One row per table: rows, columns, null cells and memory, for a quick look.

    >>> world = generate(n_customers=100, seed=1)
    >>> describe(world.tables())["table"].to_list()
    ['customers', 'orders', 'items', 'events']
    """
    rows = []
    for name, df in tables.items():
        if df is None:
            continue
        rows.append(
            {
                "table": name,
                "rows": df.height,
                "columns": df.width,
                "null_cells": int(sum(df.null_count().row(0))) if df.width else 0,
                "megabytes": round(df.estimated_size() / 2**20, 2),
            }
        )
    return pl.DataFrame(
        rows,
        schema={"table": pl.String, "rows": pl.Int64, "columns": pl.Int64, "null_cells": pl.Int64, "megabytes": pl.Float64},
    )


def write(world: CrmWorld, directory: str, *, format: str = "parquet") -> list[str]:
    """Writes the four observed tables as parquet or CSV files; returns their paths.

    >>> import tempfile
    >>> paths = write(generate(n_customers=50, seed=1), tempfile.mkdtemp(), format="csv")
    >>> sorted(p.rsplit("/", 1)[-1] for p in paths)
    ['customers.csv', 'events.csv', 'items.csv', 'orders.csv']
    """
    from pathlib import Path

    if format not in ("parquet", "csv"):
        raise CrmError(f"write: argument 'format' must be 'parquet' or 'csv', found {format!r}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in world.tables().items():
        path = out / f"{name}.{format}"
        if format == "parquet":
            df.write_parquet(path)
        else:
            df.write_csv(path)
        paths.append(str(path))
    return paths
