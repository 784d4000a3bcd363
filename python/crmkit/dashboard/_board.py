"""The section registry, the board sections draw from (inputs and results computed on
demand) and the page writer."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import polars as pl

from crmkit._validate import as_frame
from crmkit.dashboard._html import _SCRIPT, _STYLE, Html, _alt, _bundle, _chart_spec, _esc, _json_for_script
from crmkit.dashboard._labels import LABELS
from crmkit.dashboard._tables import _latest_complete, sales_forecast, sales_trend, tiles_from
from crmkit.errors import CrmError, SchemaError

#: At most this many individual customers appear anywhere in the file.
MAX_CUSTOMER_ROWS = 20


# ---------------------------------------------------------------------------
# the section registry
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One block of the dashboard.

    ``needs``: names of inputs ("orders", "customers", "items", "events", "surveys",
    "campaigns") or results (keys of :data:`PROVIDERS`, or of the ``results`` given to
    :func:`dashboard`) that must be present. ``build(board)`` returns the blocks: Altair
    charts and :class:`Html` fragments (already escaped).

    >>> import crmkit
    >>> churn = next(s for s in crmkit.dashboard.SECTIONS if s.id == "churn")
    >>> churn.needs, churn.title["en"]
    (('churn_scores',), 'Churn risk')
    """

    id: str
    title: Mapping[str, str]
    needs: tuple[str, ...]
    build: Callable[["Board"], list[Any]]


SECTIONS: list[Section] = []


def register_section(section: Section, *, before: Optional[str] = None) -> None:
    """Adds (or replaces, by id) a dashboard section; ``before`` names the section it
    goes in front of (default: the end).

    >>> from crmkit.dashboard import Section, register_section, SECTIONS
    >>> register_section(Section("hello", {"en": "Hello"}, ("orders",), lambda board: []), before="trend")
    >>> [s.id for s in SECTIONS][:4]
    ['kpi', 'alerts', 'hello', 'trend']
    >>> SECTIONS[:] = [s for s in SECTIONS if s.id != "hello"]
    """
    SECTIONS[:] = [s for s in SECTIONS if s.id != section.id]
    if before is None:
        SECTIONS.append(section)
        return
    ids = [s.id for s in SECTIONS]
    if before not in ids:
        raise CrmError(f"crmkit.dashboard.register_section: no section {before!r}; sections are {ids}")
    SECTIONS.insert(ids.index(before), section)


# ---------------------------------------------------------------------------
# data for the sections
# ---------------------------------------------------------------------------


