"""The `crmkit` command line: `crmkit demo`, `crmkit run`, `crmkit generate`.

`crmkit run` is the Airflow use: point it at your own CSV or parquet exports,
map your column names onto crmkit's, and it writes every result table as
parquet. Progress is shown on a terminal and stays out of logs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import polars as pl

from crmkit import __version__
from crmkit._validate import Kind
from crmkit.errors import CrmError, SchemaError

#: Exit code of `crmkit run --fail-on-alert` when KPI alerts were raised (errors: 2).
ALERT_EXIT_CODE = 3

#: crmkit's standard column names per input table; `--col` maps yours onto them.
STANDARD_COLUMNS: dict[str, dict[str, Kind]] = {
    "orders": {"order_id": "id", "customer_id": "id", "order_date": "temporal", "amount": "numeric"},
    "customers": {"record_id": "id"},
    "items": {"order_id": "id", "product": "string"},
    "events": {"customer_id": "id", "event": "string", "timestamp": "temporal"},
    "campaigns": {"campaign_id": "id", "customer_id": "id", "group": "any", "sent_at": "temporal"},
}


def _read(path: str, table: str) -> pl.DataFrame:
    p = Path(path)
    if not p.exists():
        raise CrmError(f"--{table}: file not found: {path}")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pl.read_parquet(p)
    if suffix in (".csv", ".tsv", ".txt"):
        return pl.read_csv(p, separator="\t" if suffix == ".tsv" else ",", try_parse_dates=True, infer_schema_length=10_000)
    if suffix in (".arrow", ".ipc", ".feather"):
        return pl.read_ipc(p)
    raise CrmError(f"--{table}: cannot read '{path}': expected a .csv, .tsv, .parquet or .arrow file")


def _parse_text(df: pl.DataFrame, table: str, column: str, kind: str) -> pl.Series:
    """Text dates and amounts as exports write them ('2024/3/5 14:00', '2024年3月5日',
    Excel serials, '¥1,234.50', '1.234,50 €') through crmkit's cleaners. Placeholders
    ('N/A', '-', '无', ...) become nulls; text that is neither is an error naming examples."""
    from crmkit import clean

    col = pl.col(column)
    is_text = df.schema[column] == pl.String
    if kind == "temporal" and not is_text:  # integers: 20240305 or Excel serial numbers
        parsed = clean.date(col).cast(pl.Datetime("us"))
        expected = "dates (20240305 or Excel serial numbers such as 45356)"
    elif kind == "temporal":
        parsed = pl.coalesce(
            col.str.to_datetime(strict=False, time_unit="us"),
            clean.date(col).cast(pl.Datetime("us")),
        )
        expected = "dates or datetimes (2024-03-05, 2024/3/5, 2024-03-05 14:00:00, 2024年3月5日, ...)"
    else:
        parsed = clean.amount(col)
        expected = "amounts (1234.5, ¥1,234.50, 1.234,50 €, (12.00), ...)"
    present = clean.text(col).is_not_null() if is_text else col.is_not_null()
    out = df.select(parsed.alias(column), (parsed.is_null() & present).alias("_bad"))
    n_bad = int(out["_bad"].sum())
    if n_bad:
        examples = df.filter(out["_bad"])[column].unique(maintain_order=True).head(3).to_list()
        raise CrmError(
            f"--{table}: column '{column}' holds {n_bad} value(s) that are not {expected}, "
            f"for example {examples}"
        )
    return out[column]


def _conform(df: pl.DataFrame, table: str, mapping: dict[str, str]) -> pl.DataFrame:
    """Renames the user's columns to crmkit's and parses text dates."""
    from crmkit._validate import require_columns

    renames = {yours: std for std, yours in mapping.items() if yours in df.columns and yours != std}
    df = df.rename(renames)
    needed = STANDARD_COLUMNS[table]
    for column, kind in needed.items():
        dtype = df.schema.get(column)
        if (dtype == pl.String and kind in ("temporal", "numeric")) or (kind == "temporal" and dtype is not None
                                                                          and dtype.is_integer()):
            df = df.with_columns(_parse_text(df, table, column, kind))
    if table == "orders" and "order_id" not in df.columns:
        # Order ids are optional: one row is one order.
        df = df.with_row_index("order_id", offset=1).with_columns(pl.col("order_id").cast(pl.Int64))
    missing = [c for c in needed if c not in df.columns]
    if missing:
        hint = " ".join(f"--col {table}.{c}=YOUR_COLUMN" for c in missing)
        raise SchemaError(
            f"crmkit run --{table}: column(s) {missing} not found; the file has {df.columns}. "
            f"Map yours with {hint}"
        )
    require_columns(df, needed, function=f"crmkit run --{table}", argument=table)
    return df


def _parse_mappings(pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {t: {} for t in STANDARD_COLUMNS}
    for pair in pairs:
        try:
            left, yours = pair.split("=", 1)
            table, std = left.split(".", 1)
        except ValueError:
            raise CrmError(f"--col expects TABLE.COLUMN=YOUR_COLUMN (e.g. orders.customer_id=cust_no), found {pair!r}") from None
        if table not in out:
            raise CrmError(f"--col: unknown table {table!r}; expected one of {sorted(out)}")
        out[table][std] = yours
    return out


def _finish(report: list[str], out: Path, started: float, ctx: Any = None, title: str = "crmkit report",
            board: Optional[dict[str, Any]] = None) -> None:
    for line in report:
        print(line)
    print(f"tables written to {out}/ in {time.perf_counter() - started:.1f}s")
    if board is not None:
        _write_dashboard(board, out / "dashboard.html", title=title)
    if ctx is not None:
        from crmkit.report import write_report

        print(f"report: {write_report(ctx, out / 'report.html', title=title)}")


def _write_dashboard(tables: dict[str, Any], path: Path, *, title: str, **options: Any) -> None:
    """The interactive dashboard beside the tables; a missing optional extra is a note,
    not a failure of the run."""
    try:
        import altair  # noqa: F401
        import vl_convert  # noqa: F401
    except ImportError:
        print("dashboard: not written (pip install 'crmkit[dashboard]' for dashboard.html)")
        return
    from crmkit.dashboard import dashboard

    started = time.perf_counter()
    written = dashboard(tables["orders"], customers=tables.get("customers"), items=tables.get("items"),
                        events=tables.get("events"), surveys=tables.get("surveys"), campaigns=tables.get("campaigns"),
                        results=tables.get("results"), as_of=tables.get("as_of"), out=path, title=title, **options)
    size = written.stat().st_size / 1e6
    print(f"dashboard: {written} ({size:.2f} MB, {time.perf_counter() - started:.1f}s)")


def _demo(args: argparse.Namespace) -> int:
    from crmkit import datasets
    from crmkit._pipeline import Context, run_steps

    started = time.perf_counter()
    world = datasets.generate(n_customers=args.customers, seed=args.seed, campaigns=True)
    out = Path(args.out)
    print(f"crmkit {__version__} demo: {world!r}")
    datasets.write(world, str(out / "data"))
    ctx = Context(orders=world.orders, customers=world.customers, items=world.items, events=world.events,
                  campaigns=world.campaigns)
    report = run_steps(ctx, out, progress=not args.quiet, format=args.format, spreadsheet_safe=not args.csv_raw)
    board = None
    if not args.no_dashboard:
        from crmkit.dashboard import demo_inputs, demo_surveys_and_campaigns

        # The map needs each record's customer number (as a CRM holds it) to show revenue;
        # generated survey answers show the NPS section; the world's campaign contacts the
        # campaign and experiment sections.
        board = dict(demo_inputs(world), surveys=demo_surveys_and_campaigns(world, seed=args.seed)["surveys"],
                     results=_reusable(ctx.results))
    _finish(report, out, started, None if args.no_report else ctx,
            title=f"crmkit demo: {args.customers:,} generated customers, seed {args.seed}", board=board)
    return 0


def _reusable(results: dict[str, Any]) -> dict[str, Any]:
    """Pipeline results the dashboard draws as they are (the map is recomputed when the
    customers carry customer_id, to add revenue)."""
    return {k: v for k, v in results.items() if not k.startswith("geo_")}


def _check_outputs_spare_inputs(inputs: Sequence[str], out: Path) -> None:
    """Refuses, before any work, a run whose --out would overwrite one of its inputs: the
    files crmkit writes there are ``<step>_<table>.parquet``, report.html and
    dashboard.html."""
    from crmkit._pipeline import STEPS

    out_dir = out.resolve()
    prefixes = tuple(f"{step.name}_" for step in STEPS)
    for given in inputs:
        path = Path(given).resolve()
        if path.parent != out_dir:
            continue
        name = path.name
        if name in ("report.html", "dashboard.html", "row_accounting.parquet", "row_accounting.csv") or (name.endswith((".parquet", ".csv")) and name.startswith(prefixes)):
            raise CrmError(f"--out {out}: the run writes {name} there, which would overwrite the input {given}; "
                           "choose another --out directory")


def _run(args: argparse.Namespace) -> int:
    from crmkit._pipeline import Context, run_steps

    started = time.perf_counter()
    _check_outputs_spare_inputs([getattr(args, t) for t in STANDARD_COLUMNS if getattr(args, t) is not None],
                                Path(args.out))
    maps = _parse_mappings(args.col or [])
    tables: dict[str, Optional[pl.DataFrame]] = {}
    for table in STANDARD_COLUMNS:
        path = getattr(args, table)
        tables[table] = None if path is None else _conform(_read(path, table), table, maps[table])
    out = Path(args.out)
    orders = tables["orders"]
    assert orders is not None  # --orders is a required argument
    ctx = Context(orders, customers=tables["customers"], items=tables["items"], events=tables["events"],
                  campaigns=tables["campaigns"], as_of=args.as_of)
    report = run_steps(ctx, out, progress=not args.quiet, format=args.format, spreadsheet_safe=not args.csv_raw)
    board = None
    if not args.no_dashboard:
        keyed = tables["customers"] is not None and "customer_id" in tables["customers"].columns
        board = dict(tables, results=_reusable(ctx.results) if keyed else dict(ctx.results), as_of=args.as_of)
    _finish(report, out, started, None if args.no_report else ctx, title=f"crmkit report: {args.orders}", board=board)
    return _alerts_exit(args, ctx)


def _alerts_exit(args: argparse.Namespace, ctx: Any) -> int:
    """Posts the KPI alerts (--alerts-webhook) and picks the exit code (--fail-on-alert)."""
    alerts = ctx.results.get("kpi_alerts")
    n = 0 if alerts is None else alerts.height
    if args.alerts_webhook and n:
        from crmkit.kpi._monitor import post

        status = post(alerts, args.alerts_webhook, format=args.alerts_format)
        print(f"{n} alert(s) posted to {args.alerts_webhook} (HTTP {status})")
    elif args.alerts_webhook:
        print("no KPI alerts: nothing posted")
    return ALERT_EXIT_CODE if args.fail_on_alert and n else 0


def _dashboard(args: argparse.Namespace) -> int:
    maps = _parse_mappings(args.col or [])
    tables: dict[str, Any] = {}
    for table in STANDARD_COLUMNS:
        path = getattr(args, table)
        if path is not None:
            df = _read(path, table)
            tables[table] = df if table == "customers" else _conform(df, table, maps[table])
    from crmkit.dashboard import dashboard

    extra: dict[str, Any] = {}  # surveys= and campaigns= tables
    for name in ("surveys", "campaigns"):
        path = getattr(args, name)
        if path is not None and name not in tables:
            extra[name] = _read(path, name)
    written = dashboard(tables.pop("orders"), **tables, **extra, out=args.out, title=args.title, freq=args.freq,
                        mask_pii=not args.show_pii, lang=args.lang)
    print(f"dashboard: {written} ({written.stat().st_size / 1e6:.2f} MB)")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from crmkit import datasets

    world = datasets.generate(n_customers=args.customers, seed=args.seed)
    for path in datasets.write(world, args.out, format=args.format):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crmkit", description="Fast, exact customer (CRM) analytics.")
    parser.add_argument("--version", action="version", version=f"crmkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the end-to-end analysis on generated sample data")
    demo.add_argument("--out", default="crmkit_demo", help="output directory (default: crmkit_demo)")
    demo.add_argument("--customers", type=int, default=5_000, help="number of customers to generate (default 5000)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.add_argument("--quiet", action="store_true", help="no progress display")
    demo.add_argument("--no-report", action="store_true", help="do not write report.html (HTML summary with charts)")
    demo.add_argument("--no-dashboard", action="store_true", help="do not write dashboard.html (interactive, offline)")
    demo.add_argument("--format", choices=["parquet", "csv"], default="parquet",
                      help="result tables as parquet (default) or as CSV for spreadsheets")
    demo.add_argument("--csv-raw", action="store_true",
                      help="with --format csv: write text cells exactly (by default a cell starting with =, +, -, @ "
                           "is prefixed with ' so that a spreadsheet cannot run it as a formula)")
    demo.set_defaults(func=_demo)

    run = sub.add_parser(
        "run",
        help="run the analysis on your own CSV/parquet files",
        description="Runs every analysis step whose input tables are given. Column names default to "
        "crmkit's (orders: order_id, customer_id, order_date, amount; events: customer_id, event, "
        "timestamp; items: order_id, product; customers: record_id); map yours with --col.",
    )
    run.add_argument("--orders", required=True, help="orders file (.csv, .parquet, .arrow)")
    run.add_argument("--customers", help="customer records file")
    run.add_argument("--items", help="order lines file")
    run.add_argument("--events", help="web/app event log file")
    run.add_argument("--campaigns", help="campaign contacts file (campaign_id, customer_id, group, sent_at[, cost])")
    run.add_argument(
        "--col",
        action="append",
        metavar="TABLE.COLUMN=YOURS",
        help="map your column onto crmkit's, e.g. --col orders.customer_id=cust_no (repeatable)",
    )
    run.add_argument("--as-of", help="analysis date, YYYY-MM-DD (default: the day after the last order)")
    run.add_argument("--out", required=True, help="output directory")
    run.add_argument("--quiet", action="store_true", help="no progress display")
    run.add_argument("--no-report", action="store_true", help="do not write report.html (HTML summary with charts)")
    run.add_argument("--alerts-webhook", metavar="URL", help="post the KPI alerts as JSON to this chat webhook")
    run.add_argument("--alerts-format", choices=["slack", "wecom", "dingtalk", "json"], default="slack",
                     help="webhook message shape (default slack; wecom/dingtalk: msgtype text)")
    run.add_argument("--fail-on-alert", action="store_true",
                     help=f"exit with code {ALERT_EXIT_CODE} when there are KPI alerts (errors exit with 2)")
    run.add_argument("--no-dashboard", action="store_true", help="do not write dashboard.html (interactive, offline)")
    run.add_argument("--format", choices=["parquet", "csv"], default="parquet",
                      help="result tables as parquet (default) or as CSV for spreadsheets")
    run.add_argument("--csv-raw", action="store_true",
                      help="with --format csv: write text cells exactly (by default a cell starting with =, +, -, @ "
                           "is prefixed with ' so that a spreadsheet cannot run it as a formula)")
    run.set_defaults(func=_run)

    dash = sub.add_parser(
        "dashboard",
        help="write the interactive offline dashboard (one HTML file) from your files",
        description="One self-contained HTML file: KPI tiles, sales trend, customer map, segments, funnel, "
        "cohorts, CLV and cross-sell rules, each drawn when its inputs are given. Names, phones and "
        "e-mails are masked unless --show-pii.",
    )
    dash.add_argument("--orders", required=True, help="orders file (.csv, .parquet, .arrow)")
    dash.add_argument("--customers", help="customer file (address, optional city, customer_id, name, phone, email)")
    dash.add_argument("--items", help="order lines file")
    dash.add_argument("--events", help="web/app event log file")
    dash.add_argument("--surveys", help="survey answers file (customer_id, date, score 0-10)")
    dash.add_argument("--campaigns", help="campaign results file")
    dash.add_argument("--col", action="append", metavar="TABLE.COLUMN=YOURS", help="map your column onto crmkit's")
    dash.add_argument("--out", default="dashboard.html", help="output file (default dashboard.html)")
    dash.add_argument("--title", help="page title")
    dash.add_argument("--freq", default="1mo", help="period of tiles and trends: 1w, 1mo, 1q (default 1mo)")
    dash.add_argument("--lang", choices=["auto", "zh", "en"], default="auto", help="label language (default auto)")
    dash.add_argument("--show-pii", action="store_true", help="show names, phones and e-mails unmasked")
    dash.set_defaults(func=_dashboard)

    gen = sub.add_parser("generate", help="write a generated CRM world as files")
    gen.add_argument("--customers", type=int, default=5_000)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    gen.add_argument("--out", required=True)
    gen.set_defaults(func=_generate)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `crmkit` command.

    >>> main(["generate", "--customers", "20", "--out", __import__("tempfile").mkdtemp()])  # doctest: +ELLIPSIS
    /.../customers.parquet
    ...
    0
    """
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except CrmError as e:
        print(f"crmkit: error: {e}", file=sys.stderr)
        return 2
