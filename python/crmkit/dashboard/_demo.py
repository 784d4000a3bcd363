"""The demo's extra tables for the dashboard."""

from __future__ import annotations

from typing import Any

import polars as pl

def demo_surveys_and_campaigns(world: Any, seed: int = 0) -> dict[str, pl.DataFrame]:
    """Survey answers and a campaign's results for a generated world, to show those
    sections (the world itself has neither): one NPS answer (0-10) after a share of
    orders, higher for big spenders; two A/B campaigns, one with a true 20% lift
    in conversion (5% to 6%) and one with none (8% both).

    >>> import crmkit
    >>> from crmkit.dashboard import demo_surveys_and_campaigns
    >>> t = demo_surveys_and_campaigns(crmkit.datasets.generate(n_customers=100, seed=1))
    >>> t["campaigns"].columns
    ['campaign', 'group', 'customers', 'conversions']
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    o = world.orders.sample(fraction=0.2, seed=seed).sort("order_date")
    base = rng.normal(7.4, 2.0, o.height) + np.where(o["amount"].to_numpy() > o["amount"].median(), 0.6, 0.0)
    surveys = o.select("customer_id", pl.col("order_date").alias("date")).with_columns(
        score=pl.Series(np.clip(np.round(base), 0, 10).astype(np.int64)))
    n = [4000, 4000, 2500, 2500]
    p = [0.050, 0.060, 0.080, 0.080]
    k = [int(rng.binomial(ni, pi)) for ni, pi in zip(n, p)]
    campaigns = pl.DataFrame({"campaign": ["spring coupon", "spring coupon", "wechat push", "wechat push"],
                              "group": ["control", "treatment", "control", "treatment"], "customers": n,
                              "conversions": k})
    return {"surveys": surveys, "campaigns": campaigns}


def demo_inputs(world: Any) -> dict[str, pl.DataFrame]:
    """The tables ``crmkit demo`` draws its dashboard from, for a generated world: the
    observed tables, with each customer record carrying the customer number its orders
    use (``customer_id``) — as a CRM's records do — so the map can show revenue — and,
    when the world has campaigns, their contact table (campaign_id, customer_id, group,
    sent_at: the campaign and experiment sections).

    >>> import crmkit
    >>> t = crmkit.dashboard_demo_inputs(crmkit.datasets.generate(n_customers=50, seed=1))
    >>> sorted(t), "customer_id" in t["customers"].columns
    (['customers', 'events', 'items', 'orders'], True)
    """
    customers = world.customers.join(world.truth.records, on="record_id", how="left")
    tables = {"orders": world.orders, "customers": customers, "items": world.items, "events": world.events}
    if getattr(world, "campaigns", None) is not None:
        tables["campaigns"] = world.campaigns
    return tables
