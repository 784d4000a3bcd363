"""The `crmkit demo` / `crmkit run` step: weekly revenue per channel, forecast and trend."""

from __future__ import annotations

from typing import Any

import polars as pl


def demo_step(ctx: Any) -> Any:
    """Weekly revenue per channel (or in total), the ``auto`` forecast for the next 13
    weeks with 95% intervals, and the growth table."""
    from crmkit._pipeline import StepOutput
    from crmkit.forecast._auto import auto, trend
    from crmkit.forecast._series import series

    orders = ctx.orders
    by = "channel" if "channel" in orders.columns else None
    weekly = series(orders, freq="1w", by=by, value="revenue")
    # Drop a trailing partial week: its low total would read as a collapse.
    last_order = orders.select(pl.col("order_date").max()).item()
    last_week = weekly["ds"].max()
    if last_order is not None and hasattr(last_order, "weekday") and last_order.weekday() != 6:
        weekly = weekly.filter(pl.col("ds") < last_week)
    lines = [f"{weekly['unique_id'].n_unique()} weekly revenue series ({'by ' + by if by else 'total'}), {weekly['ds'].n_unique()} weeks"]
    if weekly["ds"].n_unique() < 8:
        lines.append("forecast skipped: fewer than 8 complete weeks of orders")
        return StepOutput({"series": weekly}, lines)
    season = 52 if weekly["ds"].n_unique() >= 104 else 1
    fc = auto(weekly, h=13, season_length=season, level=[95])
    tr = trend(weekly, season_length=season, window=13, h=13)
    top = weekly.group_by("unique_id").agg(pl.col("y").sum()).sort("y", descending=True)["unique_id"][0]
    chart = pl.concat(
        [
            weekly.filter(pl.col("unique_id") == top).tail(104).with_columns(pl.lit("history").alias("part")),
            fc.filter(pl.col("unique_id") == top).rename({"auto": "y"}).with_columns(pl.lit("forecast").alias("part")).drop("model"),
        ],
        how="diagonal_relaxed",
    )
    for row in tr.sort("unique_id").iter_rows(named=True):
        growth = "n/a" if row["growth"] is None else f"{row['growth']:+.1%}"
        change = "n/a" if row["forecast_change"] is None else f"{row['forecast_change']:+.1%}"
        lines.append(f"{row['unique_id']}: {row['direction']} (last 13 weeks {growth} vs the 13 before; next 13 weeks {change})")
    lines.append("models used: " + ", ".join(f"{m} x{n}" for m, n in fc.group_by("model").agg(pl.col("unique_id").n_unique()).sort("model").rows()))
    return StepOutput({"series": weekly, "auto": fc, "trend": tr, "chart": chart}, lines)


def chart(table: pl.DataFrame) -> Any:
    """The report figure of the `forecast_chart` table."""
    from crmkit import plot

    hist = table.filter(pl.col("part") == "history").select("unique_id", "ds", "y")
    fut = table.filter(pl.col("part") == "forecast").rename({"y": "auto"}).drop("part")
    return plot.forecast(hist, fut, models=["auto"], title=f"Weekly revenue, {hist['unique_id'][0]}: 13-week forecast")
