"""`segment_customers`: RFM features -> log -> scale -> k-means -> named cluster
profiles, and the demo pipeline's segmentation step; re-exported by :mod:`crmkit.segment`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np
import polars as pl

from crmkit._validate import Frame
from crmkit.errors import CrmError
from crmkit.segment._rfm import _OTHERS, _RF_GRID_TABLE, _warn, rfm, rfm_summary

# --------------------------------------------------------------------------------------
# segment_customers: RFM features -> log -> scale -> k-means -> named cluster profiles
# --------------------------------------------------------------------------------------


@dataclass
class Segmentation:
    """The result of :func:`segment_customers`.

    ``customers``: one row per customer (the rfm columns, ``cluster`` and
    ``cluster_name``); ``clusters``: one row per cluster in original units; ``model``:
    the fitted :class:`crmkit.KMeans` (on scaled log features); ``scaler``: the fitted
    :class:`crmkit.Scaler`; ``k_scores``: the choose_k table when k was chosen.

    >>> import crmkit
    >>> orders = crmkit.datasets.generate(n_customers=300, seed=1).orders
    >>> seg = crmkit.segment_customers(orders, k=3, random_state=0)
    >>> isinstance(seg, crmkit.Segmentation), seg.clusters.height, seg.k_scores is None
    (True, 3, True)
    """

    customers: pl.DataFrame
    clusters: pl.DataFrame
    model: Any
    scaler: Any
    k_scores: Optional[pl.DataFrame] = None


def _grid_name(r: int, f: int) -> str:
    for name, r_lo, r_hi, f_lo, f_hi, _, _ in _RF_GRID_TABLE:
        if (r_lo is None or r_lo <= r) and (r_hi is None or r <= r_hi) and (f_lo is None or f_lo <= f) and (f_hi is None or f <= f_hi):
            return name
    return _OTHERS


def segment_customers(
    orders: Frame,
    k: Optional[int] = None,
    *,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    order: Optional[str] = None,
    as_of: Any = None,
    k_range: Sequence[int] = range(2, 9),
    scaling: str = "standard",
    n_init: Union[str, int] = 3,
    sample_size: int = 10_000,
    random_state: Any = 0,
) -> Segmentation:
    """Clusters customers on their RFM position and names each cluster.

    The path: :func:`rfm` (returns as in ``returns="net"``) -> features
    ``log1p(recency_days)``, ``log1p(frequency)``, ``log1p(max(monetary, 0))`` ->
    :func:`crmkit.scale` (``scaling``) -> :class:`crmkit.KMeans` with ``k`` clusters
    (chosen by the silhouette over ``k_range`` with :func:`crmkit.choose_k` when None).
    Each cluster is described in original units (customers, share, mean and median
    recency, frequency and monetary value, revenue, and its centre transformed back)
    and named by where its median customer sits on the 5 x 5 recency x frequency grid
    (``rf-grid`` names; a repeated name gets a suffix ``_2``, ``_3``, ...). Clusters are
    numbered by decreasing revenue.

    >>> import polars as pl, crmkit
    >>> from datetime import date, timedelta
    >>> orders = pl.DataFrame({
    ...     "customer_id": [c for c in range(40) for _ in range(1 + (c % 4) * 3)],
    ...     "order_date": [date(2024, 6, 1) - timedelta(days=(c % 5) * 60 + i)
    ...                    for c in range(40) for i in range(1 + (c % 4) * 3)],
    ...     "amount": [10.0 + c for c in range(40) for _ in range(1 + (c % 4) * 3)],
    ... })
    >>> seg = crmkit.segment_customers(orders, k=3, random_state=0)
    >>> seg.clusters.height, seg.customers.height
    (3, 40)
    >>> seg.clusters.columns[:3]
    ['cluster', 'cluster_name', 'customers']
    """
    from crmkit.cluster import KMeans, choose_k, scale

    table = rfm(orders, customer=customer, date=date, amount=amount, order=order, as_of=as_of,
                bins=5, segments="rf-grid")
    n = table.height
    if n == 0:
        raise CrmError("crmkit.segment_customers: there are no customers to cluster (no orders)")
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise CrmError(f"crmkit.segment_customers: k must be None or an integer >= 1, found {k!r}")
        if k > n:
            raise CrmError(
                f"crmkit.segment_customers: k={k} is larger than the number of customers ({n}); "
                f"choose k <= {n} or k=None"
            )
    n_bad = table.filter(~pl.col("monetary").cast(pl.Float64).is_finite()).height
    if n_bad:
        raise CrmError(
            f"crmkit.segment_customers: column '{amount}' sums to NaN or an infinity for {n_bad} customer(s) "
            f"(it holds NaN or ±inf values); clustering needs finite amounts: drop or fix those rows first"
        )
    n_negative = table.filter(pl.col("monetary") < 0).height
    if n_negative:
        _warn(f"crmkit.segment_customers: {n_negative} customer(s) with negative net monetary value clipped to 0 for clustering")
    feats = table.select(
        customer,
        pl.col("recency_days").cast(pl.Float64).clip(lower_bound=0).log1p().alias("log_recency"),
        pl.col("frequency").cast(pl.Float64).log1p().alias("log_frequency"),
        pl.col("monetary").clip(lower_bound=0).log1p().alias("log_monetary"),
    )
    cols = ["log_recency", "log_frequency", "log_monetary"]
    scaled, scaler = scale(feats, cols, method=scaling)
    X = scaled.select(cols).to_numpy()
    k_scores = None
    if k is None:
        if n < 3:
            raise CrmError(
                f"crmkit.segment_customers: choosing k needs at least 3 customers, found {n}; pass k explicitly"
            )
        choice = choose_k(X, k=k_range, sample_size=sample_size, random_state=random_state, n_init=n_init)
        k = choice.k
        k_scores = choice.scores
    model = KMeans(int(k), n_init=n_init, random_state=random_state).fit(X)
    labelled = table.with_columns(pl.Series("_raw", model.labels_.astype(np.int64)))

    # Centres back in original units: inverse scaling, then expm1.
    centres = scaler.inverse_transform(model.cluster_centers_).select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_raw"),
        pl.col("log_recency").exp().sub(1).alias("centre_recency_days"),
        pl.col("log_frequency").exp().sub(1).alias("centre_frequency"),
        pl.col("log_monetary").exp().sub(1).alias("centre_monetary"),
    )
    prof = (
        labelled.group_by("_raw")
        .agg(
            pl.len().cast(pl.Int64).alias("customers"),
            pl.col("recency_days").mean().alias("mean_recency_days"),
            pl.col("recency_days").median().alias("median_recency_days"),
            pl.col("frequency").mean().alias("mean_frequency"),
            pl.col("frequency").median().alias("median_frequency"),
            pl.col("monetary").mean().alias("mean_monetary"),
            pl.col("monetary").sum().alias("revenue"),
        )
        .join(centres, on="_raw", how="left")
        .with_columns((pl.col("customers") / n).alias("share"))
        .sort(["revenue", "_raw"], descending=[True, False])
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int32).alias("cluster"))
    )
    # Grid position of each cluster's median customer among all customers.
    rec = np.sort(table["recency_days"].to_numpy())
    frq = np.sort(table["frequency"].to_numpy())
    names: list[str] = []
    seen: dict[str, int] = {}
    for med_r, med_f in zip(prof["median_recency_days"].to_list(), prof["median_frequency"].to_list()):
        # Share of customers strictly more recent / less frequent than the median member.
        more_recent = np.searchsorted(rec, med_r, side="left") / n
        less_frequent = np.searchsorted(frq, med_f, side="left") / n
        r_sc = 5 - min(4, int(more_recent * 5))
        f_sc = 1 + min(4, int(less_frequent * 5))
        base = _grid_name(r_sc, f_sc)
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    prof = prof.with_columns(pl.Series("cluster_name", names, dtype=pl.String))
    mapping = prof.select("_raw", "cluster", "cluster_name")
    customers_out = labelled.join(mapping, on="_raw", how="left").drop("_raw").sort(customer)
    clusters_out = prof.select(
        "cluster", "cluster_name", "customers", "share", "revenue",
        "mean_recency_days", "median_recency_days", "mean_frequency", "median_frequency", "mean_monetary",
        "centre_recency_days", "centre_frequency", "centre_monetary",
    )
    # Renumber the model's centres so that cluster i of the tables is centre i.
    order_idx = prof["_raw"].to_numpy()
    model.cluster_centers_ = model.cluster_centers_[order_idx]
    remap = np.empty(len(order_idx), dtype=np.int32)
    remap[order_idx] = np.arange(len(order_idx), dtype=np.int32)
    model.labels_ = remap[model.labels_]
    return Segmentation(customers_out, clusters_out, model, scaler, k_scores)


def demo_step(ctx: Any) -> Any:
    """The `crmkit demo` segmentation step: RFM segments, profiles with tags, clusters."""
    from crmkit._pipeline import StepOutput
    from crmkit.profiles import profile, tags

    scores = rfm(ctx.orders, order="order_id" if "order_id" in ctx.orders.columns else None, as_of=ctx.as_of)
    summary = rfm_summary(scores)
    cust_col = scores.columns[0]
    # The customers table joins only when it is keyed by customer id (a raw record
    # table awaiting identity resolution is not).
    customers = ctx.customers if ctx.customers is not None and cust_col in ctx.customers.columns else None
    events = ctx.events if ctx.events is not None and cust_col in ctx.events.columns else None
    items = ctx.items if ctx.items is not None and "order_id" in ctx.orders.columns else None
    prof = tags(profile(ctx.orders, customers=customers, items=items, events=events, as_of=ctx.as_of))
    seg = segment_customers(ctx.orders, as_of=ctx.as_of, random_state=0)
    top = summary.head(3).rows(named=True)
    tag_counts = (
        prof.select(pl.col("tags").explode().drop_nulls().value_counts(sort=True)).unnest("tags").head(4)
        if prof.height else pl.DataFrame()
    )
    lines = [f"RFM: {scores.height:,} customers in {summary.height} segments; largest revenue: "
             + ", ".join(f"{r['segment']} ({r['share']:.0%} of customers, {r['revenue']:,.0f})" for r in top)]
    if tag_counts.height:
        lines.append("tags: " + ", ".join(f"{r[0]} {r[1]:,}" for r in tag_counts.rows()))
    lines.append(
        f"k-means: k={seg.clusters.height}"
        + (" (chosen by silhouette)" if seg.k_scores is not None else "")
        + "; " + ", ".join(f"{r['cluster_name']} {r['share']:.0%}" for r in seg.clusters.iter_rows(named=True))
    )
    return StepOutput(
        {"rfm": scores, "rfm_summary": summary, "profile": prof, "clusters": seg.clusters,
         "customer_clusters": seg.customers.select(scores.columns[0], "cluster", "cluster_name")},
        lines,
    )
