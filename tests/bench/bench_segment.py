"""Segmentation benchmarks: rfm, KMeans, profile.

`cases(quick)` feeds the project's harness (tests/bench/run.py). Run this file
directly (`python tests/bench/bench_segment.py [--quick]`) for the same cases plus
the quality figures (k-means inertia against scikit-learn).

Peers:
- rfm vs a hand-written polars lazy query (same columns: recency, frequency,
  monetary, quantile scores), vs a vectorised pandas groupby script, and vs the
  widely copied pandas recipe with per-group lambdas. The lambda recipe costs
  about a minute per million customers, so it runs on a 1/10 sample of the
  customers (all their orders) ten times over (disjoint samples covering all
  customers), which equals the full run's work; the case name says so.
- KMeans (1M x 8, k=8) vs scikit-learn's KMeans with the same n_init.
- profile on 10M orders vs a vectorised pandas groupby of the same columns.

`python tests/bench/bench_segment.py --huge DIR` writes 100M generated orders as
parquet parts under DIR (once) and times rfm and profile on them through the
streaming engine.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd
import polars as pl

try:  # the project's harness
    sys.path.insert(0, str(Path(__file__).parent))
    from _harness import Case  # type: ignore
except ImportError:  # pragma: no cover - standalone use before the harness exists

    @dataclass
    class Case:  # type: ignore[no-redef]
        name: str
        crmkit: Callable[[], object]
        peer: Optional[Callable[[], object]] = None
        peer_name: str = ""
        repeat: int = 3


import crmkit


def _orders(n_orders: int, seed: int = 0) -> pl.DataFrame:
    """Orders from the project's generator when present, else a numpy generator with
    the same columns (about 10 orders per customer, skewed activity)."""
    gen = getattr(getattr(crmkit, "datasets", None), "generate", None)
    if gen is not None:
        probe = gen(n_customers=5_000, seed=seed, event_days=0).orders.height / 5_000
        n_customers = max(1, int(n_orders / probe))
        return gen(n_customers=n_customers, seed=seed, event_days=0).orders
    rng = np.random.default_rng(seed)
    n_customers = max(1, n_orders // 10)
    w = rng.pareto(1.5, n_customers) + 0.2
    cust = rng.choice(n_customers, size=n_orders, p=w / w.sum())
    secs = rng.integers(0, 3 * 365 * 86_400, n_orders)
    return pl.DataFrame(
        {
            "order_id": np.arange(n_orders, dtype=np.int64),
            "customer_id": cust.astype(np.int64),
            "order_date": (np.datetime64("2022-01-01T00:00:00") + secs.astype("timedelta64[s]")).astype("datetime64[us]"),
            "amount": np.round(rng.gamma(2.0, 40.0, n_orders), 2),
            "channel": pl.Series(rng.choice(["app", "store", "web"], size=n_orders)).cast(pl.Enum(["app", "store", "web"])),
            "discount": np.where(rng.random(n_orders) < 0.3, np.round(rng.random(n_orders) * 10, 2), 0.0),
        }
    )


def write_orders_parquet(directory: Path, n_orders: int, *, customers_per_part: int = 1_000_000) -> int:
    """Writes at least `n_orders` generated orders as parquet parts under `directory`
    (one generator run per part, customer and order ids offset so that parts are
    disjoint); returns the number of orders written. Parts already present are kept."""
    directory.mkdir(parents=True, exist_ok=True)
    written, part = 0, 0
    while written < n_orders:
        path = directory / f"part-{part:03d}.parquet"
        if not path.exists():
            o = crmkit.datasets.generate(n_customers=customers_per_part, seed=1000 + part, event_days=0).orders
            o = o.with_columns(pl.col("customer_id") + part * 100_000_000, pl.col("order_id") + part * 1_000_000_000)
            o.write_parquet(path.with_suffix(".tmp"))
            path.with_suffix(".tmp").rename(path)
            del o
        written += pl.scan_parquet(path).select(pl.len()).collect().item()
        part += 1
        print(f"  {path.name}: {written:,} orders so far", flush=True)
    return written


# --------------------------------------------------------------------------------------
# rfm peers
# --------------------------------------------------------------------------------------


def polars_handwritten(df: pl.DataFrame) -> pl.DataFrame:
    """What a polars user writes by hand: one lazy group-by, recency, rank-quantile scores."""
    as_of = df["order_date"].max().replace(hour=0, minute=0, second=0, microsecond=0)
    as_of = as_of + timedelta(days=1)
    n_bins = 5

    def score(col: str, reverse: bool) -> pl.Expr:
        r = pl.col(col).rank("ordinal")
        s = (r * n_bins / pl.len()).ceil().cast(pl.Int32)
        return (n_bins + 1 - s) if reverse else s

    return (
        df.lazy()
        .group_by("customer_id")
        .agg(pl.col("order_date").max().alias("last"), pl.len().alias("frequency"), pl.col("amount").sum().alias("monetary"))
        .sort("customer_id")
        .with_columns(((pl.lit(as_of) - pl.col("last")).dt.total_days()).alias("recency_days"))
        .with_columns(r_score=score("recency_days", True), f_score=score("frequency", False), m_score=score("monetary", False))
        .collect()
    )


def pandas_vectorised(pdf: pd.DataFrame) -> pd.DataFrame:
    as_of = pdf["order_date"].max().normalize() + pd.Timedelta(days=1)
    g = pdf.groupby("customer_id").agg(last=("order_date", "max"), frequency=("order_id", "size"), monetary=("amount", "sum"))
    g["recency_days"] = (as_of - g["last"]).dt.days
    g["r_score"] = pd.qcut(g["recency_days"].rank(method="first"), 5, labels=[5, 4, 3, 2, 1])
    g["f_score"] = pd.qcut(g["frequency"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    g["m_score"] = pd.qcut(g["monetary"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    return g


def pandas_lambda_recipe(pdf: pd.DataFrame, today) -> pd.DataFrame:
    """The recipe found in countless tutorials."""
    r = pdf.groupby("customer_id").agg(
        {"order_date": lambda d: (today - d.max()).days, "order_id": lambda o: o.nunique(), "amount": lambda a: a.sum()}
    )
    r.columns = ["recency", "frequency", "monetary"]
    r["r"] = pd.qcut(r["recency"].rank(method="first"), 5, labels=[5, 4, 3, 2, 1])
    r["f"] = pd.qcut(r["frequency"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    r["m"] = pd.qcut(r["monetary"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    return r


def pandas_profile(pdf: pd.DataFrame) -> pd.DataFrame:
    """A vectorised pandas profile of the same basic columns."""
    s = pdf.sort_values(["customer_id", "order_date"])
    gap = s["order_date"].diff().dt.total_seconds() / 86400
    gap[s["customer_id"].ne(s["customer_id"].shift())] = np.nan
    s = s.assign(gap=gap, weekend=s["order_date"].dt.dayofweek >= 5, disc=s["discount"] > 0)
    g = s.groupby("customer_id").agg(
        first=("order_date", "min"), last=("order_date", "max"), orders=("order_id", "size"),
        revenue=("amount", "sum"), gap=("gap", "mean"), weekend=("weekend", "mean"), disc=("disc", "mean"),
    )
    fav = s.groupby(["customer_id", "channel"], observed=True).size().reset_index(name="n")
    fav = fav.sort_values(["customer_id", "n"], ascending=[True, False]).drop_duplicates("customer_id")
    return g.join(fav.set_index("customer_id")["channel"])


# --------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------


def _kmeans_data(n: int, d: int = 8, k: int = 8, seed: int = 0) -> np.ndarray:
    """Overlapping gaussian clusters of different sizes and spreads (customer-like features)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (k, d))
    sizes = rng.dirichlet(np.ones(k) * 2)
    lab = rng.choice(k, size=n, p=sizes)
    spread = rng.uniform(0.5, 1.5, k)
    return np.ascontiguousarray(centres[lab] + rng.normal(0, 1, (n, d)) * spread[lab][:, None])