@dataclass
class Board:
    """What a section's build function receives: the inputs, results computed on
    demand (and kept), the language and the settings."""

    orders: pl.DataFrame
    customers: Optional[pl.DataFrame]
    items: Optional[pl.DataFrame]
    events: Optional[pl.DataFrame]
    surveys: Optional[pl.DataFrame]
    campaigns: Optional[pl.DataFrame]
    freq: str
    lang: str
    mask_pii: bool
    as_of: Any = None
    results: dict[str, pl.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def t(self, key: str) -> str:
        return LABELS[self.lang].get(key, key)

    def has(self, name: str) -> bool:
        if name in ("orders", "customers", "items", "events", "surveys", "campaigns"):
            return getattr(self, name) is not None
        if name in self.results:
            return True
        provider = PROVIDERS.get(name)
        if provider is None or not all(self.has(n) for n in provider[0]):
            return False
        # An optional third element says whether the inputs have what the result needs.
        return len(provider) < 3 or bool(provider[2](self))

    def get(self, name: str) -> pl.DataFrame:
        if name in ("orders", "customers", "items", "events", "surveys", "campaigns"):
            value: Optional[pl.DataFrame] = getattr(self, name)
            if value is None:
                raise CrmError(f"crmkit.dashboard: no {name} table given")
            return value
        if name not in self.results:
            provider = PROVIDERS.get(name)
            if provider is None:
                raise CrmError(f"crmkit.dashboard: no result {name!r}")
            provider[1](self)
        if name not in self.results:
            raise CrmError(f"crmkit.dashboard: {name!r} could not be computed")
        return self.results[name]


def _step_provider(step_name: str) -> Callable[[Board], None]:
    """Runs the `crmkit demo` step of that name (the same analysis as report.html) and
    keeps its tables under the pipeline's keys (``segment_rfm``, ...)."""

    def run(board: Board) -> None:
        from crmkit._pipeline import STEPS, Context

        step = next(s for s in STEPS if s.name == step_name)
        ctx = Context(orders=board.orders, customers=_keyed_customers(board), items=board.items, events=board.events,
                      campaigns=board.campaigns, as_of=board.as_of)
        out = step.run(ctx)
        for key, table in out.tables.items():
            board.results.setdefault(f"{step_name}_{key}", table)

    return run


def _keyed_customers(board: Board) -> Optional[pl.DataFrame]:
    c = board.customers
    return c if c is not None and "customer_id" in c.columns else None


def _events_for_kpis(board: Board) -> Optional[pl.DataFrame]:
    e = board.events
    return e if e is not None and {"customer_id", "event", "timestamp"} <= set(e.columns) else None


def _kpi_values_provider(board: Board) -> None:
    """crmkit.kpi.compute per period (overall, and per channel when orders have one) and
    crmkit.kpi.alerts on it: every anomaly of the history, and those of the latest
    complete period (what `crmkit run` keeps as kpi_values / kpi_alert_history /
    kpi_alerts)."""
    from crmkit.kpi import alerts, compute

    o = board.orders
    try:
        values = compute(o, freq=board.freq, events=_events_for_kpis(board), as_of=board.as_of)
    except CrmError as exc:  # an events table kpi.compute cannot read: the order KPIs stand
        board.notes.append(f"KPIs without events: {exc}")
        values = compute(o, freq=board.freq, as_of=board.as_of)
    if "channel" in o.columns:
        per = compute(o, freq=board.freq, by="channel", as_of=board.as_of)
        values = pl.concat([values.with_columns(pl.lit(None, per.schema["channel"]).alias("channel")).select(per.columns), per],
                           how="diagonal_relaxed")
    history = alerts(values, freq=board.freq)
    latest = _latest_complete(values)
    board.results["kpi_values"] = values
    board.results["kpi_alert_history"] = history
    board.results["kpi_alerts"] = history.filter(pl.col("period_start") == latest)


def kpi_groups(table: pl.DataFrame) -> list[str]:
    """The group columns of a kpi.compute / kpi.alerts table (not its standard ones)."""
    from crmkit.kpi._alerts import BAND_COLUMNS
    from crmkit.kpi._compute import STANDARD_COLUMNS

    skip = set(STANDARD_COLUMNS) | set(BAND_COLUMNS) | {"freq", "is_alert"}
    return [c for c in table.columns if c not in skip]


def _overall(table: pl.DataFrame, freq: Optional[str] = None) -> pl.DataFrame:
    """The rows of no group (and of that frequency, when the table says)."""
    groups = kpi_groups(table)
    out = table.filter(*[pl.col(g).is_null() for g in groups]) if groups else table
    if freq is not None and "freq" in out.columns:
        out = out.filter(pl.col("freq") == freq)
    return out.drop(groups)


def _kpi_provider(board: Board) -> None:
    values = _overall(board.get("kpi_values"))
    history = board.results.get("kpi_alert_history")
    alerts = None if history is None else _overall(history, board.freq)
    board.results["kpi_tiles"], board.results["kpi_series"] = tiles_from(values, freq=board.freq, alerts=alerts)


def _trend_provider(board: Board) -> None:
    board.results["sales_trend"] = sales_trend(board.orders, freq=board.freq)


def _forecast_provider(board: Board) -> None:
    board.results["sales_forecast"] = sales_forecast(board.orders, freq=board.freq, as_of=board.as_of)


#: The provinces with the most revenue get a line of their own in the trend by region.
TOP_REGIONS = 5


def _region_forecast_provider(board: Board) -> None:
    per = board.get("geo_customers")
    o = board.orders
    keyed = per.select("customer_id", pl.col("province").fill_null("?").alias("_region")).with_columns(
        pl.col("customer_id").cast(o.schema["customer_id"], strict=False))
    orders = o.join(keyed, on="customer_id", how="left").with_columns(pl.col("_region").fill_null("?"))
    top = (orders.filter(pl.col("_region") != "?").group_by("_region").agg(pl.col("amount").sum())
           .sort("amount", descending=True).head(TOP_REGIONS)["_region"])
    other = "其他" if board.lang == "zh" else "other"
    orders = orders.with_columns(
        region=pl.when(pl.col("_region").is_in(top.implode())).then(pl.col("_region")).otherwise(pl.lit(other)))
    board.results["region_forecast"] = sales_forecast(orders, freq=board.freq, by="region", as_of=board.as_of)


def _campaign_contacts(board: Board) -> bool:
    c = board.campaigns
    return c is not None and {"campaign_id", "customer_id", "group", "sent_at"} <= set(c.columns)


def _geo_provider(board: Board) -> None:
    from crmkit import geo

    customers = board.get("customers")
    if "address" not in customers.columns:
        raise SchemaError("crmkit.dashboard: the customers table has no 'address' column for the map")
    city = "city" if "city" in customers.columns else None
    parsed = geo.parse(customers, by_address="address", city=city)
    measures = ["customers"]
    if "customer_id" in parsed.columns:
        # One row per customer (a CRM may hold several records of one person), then
        # their orders' revenue and, when known, their predicted CLV.
        per = parsed.filter(pl.col("province").is_not_null()).unique("customer_id", keep="first")
        per = per.select("customer_id", "province", "city").vstack(
            parsed.filter(~pl.col("customer_id").is_in(per["customer_id"].implode())).unique("customer_id")
            .select("customer_id", "province", "city")
        )
        board.results["geo_customers"] = per
        rev = board.orders.group_by("customer_id").agg(
            revenue=pl.col("amount").sum(), orders=pl.len()
        )
        keyed = per.join(rev.with_columns(pl.col("customer_id").cast(per.schema["customer_id"], strict=False)),
                         on="customer_id", how="left")
        keyed = keyed.with_columns(pl.col("revenue").fill_null(0.0), pl.col("orders").fill_null(0))
        if board.has("lifetime_value_customers"):
            try:
                clv = board.get("lifetime_value_customers")
                if "clv" in clv.columns:
                    keyed = keyed.join(
                        clv.select("customer_id", "clv").with_columns(pl.col("customer_id").cast(keyed.schema["customer_id"], strict=False)),
                        on="customer_id", how="left",
                    )
                    measures.append("clv")
            except Exception as exc:  # CLV is optional colouring; the map stands without it
                board.notes.append(f"map without CLV: {type(exc).__name__}: {exc}")
        parsed = keyed
        measures[1:1] = ["revenue"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prov = geo.summary(parsed, level="province", by_address="_none_", measures=measures, amount="revenue", order="_none_")
        cities = geo.summary(parsed, level="city", by_address="_none_", measures=measures, amount="revenue", order="_none_")
    board.results["geo_province"] = prov
    board.results["geo_city"] = cities


#: result name -> (what it needs, how to compute it on the board[, whether the inputs allow it])
PROVIDERS: dict[str, tuple[Any, ...]] = {
    "kpi_values": (("orders",), _kpi_values_provider),
    "kpi_alerts": (("orders",), _kpi_values_provider),
    "kpi_alert_history": (("orders",), _kpi_values_provider),
    "kpi_tiles": (("orders",), _kpi_provider),
    "kpi_series": (("orders",), _kpi_provider),
    "sales_trend": (("orders",), _trend_provider),
    "sales_forecast": (("orders",), _forecast_provider),
    "geo_customers": (("customers",), _geo_provider,
                      lambda b: _keyed_customers(b) is not None and "address" in b.customers.columns),
    "region_forecast": (("orders", "geo_customers"), _region_forecast_provider),
    "churn_scores": (("orders",), _step_provider("churn")),
    "experiments_campaigns": (("orders", "campaigns"), _step_provider("experiments"), _campaign_contacts),
    "geo_province": (("customers",), _geo_provider, lambda b: "address" in b.customers.columns),
    "geo_city": (("customers",), _geo_provider, lambda b: "address" in b.customers.columns),
    "segment_rfm": (("orders",), _step_provider("segment")),
    "segment_rfm_summary": (("orders",), _step_provider("segment")),
    "lifetime_value_customers": (("orders",), _step_provider("lifetime_value")),
    "behaviour_funnel": (("events",), _step_provider("behaviour")),
    "behaviour_cohorts": (("orders",), _step_provider("behaviour")),
    "basket_rules": (("items",), _step_provider("basket")),
}


def _guess_lang(b: Board) -> str:
    probes: list[pl.Series] = []
    if b.customers is not None:
        probes += [b.customers[c].cast(pl.String) for c in ("address", "name", "city") if c in b.customers.columns]
    if b.items is not None and "product" in b.items.columns:
        probes.append(b.items["product"].cast(pl.String))
    cjk = total = 0
    for s in probes:
        sample = s.drop_nulls().head(2000)
        total += sample.len()
        cjk += int(sample.str.contains(r"[\u4e00-\u9fff]").sum())
    return "zh" if total and cjk / total > 0.2 else "en"


def dashboard(
    orders: Union[pl.DataFrame, pl.LazyFrame],
    *,
    customers: Optional[Union[pl.DataFrame, pl.LazyFrame]] = None,
    items: Optional[Union[pl.DataFrame, pl.LazyFrame]] = None,
    events: Optional[Union[pl.DataFrame, pl.LazyFrame]] = None,
    surveys: Optional[Union[pl.DataFrame, pl.LazyFrame]] = None,
    campaigns: Optional[Union[pl.DataFrame, pl.LazyFrame]] = None,
    out: Union[str, Path] = "dashboard.html",
    title: Optional[str] = None,
    freq: str = "1mo",
    mask_pii: bool = True,
    lang: str = "auto",
    results: Optional[Mapping[str, pl.DataFrame]] = None,
    as_of: Any = None,
) -> Path:
    """Writes the interactive dashboard as one self-contained HTML file and returns its path.

    Inputs use crmkit's column names (orders: order_id, customer_id, order_date, amount,
    optional channel; customers: customer_id to link orders, address, optional city,
    name, phone, email; items: order_id, product; events: customer_id, event,
    timestamp[, session_id]). Each section is drawn when its inputs are present:

    - orders: KPI tiles (:func:`crmkit.kpi.compute` — value, change vs the previous
      period and the year before, sparkline — and a badge when
      :func:`crmkit.kpi.alerts` flags the latest complete period), KPI alerts (the
      flagged KPIs with severity, direction and reason, revenue against its expected
      band, the anomalies of the history), the sales trend by channel with an
      AutoETS forecast and its 80% band (:func:`sales_forecast`; by province too when
      customers carry ``customer_id`` and addresses), RFM segments, cohorts, CLV and
      churn risk (:class:`crmkit.churn.ChurnModel`: risk bands, value at stake, the
      at-risk customers with their reasons);
    - customers with addresses: the map (revenue and CLV colouring when customers
      carry ``customer_id``); events: the funnel; items: cross-sell rules; surveys:
      the Net Promoter Score (score 0-10, optional date);
    - campaigns: conversion per campaign and group with 95% Wilson intervals and the
      lift over the control group (campaign, group, customers, conversions — or one
      row per customer with 0/1 ``converted``); a contact table (campaign_id,
      customer_id, group, sent_at) also gives the experiment results of
      :func:`crmkit.experiment.campaign` (incremental response with intervals,
      incremental revenue, ROI).

    ``results``: tables already computed by ``crmkit run`` (its ``segment_rfm``,
    ``behaviour_funnel``, ``kpi_values``, ``kpi_alerts``, ``churn_scores``,
    ``experiments_campaigns``, ... keys) are used instead of recomputing.

    ``freq``: the period of tiles and trends (polars duration: '1w', '1mo', '1q').
    ``lang``: 'zh', 'en', or 'auto' (Chinese when the data is). ``mask_pii``: names,
    phones and e-mails of the (at most :data:`MAX_CUSTOMER_ROWS`) customers shown are
    masked unless False. The page needs no network: the chart library is inlined.

    >>> import tempfile, pathlib, crmkit
    >>> w = crmkit.datasets.generate(n_customers=300, seed=5)
    >>> p = crmkit.dashboard(w.orders, items=w.items, out=pathlib.Path(tempfile.mkdtemp()) / "x.html", lang="zh")
    >>> page = p.read_text(encoding="utf-8")
    >>> "销售趋势" in page, "交叉销售规则" in page, "http://" in page.split("<script")[0]
    (True, True, False)
    """
    if lang not in ("auto", "zh", "en"):
        raise CrmError(f"crmkit.dashboard: lang must be 'auto', 'zh' or 'en', found {lang!r}")
    if Path(out).is_dir():
        raise CrmError(f"crmkit.dashboard: argument 'out' must be the path of an HTML file, found the directory {str(out)!r}; "
                       f"pass for example out={str(Path(out) / 'dashboard.html')!r}")
    if not isinstance(freq, str) or not re.fullmatch(r"\d+(d|w|mo|q|y)", freq):
        raise CrmError(f"crmkit.dashboard: freq must be a polars duration such as '1w', '1mo', '1q', found {freq!r}")

    def frame(x: Any, name: str) -> Optional[pl.DataFrame]:
        return None if x is None else as_frame(x, argument=name)

    o = as_frame(orders, argument="orders")
    for c in ("customer_id", "order_date", "amount"):
        if c not in o.columns:
            raise SchemaError(f"crmkit.dashboard: orders need column '{c}'; the table has {o.columns}")
    given = dict(results or {})
    if freq != "1mo":  # `crmkit run` keeps monthly KPIs: other periods are computed here
        for key in ("kpi_values", "kpi_alerts", "kpi_alert_history"):
            given.pop(key, None)
    board = Board(o, frame(customers, "customers"), frame(items, "items"), frame(events, "events"),
                  frame(surveys, "surveys"), frame(campaigns, "campaigns"), freq, "en", bool(mask_pii), as_of, given)
    board.lang = _guess_lang(board) if lang == "auto" else lang
    alt = _alt()
    bundle, vl = _bundle()

    parts: list[str] = []
    specs: list[tuple[str, dict[str, Any]]] = []
    shown: list[Section] = []
    skipped: list[str] = []
    for section in SECTIONS:
        name = section.title.get(board.lang) or section.title.get("en") or section.id
        missing = [n for n in section.needs if not board.has(n)]
        if missing:
            skipped.append(f"{name} ({', '.join(missing)})")
            continue
        body: list[str] = []
        try:
            blocks = section.build(board)
            charts: list[str] = []
            for block in blocks:
                if isinstance(block, Html):
                    body.append(block.markup)
                else:
                    cid = f"chart-{len(specs) + 1}"
                    specs.append((cid, _chart_spec(block)))
                    body.append(f'<div class="chart" id="{cid}"></div>')
            del charts
        except Exception as exc:  # one failing section must not cost the dashboard
            body = [f'<p class="failed">{_esc(board.t("section_failed"))}: {_esc(type(exc).__name__)}: {_esc(exc)}</p>']
        shown.append(section)
        parts.append(f'<section class="card" id="sec-{_esc(section.id)}"><h2>{_esc(name)}</h2>{"".join(body)}</section>')

    from crmkit import __version__

    heading = title or ("客户分析看板" if board.lang == "zh" else "Customer dashboard")
    span = o.select(pl.col("order_date").min().cast(pl.Date).alias("a"), pl.col("order_date").max().cast(pl.Date).alias("b")).row(0)
    meta = (f"crmkit {__version__} · {board.t('generated')} {_dt.date.today()} · {span[0]} – {span[1]} · "
            f"{o.height:,} {board.t('orders')} · {board.t('pii_masked') if mask_pii else board.t('pii_shown')}")
    nav = "".join(f'<a href="#sec-{_esc(s.id)}">{_esc(s.title.get(board.lang) or s.id)}</a>' for s in shown)
    footer = ""
    if skipped:
        footer = f"<footer>{_esc(board.t('not_shown'))}: {_esc('; '.join(skipped))}</footer>"
    if board.notes:
        footer += f"<footer>{_esc('; '.join(board.notes))}</footer>"
    safe_bundle = bundle.replace("</script", "<\\/script")
    spec_tags = "".join(
        f'<script type="application/json" data-chart="{cid}">{_json_for_script(spec)}</script>' for cid, spec in specs
    )
    page = (
        f'<!DOCTYPE html><html lang="{"zh-CN" if board.lang == "zh" else "en"}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
        f"style-src 'unsafe-inline'; img-src data: blob:; font-src data:\">"
        f"<title>{_esc(heading)}</title><style>{_STYLE}</style>"
        f"<script>/* Vega, Vega-Lite {vl} and vega-embed, from vl-convert-python */\n{safe_bundle}</script>"
        f"</head><body><header><h1>{_esc(heading)}</h1><p>{_esc(meta)}</p></header><nav>{nav}</nav>"
        f"<main>{''.join(parts)}</main>{footer}{spec_tags}<script>{_SCRIPT}</script></body></html>"
    )
    del alt
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
