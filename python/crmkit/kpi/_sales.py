"""Sales-team performance per owner and period, and attainment against targets."""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional, cast

import polars as pl

from crmkit._validate import as_frame, as_lazy, require_columns, require_no_nulls
from crmkit.errors import CrmError
from crmkit.kpi._compute import STANDARD_COLUMNS, _as_of_date, _shift, local_date, parse_freq

#: KPIs that accumulate during a period: a running period's target is pro-rated.
ADDITIVE_KPIS = frozenset({"revenue", "orders", "active_customers", "new_customers", "returning_customers",
                           "visitors", "responses"})
#: KPIs where lower is better.
LOWER_IS_BETTER = frozenset({"churn_rate"})


def _last_day(df: pl.DataFrame) -> dt.date:
    """The latest created ('__c') or closed ('__x') day of the opportunities (Date columns)."""
    created = cast(dt.date, df["__c"].max())
    closed = cast(Optional[dt.date], df["__x"].max())
    return max(created, closed or created)


def sales_performance(
    opportunities: Any,
    *,
    freq: str = "1mo",
    owner: str = "owner",
    created: str = "created_date",
    closed: str = "closed_date",
    won: str = "won",
    amount: str = "amount",
    as_of: Any = None,
) -> pl.DataFrame:
    """Per owner (sales rep) and period: the leaderboard CRM dashboards show.

    Columns: ``period_start, period_end, is_complete, owner, created`` (opportunities
    opened in the period), ``won, lost`` (closed in the period), ``win_rate``
    (won / closed in the period), ``won_revenue``, ``avg_deal_size`` (won revenue /
    won), ``median_cycle_days`` (days from creation to close of the deals won in the
    period), ``open_count, open_pipeline`` (opportunities open at the period's end and
    their amount) and ``rank`` (1 = the most won revenue in the period; ties share a
    rank). Every owner has a row for every period. An opportunity is closed when
    ``closed`` is set (before ``as_of``); ``won`` says how. Use
    :func:`crmkit.pipeline_funnel` on the same table for the stage funnel.

    >>> import polars as pl, datetime as dt
    >>> opp = pl.DataFrame({
    ...     "owner": ["ann", "ann", "bo", "bo"],
    ...     "created_date": [dt.date(2024, 1, 3), dt.date(2024, 1, 9), dt.date(2024, 1, 5), dt.date(2024, 2, 1)],
    ...     "closed_date": [dt.date(2024, 1, 20), None, dt.date(2024, 2, 10), dt.date(2024, 2, 11)],
    ...     "won": [True, None, False, True], "amount": [100.0, 50.0, 70.0, 30.0]})
    >>> p = sales_performance(opp, as_of=dt.date(2024, 3, 1))
    >>> p.select("period_start", "owner", "won", "win_rate", "won_revenue", "open_pipeline", "rank").rows()[:2]
    [(datetime.date(2024, 1, 1), 'ann', 1, 1.0, 100.0, 50.0, 1), (datetime.date(2024, 1, 1), 'bo', 0, None, 0.0, 70.0, 2)]
    """
    fn = "kpi.sales_performance"
    n, unit = parse_freq(freq, fn)
    lf = as_lazy(opportunities, argument="opportunities")
    schema = require_columns(
        lf, {owner: "any", created: "temporal", closed: "temporal", won: "boolean", amount: "numeric"},
        function=fn, argument="opportunities",
    )
    df = lf.select(
        pl.col(owner).alias("owner"),
        local_date(created, schema[created]).alias("__c"),
        local_date(closed, schema[closed]).alias("__x"),
        pl.col(won).alias("__won"),
        pl.col(amount).cast(pl.Float64).alias("__amt"),
    ).collect()
    require_no_nulls(df, ["owner", "__c"], function=fn, argument="opportunities", names={"__c": created})
    if df.height == 0:
        raise CrmError(f"{fn}: 'opportunities' is empty; there is nothing to rank")
    as_of_ts = _as_of_date(as_of, fn)
    as_of_day = (
        as_of_ts.date() if as_of_ts is not None else _last_day(df) + dt.timedelta(days=1)
    )
    bad = df.filter(pl.col("__x").is_not_null() & (pl.col("__x") < pl.col("__c")))
    if bad.height:
        raise CrmError(f"{fn}: {bad.height} opportunit(ies) close before they were created, e.g. {bad.row(0)}")
    # time travel: nothing created at or after as_of exists; a later close is still open
    df = df.filter(pl.col("__c") < as_of_day).with_columns(
        pl.when(pl.col("__x") < as_of_day).then(pl.col("__x")).alias("__x")
    )
    closed_rows = df.filter(pl.col("__x").is_not_null())
    nulls = closed_rows.filter(pl.col("__won").is_null()).height
    if nulls:
        raise CrmError(f"{fn}: {nulls} closed opportunit(ies) have no '{won}' value; a closed deal is won or lost")

    def period(e: pl.Expr) -> pl.Expr:
        return e.dt.truncate(f"{3 * n}mo" if unit == "q" else f"{n}{unit}")

    made = df.group_by("owner", period(pl.col("__c")).alias("period_start")).agg(
        pl.len().alias("created"), pl.col("__amt").sum().alias("__made_amt"))
    done = closed_rows.group_by("owner", period(pl.col("__x")).alias("period_start")).agg(
        pl.col("__won").sum().cast(pl.UInt32).alias("won"),
        (~pl.col("__won")).sum().cast(pl.UInt32).alias("lost"),
        pl.col("__amt").filter(pl.col("__won")).sum().alias("won_revenue"),
        pl.col("__amt").sum().alias("__done_amt"),
        pl.len().alias("__done"),
        (pl.col("__x") - pl.col("__c")).dt.total_days().filter(pl.col("__won")).median().alias("median_cycle_days"),
    )
    lo = cast(dt.date, made["period_start"].min())
    hi = pl.select(period(pl.lit(as_of_day - dt.timedelta(days=1))).alias("p")).item()
    step = f"{3 * n}mo" if unit == "q" else f"{n}{unit}"
    grid = pl.DataFrame({"period_start": pl.date_range(lo, hi, interval=step, eager=True)}).join(
        df.select("owner").unique(), how="cross")
    out = grid.join(made, on=["owner", "period_start"], how="left").join(done, on=["owner", "period_start"], how="left")
    out = out.with_columns(
        pl.col("created", "won", "lost", "__done").fill_null(0),
        pl.col("won_revenue", "__made_amt", "__done_amt").fill_null(0.0),
    ).sort("owner", "period_start")
    out = out.with_columns(
        (pl.col("created").cast(pl.Int64) - pl.col("__done").cast(pl.Int64)).cum_sum().over("owner").alias("open_count"),
        (pl.col("__made_amt") - pl.col("__done_amt")).cum_sum().over("owner").round(6).alias("open_pipeline"),
        pl.when(pl.col("__done") > 0).then(pl.col("won") / pl.col("__done")).alias("win_rate"),
        pl.when(pl.col("won") > 0).then(pl.col("won_revenue") / pl.col("won")).alias("avg_deal_size"),
        _shift(pl.col("period_start"), n, unit).alias("period_end"),
    )
    out = out.with_columns(
        (pl.col("period_end") <= as_of_day).alias("is_complete"),
        pl.col("won_revenue").rank("min", descending=True).over("period_start").cast(pl.UInt32).alias("rank"),
    )
    return out.select(
        "period_start", "period_end", "is_complete", "owner", pl.col("created").cast(pl.UInt32), "won", "lost",
        "win_rate", "won_revenue", "avg_deal_size", pl.col("median_cycle_days").cast(pl.Float64), "open_count",
        "open_pipeline", "rank",
    ).sort("period_start", "rank", "owner")