def cases(quick: bool = False) -> list:
    n_orders = 1_000_000 if quick else 10_000_000
    tag = f"{n_orders // 1_000_000}M orders"
    orders = _orders(n_orders)
    pdf = orders.to_pandas()
    today = pdf["order_date"].max().normalize() + pd.Timedelta(days=1)

    # Lambda recipe: ten disjoint 1/10 customer samples, together the whole data.
    parts = [pdf[pdf["customer_id"] % 10 == i] for i in range(10)]

    def lambda_recipe_full_work():
        for p in parts:
            pandas_lambda_recipe(p, today)

    n_points = 100_000 if quick else 1_000_000
    X = _kmeans_data(n_points)

    def sk_kmeans():
        from sklearn.cluster import KMeans as SkKMeans

        return SkKMeans(8, n_init=3, random_state=0).fit(X)

    note = f"{orders.height:,} orders, {orders['customer_id'].n_unique():,} customers"
    out = [
        Case(f"rfm {tag} vs hand-written polars", crmkit=lambda: crmkit.rfm(orders, order=None),
             peer=lambda: polars_handwritten(orders), peer_name="polars lazy query", repeat=3,
             note=note + "; bar: within 1.2x", target_ratio=1 / 1.2),
        Case(f"rfm {tag} vs vectorised pandas", crmkit=lambda: crmkit.rfm(orders, order=None),
             peer=lambda: pandas_vectorised(pdf), peer_name="pandas groupby", repeat=3,
             note=note + "; pandas frame prepared outside the timing", target_ratio=2.0),
        Case(f"rfm {tag} vs pandas lambda recipe", crmkit=lambda: crmkit.rfm(orders, order="order_id"),
             peer=lambda_recipe_full_work, peer_name="pandas per-group lambdas", repeat=1,
             note=note + "; peer runs on 10 disjoint 1/10 customer samples in turn (= the full data's work)",
             target_ratio=20.0),
        Case(f"KMeans {n_points // 1000}k x 8, k=8, n_init=3", crmkit=lambda: crmkit.KMeans(8, n_init=3, random_state=0).fit(X),
             peer=sk_kmeans, peer_name="scikit-learn KMeans", repeat=3,
             note="overlapping gaussian clusters; inertia compared in bench_segment.py main()", target_ratio=1.0),
        Case(f"profile {tag}", crmkit=lambda: crmkit.profile(orders), peer=lambda: pandas_profile(pdf),
             peer_name="pandas groupby profile", repeat=1, note=note + "; bar: crmkit under 10 s"),
    ]
    return out


