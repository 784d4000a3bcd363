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
from typing import Callable, Optional

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

        return importlib.import_module(f"crmkit.{module}").demo_step(ctx)

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
        ctx.log.append(StepLog(step.name, seconds, list(result.summary), keys))
        report.append(f"[{step.name}] {seconds:.2f}s")
        report.extend(f"    {line}" for line in result.summary)
    if show:
        print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)
    return report
