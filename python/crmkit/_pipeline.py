"""The end-to-end analysis that `crmkit demo` and `crmkit run` perform.

A run is a list of steps. Each step reads what it needs from a `Context`
(the input tables and the results of earlier steps), returns named result
tables and a few summary lines, and is skipped with a note when its inputs are
absent. Each domain contributes its step to `STEPS`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, cast, Optional

import polars as pl


@dataclass
class Context:
    """Input tables (with crmkit's standard column names) and results so far."""

    orders: pl.DataFrame
    customers: Optional[pl.DataFrame] = None
    items: Optional[pl.DataFrame] = None
    events: Optional[pl.DataFrame] = None
    #: Campaign contacts with a holdout group (campaign_id, customer_id, group, sent_at, ...).
    campaigns: Optional[pl.DataFrame] = None
    results: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: The date the analysis is made at; defaults to the day after the last order.
    as_of: Optional[object] = None
    #: What each step did, in order (for the printed summary and the HTML report).
    log: list["StepLog"] = field(default_factory=list)
    #: Rows read, dropped (by reason) and used (by step) per input table: see `prepare_inputs`.
    accounting: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StepOutput:
    tables: dict[str, pl.DataFrame]
    summary: list[str]


@dataclass
class StepLog:
    name: str
    seconds: Optional[float]
    summary: list[str]
    tables: list[str]
    #: Why the step did not run (None when it ran).
    skipped: Optional[str] = None


@dataclass
class Step:
    name: str
    needs: tuple[str, ...]
    run: Callable[[Context], StepOutput]


def _validate_step(ctx: Context) -> StepOutput:
    from crmkit.datasets import describe

    overview = describe(
        {"orders": ctx.orders, "customers": ctx.customers, "items": ctx.items, "events": ctx.events}
    )
    lines = [
        f"{row['table']}: {row['rows']:,} rows, {row['columns']} columns, {row['null_cells']:,} null cells"
        for row in overview.iter_rows(named=True)
    ]
    return StepOutput({"overview": overview}, lines)


def domain_step(module: str) -> Callable[[Context], StepOutput]:
    """The `demo_step` of a crmkit module, imported only when the step runs."""

    def run(ctx: Context) -> StepOutput:
        import importlib

        out: StepOutput = importlib.import_module(f"crmkit.{module}").demo_step(ctx)
        return out

    run.__name__ = f"{module}_demo_step"
    return run


STEPS: list[Step] = [
    Step("validate", ("orders",), _validate_step),
    # --- cleaning and identity resolution ---
    Step("identity", ("customers",), domain_step("dedupe")),
    # --- segmentation ---
    Step("segment", ("orders",), domain_step("segment")),
    # --- customer lifetime value ---
    Step("lifetime_value", ("orders",), domain_step("clv")),
    # --- behaviour and baskets ---
    Step("behaviour", ("orders",), domain_step("behaviour")),
    Step("basket", ("items",), domain_step("basket")),
    # --- churn ---
    Step("churn", ("orders",), domain_step("churn")),
    # --- forecast ---
    Step("forecast", ("orders",), domain_step("forecast")),
    # --- KPIs and alerts (monitoring) ---
    Step("kpi", ("orders",), domain_step("kpi")),
    # --- experiments ---
    Step("experiments", ("campaigns",), domain_step("experiment")),
    # --- dashboard and geography ---
    Step("geo", ("customers",), domain_step("geo")),
]


#: Values a row cannot be analysed without, per input table (crmkit's standard names).
REQUIRED = {
    "orders": ("customer_id", "order_date", "amount"),
    "customers": ("record_id",),
    "items": ("order_id", "product"),
    "events": ("customer_id", "event", "timestamp"),
    "campaigns": ("campaign_id", "customer_id", "group"),
}
#: The time column of the tables an analysis date cuts.
TIME_COLUMN = {"orders": "order_date", "events": "timestamp"}


def _account(ctx: Context, table: str, step: str, what: str, rows: int) -> None:
    ctx.accounting.append({"table": table, "step": step, "what": what, "rows": rows})


def prepare_inputs(ctx: Context) -> list[str]:
    """Drops the input rows that miss a required value (a null or NaN key, date or
    amount), counted by reason in ``ctx.accounting``, so that one bad row in an export
    costs that row — said in the summary and the ``row_accounting`` table — instead of
    the run. Returns the summary lines."""
    lines = []
    # Orders first: items follow the orders that are analysed.
    for table, columns in REQUIRED.items():
        df = getattr(ctx, table)
        if df is None:
            continue
        _account(ctx, table, "input", "read", df.height)
        n_read, later = df.height, 0
        present = [c for c in columns if c in df.columns]
        missing = []
        for c in present:
            dtype = df.schema[c]
            gap = pl.col(c).is_null()
            if dtype.is_float():
                gap = gap | pl.col(c).is_nan()
            missing.append(pl.when(gap).then(pl.lit(f"{c} is missing")))
        dropped: list[tuple[str, int]] = []
        if missing:
            # A row is counted once, under the first required value it misses.
            reason = df.select(pl.coalesce(missing).alias("reason"))["reason"]
            if reason.null_count() < df.height:
                counts = reason.drop_nulls().value_counts(sort=True)
                dropped = [(str(r), int(n)) for r, n in counts.rows()]
                df = df.filter(reason.is_null())
                setattr(ctx, table, df)
        for why, n in dropped:
            _account(ctx, table, "input", f"dropped: {why}", n)
        column = TIME_COLUMN.get(table)
        if ctx.as_of is not None and column is not None and column in df.columns and df.height:
            keep = _before(df, column, ctx.as_of)
            later = int((~keep).sum())
            if later:
                df = df.filter(keep)
                setattr(ctx, table, df)
                _account(ctx, table, "input", "not analysed: on or after the analysis date", later)
        if table == "items" and ctx.orders is not None and "order_id" in df.columns and "order_id" in ctx.orders.columns:
            known = df["order_id"].is_in(ctx.orders["order_id"].implode()) if df.height else pl.Series([], dtype=pl.Boolean)
            orphans = int((~known).sum())
            if orphans:
                df = df.filter(known)
                setattr(ctx, table, df)
                dropped.append(("its order is not analysed", orphans))
                _account(ctx, table, "input", "dropped: its order is not analysed", orphans)
        _account(ctx, table, "input", "analysed", df.height)
        if dropped or later:
            parts = [f"{n:,} dropped ({why})" for why, n in dropped]
            if later:
                parts.append(f"{later:,} on or after the analysis date {ctx.as_of}")
            lines.append(f"{table}: {n_read:,} rows read, {df.height:,} analysed; " + ", ".join(parts))
    return lines


def _before(df: pl.DataFrame, column: str, as_of: object) -> pl.Series:
    """Which rows fall before the analysis date (a wall-clock date in the data's zone)."""
    import datetime as dt

    if isinstance(as_of, str):
        try:
            as_of = dt.datetime.fromisoformat(as_of)
        except ValueError:
            from crmkit.errors import CrmError

            raise CrmError(f"as_of: expected a date such as 2025-01-31, found {as_of!r}") from None
    if not isinstance(as_of, dt.datetime):
        day = cast(dt.date, as_of)  # a date (text was parsed above)
        as_of = dt.datetime(day.year, day.month, day.day)
    col = pl.col(column)
    dtype = df.schema[column]
    if dtype == pl.Date:
        return df.select((col < pl.lit(as_of.date())).alias("b"))["b"]
    if getattr(dtype, "time_zone", None):
        col = col.dt.replace_time_zone(None)
    return df.select((col < pl.lit(as_of)).alias("b"))["b"]


def accounting_table(ctx: Context) -> pl.DataFrame:
    """``ctx.accounting`` as a table: table, step, what, rows."""
    return pl.DataFrame(ctx.accounting, schema={"table": pl.String, "step": pl.String, "what": pl.String,
                                                "rows": pl.Int64})


def run_steps(ctx: Context, out: Path, *, steps: Optional[list[Step]] = None, progress: bool = True,
              format: str = "parquet", spreadsheet_safe: bool = True) -> list[str]:
    """Runs every step whose inputs are present, writes its tables under `out` as
    parquet or, with ``format="csv"``, as CSV for spreadsheets (formula-like text cells
    neutralised unless ``spreadsheet_safe=False``)."""
    from crmkit.errors import CrmError

    if format not in ("parquet", "csv"):
        raise CrmError(f"run: the output format must be 'parquet' or 'csv', found {format!r}")
    out.mkdir(parents=True, exist_ok=True)
    show = progress and sys.stderr.isatty()
    report: list[str] = []
    todo = steps if steps is not None else STEPS
    if not ctx.accounting:
        report.extend(f"[rows] {line}" for line in prepare_inputs(ctx))
    for i, step in enumerate(todo, 1):
        missing = [n for n in step.needs if getattr(ctx, n) is None]
        if missing:
            reason = f"no {', '.join(missing)} table given"
            ctx.log.append(StepLog(step.name, None, [], [], skipped=reason))
            report.append(f"[{step.name}] skipped: {reason}")
            continue
        if show:
            print(f"\r[{i}/{len(todo)}] {step.name} ...", end="", file=sys.stderr, flush=True)
        started = time.perf_counter()
        result = step.run(ctx)
        seconds = time.perf_counter() - started
        keys = []
        for name, table in result.tables.items():
            key = f"{step.name}_{name}"
            ctx.results[key] = table
            if format == "csv":
                from crmkit._export import write_csv

                write_csv(table, out / f"{key}.csv", spreadsheet_safe_cells=spreadsheet_safe)
            else:
                table.write_parquet(out / f"{key}.parquet")
            keys.append(key)
        for need in step.needs:
            _account(ctx, need, step.name, "used", getattr(ctx, need).height)
        ctx.log.append(StepLog(step.name, seconds, list(result.summary), keys))
        report.append(f"[{step.name}] {seconds:.2f}s")
        report.extend(f"    {line}" for line in result.summary)
    accounting = accounting_table(ctx)
    if format == "csv":
        from crmkit._export import write_csv

        write_csv(accounting, out / "row_accounting.csv", spreadsheet_safe_cells=spreadsheet_safe)
    else:
        accounting.write_parquet(out / "row_accounting.parquet")
    dropped = accounting.filter(pl.col("what").str.starts_with("dropped"))["rows"].sum()
    report.append(f"[rows] {'no input row dropped' if not dropped else f'{dropped:,} input rows dropped'}; "
                  "row_accounting lists rows read, dropped, left out and used per table and step")
    if show:
        print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)
    return report