def _time(f: Callable[[], object], repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def huge(directory: Path, n_orders: int = 100_000_000) -> None:
    """rfm and profile on `n_orders` generated orders read from parquet through the
    streaming engine (the data is written once under `directory`), with peak memory."""
    import resource

    n = write_orders_parquet(directory, n_orders)
    source = str(directory / "*.parquet")
    for name, f in (
        ("rfm", lambda: crmkit.rfm(pl.scan_parquet(source), order="order_id")),
        ("profile", lambda: crmkit.profile(pl.scan_parquet(source))),
    ):
        t = time.perf_counter()
        out = f()
        el = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        print(f"{name} streaming {n:,} orders -> {out.height:,} customers: {el:.1f}s (peak RSS so far {peak:.1f} GB)", flush=True)


def main() -> None:
    quick = "--quick" in sys.argv
    if "--huge" in sys.argv:
        # python tests/bench/bench_segment.py --huge DIR: the 100M-order streaming run.
        huge(Path(sys.argv[sys.argv.index("--huge") + 1]))
        return
    for c in cases(quick):
        a = _time(c.crmkit, c.repeat)
        b = _time(c.peer, c.repeat) if c.peer is not None else float("nan")
        print(f"{c.name:<70} crmkit {a:8.3f}s  {c.peer_name:<26} {b:8.3f}s  ratio {b / a:6.2f}x", flush=True)
    n = 100_000 if quick else 1_000_000
    X = _kmeans_data(n)
    from sklearn.cluster import KMeans as SkKMeans

    for n_init in (1, 3):
        ours = crmkit.KMeans(8, n_init=n_init, random_state=0).fit(X).inertia_
        ref = SkKMeans(8, n_init=n_init, random_state=0).fit(X).inertia_
        print(f"KMeans inertia n_init={n_init}: crmkit {ours:.6g}, scikit-learn {ref:.6g}, "
              f"crmkit/sklearn = {ours / ref:.5f}")


if __name__ == "__main__":
    main()
