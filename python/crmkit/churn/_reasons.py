"""Per-customer contributions turned into words ("no order for 94 days, 3.1x the usual interval").

Vectorised: the top contributions are picked with numpy, and each feature's phrase
is formatted by polars once, for just the rows where that feature is among the top ones
(reading only the columns the phrase uses), then scattered into place.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np
import polars as pl

Phrase = Callable[[str], pl.Expr]


def _int(e: pl.Expr) -> pl.Expr:
    return e.round(0).cast(pl.Int64).cast(pl.String)


def _dec(e: pl.Expr, digits: int = 1) -> pl.Expr:
    return e.round(digits).cast(pl.String)


def _money(e: pl.Expr) -> pl.Expr:
    return e.round(2).cast(pl.String)


def _pct(e: pl.Expr) -> pl.Expr:
    return (e * 100).round(0).cast(pl.Int64).cast(pl.String) + pl.lit("%")


def _text(*parts: object) -> pl.Expr:
    return pl.concat_str([p if isinstance(p, pl.Expr) else pl.lit(str(p)) for p in parts])


def _phrase(name: str, horizon: int) -> pl.Expr:
    """The phrase for one feature, in terms of that customer's values."""
    c = pl.col
    x = c(name)
    if name == "recency":
        return _text("no order for ", _int(x), " days")
    if name == "overdue_ratio":
        return pl.when(x.is_null()).then(pl.lit("only one purchase day so far")).otherwise(
            _text("no order for ", _int(c("recency")), " days, ", _dec(x), "x the usual interval"))
    if name == "frequency":
        return _text(_int(x), " order(s) in total")
    if name == "purchase_days":
        return _text("bought on ", _int(x), " day(s) in total")
    if name == "tenure":
        return _text("first order ", _int(x), " days ago")
    if name == "monetary_sum":
        return _text("spent ", _money(x), " in total")
    if name == "monetary_mean":
        return _text("average order ", _money(x))
    if name == "monetary_max":
        return _text("largest order ", _money(x))
    if name in ("interval_mean", "interval_std", "interval_last"):
        what = {"interval_mean": ("usually orders every ", " days"),
                "interval_std": ("irregular rhythm (about +/-", " days)"),
                "interval_last": ("", " days between the last two purchase days")}[name]
        return pl.when(x.is_null()).then(pl.lit("too few purchase days to know the rhythm")).otherwise(
            _text(what[0], _int(x), what[1]))
    m = re.fullmatch(r"(orders|spend)_(\d+)d", name)
    if m:
        if m.group(1) == "orders":
            return _text(_int(x), " order(s) in the last ", m.group(2), " days")
        return _text("spent ", _money(x), " in the last ", m.group(2), " days")
    m = re.fullmatch(r"(orders|spend)_trend_(\d+)_(\d+)d", name)
    if m:
        kind, a, b = m.groups()
        word = "ordering" if kind == "orders" else "spending"
        return pl.when(x.is_null()).then(pl.lit(f"no order in the last {b} days")).otherwise(
            _text(word, " in the last ", a, " days at ", _pct(x), " of the ", b, "-day pace"))
    if name == "discount_share":
        return _text(_pct(x), " of orders discounted")
    if name == "discount_mean":
        return _text("average discount ", _pct(x))
    if name == "n_channels":
        return _text("orders through ", _int(x), " channel(s)")
    if name.startswith("channel_share_"):
        return _text(_pct(x), " of orders via ", name[len("channel_share_"):])
    if name == "weekend_share":
        return _text(_pct(x), " of orders at weekends")
    if name == "weekday_concentration":
        return _text(_pct(x), " of orders on one weekday")
    if name == "evening_share":
        return _text(_pct(x), " of orders in the evening")
    if name == "hour_mean":
        return _text("orders around ", _int(x), ":00 on average")
    if name == "category_breadth":
        return pl.when(x.is_null()).then(pl.lit("no order lines known")).otherwise(
            _text("bought from ", _int(x), " categor(ies)"))
    if name == "favourite_category_share":
        return pl.when(x.is_null()).then(pl.lit("no order lines known")).otherwise(
            _text(_pct(x), " of items from one category"))
    if name == "products_distinct":
        return pl.when(x.is_null()).then(pl.lit("no order lines known")).otherwise(
            _text(_int(x), " distinct product(s)"))
    if name == "items_per_order":
        return pl.when(x.is_null()).then(pl.lit("no order lines known")).otherwise(
            _text(_dec(x), " items per order"))
    if name == "events_30d":
        return _text(_int(x), " web event(s) in the last 30 days")
    if name in ("sessions_30d", "sessions_90d"):
        return _text(_int(x), " visit(s) in the last ", name[-3:-1], " days")
    if name == "days_since_last_event":
        return pl.when(x.is_null()).then(pl.lit("never seen online")).otherwise(
            _text("not seen online for ", _int(x), " days"))
    if name == "cart_sessions_90d":
        return _text(_int(x), " visit(s) with a cart in the last 90 days")
    if name == "cart_abandonment":
        return pl.when(x.is_null()).then(pl.lit("no cart in the last 90 days")).otherwise(
            _text("abandoned ", _pct(x), " of carts in the last 90 days"))
    if name == "btyd_p_alive":
        return _text("BG/NBD: ", _pct(x), " likely still active")
    if name == "btyd_p_no_purchase":
        return _text("BG/NBD: ", _pct(x), f" chance of no order in {horizon} days")
    if name == "btyd_expected_purchases":
        return _text("BG/NBD expects ", _dec(x), f" purchase day(s) in {horizon} days")
    if name == "btyd_expected_spend":
        return _text("BG/NBD x Gamma-Gamma expects ", _money(x), f" spend in {horizon} days")
    return pl.when(x.is_null()).then(pl.lit(f"{name} unknown")).otherwise(_text(name, " = ", x.cast(pl.String)))