def targets(kpis: Any, targets: Any, *, as_of: Any = None) -> pl.DataFrame:
    """Joins a targets table onto a KPI table and says who is on track.

    ``targets`` has ``kpi, target`` and optionally ``period_start`` (absent or null:
    the target holds for every period) and any of the KPI table's group columns
    (absent or null: every group). A specific row wins over a general one. Adds
    ``target``, ``attainment`` (value / target; target / value for ``churn_rate``,
    where lower is better), ``expected_to_date`` and ``on_track``. For a period still
    running at ``as_of`` (default: now) the target of an accumulating KPI (revenue,
    orders, customers, visitors, responses) is pro-rated by the elapsed share of the
    period; a rate's target is not.

    >>> import polars as pl, datetime as dt
    >>> k = pl.DataFrame({"period_start": [dt.date(2024, 1, 1), dt.date(2024, 2, 1)],
    ...                   "period_end": [dt.date(2024, 2, 1), dt.date(2024, 3, 1)],
    ...                   "is_complete": [True, False], "kpi": "revenue", "value": [900.0, 600.0]})
    >>> t = targets(k, pl.DataFrame({"kpi": ["revenue"], "target": [1000.0]}), as_of=dt.date(2024, 2, 15))
    >>> t.select("period_start", "attainment", pl.col("expected_to_date").round(1), "on_track").rows()
    [(datetime.date(2024, 1, 1), 0.9, 1000.0, False), (datetime.date(2024, 2, 1), 0.6, 482.8, True)]
    """
    fn = "kpi.targets"
    k = as_frame(kpis, argument="kpis")
    require_columns(k, {"period_start": "date", "kpi": "any", "value": "numeric"}, function=fn, argument="kpis")
    t = as_frame(targets, argument="targets")
    require_columns(t, {"kpi": "any", "target": "numeric"}, function=fn, argument="targets")
    groups = [c for c in k.columns if c not in STANDARD_COLUMNS]
    extra = [c for c in t.columns if c not in ("kpi", "target", "period_start") and c not in groups]
    if extra:
        raise CrmError(f"{fn}: targets column(s) {extra} are neither KPI-table groups {groups} nor kpi/target/period_start")
    bad = t.filter(pl.col("target").is_null() | (pl.col("target") <= 0))
    if bad.height:
        raise CrmError(f"{fn}: {bad.height} target(s) are missing or not positive, e.g. {bad.row(0, named=True)}")
    unknown = sorted(set(t["kpi"].cast(pl.String).to_list()) - set(k["kpi"].cast(pl.String).to_list()))
    if unknown:
        raise CrmError(f"{fn}: targets name KPI(s) {unknown} that the KPI table does not hold")
    keys = ["kpi", "period_start", *[c for c in groups if c in t.columns]]
    t = t.with_columns(pl.col("kpi").cast(pl.String))
    if "period_start" in t.columns:
        t = t.with_columns(pl.col("period_start").cast(pl.Date))
    else:
        t = t.with_columns(pl.lit(None, pl.Date).alias("period_start"))
    for c in keys[2:]:
        t = t.with_columns(pl.col(c).cast(k.schema[c]))
    # specificity: the more keys given, the more specific the row
    t = t.with_columns(pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Int32) for c in keys[1:]]).alias("__spec"))
    dup = t.group_by(keys).len().filter(pl.col("len") > 1)
    if dup.height:
        raise CrmError(f"{fn}: targets repeat for the same kpi/period/group, e.g. {dup.drop('len').row(0, named=True)}")
    base = k.with_row_index("__row").with_columns(pl.col("kpi").cast(pl.String).alias("__kpi"),
                                                   pl.col("period_start").cast(pl.Date).alias("__ps"))
    cand = base.select("__row", "__kpi", "__ps", *keys[2:]).join(t.rename({"kpi": "__kpi"}), on="__kpi", how="inner",
                                                                 suffix="__t")
    ok = pl.lit(True)
    ok = ok & (pl.col("period_start").is_null() | (pl.col("period_start") == pl.col("__ps")))
    for c in keys[2:]:
        ok = ok & (pl.col(f"{c}__t").is_null() | (pl.col(f"{c}__t") == pl.col(c)))
    best = cand.filter(ok).sort("__spec", descending=True).group_by("__row").first().select("__row", "target")
    out = base.join(best, on="__row", how="left").sort("__row")
    now = _as_of_date(as_of, fn) or dt.datetime.now()
    start = pl.col("period_start").cast(pl.Datetime("us"))
    if "period_end" in out.columns:
        end = pl.col("period_end").cast(pl.Datetime("us"))
        elapsed = ((pl.lit(now) - start) / (end - start)).clip(0.0, 1.0)
    else:
        elapsed = pl.lit(1.0)
    complete = pl.col("is_complete") if "is_complete" in out.columns else pl.lit(True)
    additive = pl.col("__kpi").is_in(list(ADDITIVE_KPIS))
    lower = pl.col("__kpi").is_in(list(LOWER_IS_BETTER))
    expected = pl.when(complete | ~additive).then(pl.col("target")).otherwise(pl.col("target") * elapsed)
    out = out.with_columns(
        pl.when(lower).then(pl.col("target") / pl.col("value")).otherwise(pl.col("value") / pl.col("target")).alias("attainment"),
        expected.alias("expected_to_date"),
    ).with_columns(
        pl.when(pl.col("target").is_null() | pl.col("value").is_null()).then(None)
        .when(lower).then(pl.col("value") <= pl.col("expected_to_date"))
        .otherwise(pl.col("value") >= pl.col("expected_to_date")).alias("on_track"),
    )
    return out.drop("__row", "__kpi", "__ps")