def top_reasons(frame: pl.DataFrame, contributions: np.ndarray, names: list[str], *, horizon: int, k: int = 3,
                separator: str = "; ") -> pl.Series:
    """The ``k`` largest positive contributions of each row (toward churn) in words, joined
    by ``separator``; an empty string when nothing pushes a customer toward churn."""
    n, m = contributions.shape
    if n == 0:
        return pl.Series("top_reasons", [], dtype=pl.String)
    k = max(0, min(k, m))
    if k == 0:
        return pl.Series("top_reasons", [""] * n, dtype=pl.String)
    # The k largest positive contributions per row, in one sweep over the columns
    # (contiguous in the column-major matrix ChurnModel builds): a column's value enters
    # a row's ranking only where it beats the row's k-th best so far, and an earlier
    # column stays ahead of a later one with an equal value.
    best = np.zeros((k, n))
    top = np.full((k, n), -1, dtype=np.int64)
    for j in range(m):
        col = np.asarray(contributions[:, j], dtype=np.float64)
        rows = np.flatnonzero(col > best[k - 1])
        if rows.size == 0:
            continue
        val = col[rows]
        feat = np.full(rows.size, j, dtype=np.int64)
        for r in range(k):
            b, bf = best[r, rows], top[r, rows]
            gt = val > b
            best[r, rows] = np.where(gt, val, b)
            top[r, rows] = np.where(gt, feat, bf)
            val, feat = np.where(gt, b, val), np.where(gt, bf, feat)
    # Slot (row, rank) -> the feature explained there, or -1 (no positive contribution).
    flat = top.T.ravel()
    order = np.argsort(flat.astype(np.int16 if m < 32_000 else np.int64), kind="stable")
    feats = np.arange(-1, m)
    bounds = np.searchsorted(flat[order], np.arange(-1, m + 1))
    starts, ends = bounds[:-1], bounds[1:]
    positions, texts = [], []
    for f, s0, s1 in zip(feats.tolist(), starts.tolist(), ends.tolist()):
        if f < 0 or s0 == s1:
            continue
        slots = order[s0:s1]
        expr = _phrase(names[f], horizon)
        # Each phrase is formatted once per row that needs it, from the columns it reads.
        sub = frame.select(list(dict.fromkeys([names[f], *expr.meta.root_names()])))[slots // k]
        texts.append(sub.select(expr.alias("__text")).to_series())
        positions.append(slots)
    slot_text = pl.Series("__text", [], dtype=pl.String).extend_constant(None, n * k)
    if texts:
        # polars before 1.32 scatters only at increasing indices.
        where = np.concatenate(positions)
        by_slot = np.argsort(where, kind="stable")
        slot_text = slot_text.scatter(where[by_slot], pl.concat(texts).gather(by_slot))
    out = pl.DataFrame({f"r{i}": slot_text.gather(np.arange(i, n * k, k)) for i in range(k)}).select(
        pl.concat_str([pl.col(f"r{i}") for i in range(k)], separator=separator, ignore_nulls=True).alias("top_reasons"))
    return out["top_reasons"].fill_null("")

