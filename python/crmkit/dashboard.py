"""One self-contained, interactive HTML dashboard of a CRM analysis: KPI tiles, sales
trends, where customers are (a province tile map, city bubbles, province bars),
segments, funnel, cohorts, lifetime value and cross-sell rules — a file to e-mail that
opens offline.

Charts are Vega-Lite specifications made with Altair; the Vega JavaScript is inlined
once from the ``vl-convert-python`` package (the pinned ``crmkit[dashboard]`` extra), so
the file makes no request of any kind. Only aggregates and a bounded number of
customer rows are embedded, with names, phones and e-mails masked unless
``mask_pii=False``. Everything from the data is escaped: a customer called
``<script>…`` shows as that text.

The page is built from a *section registry* (:data:`SECTIONS`): each section names
the inputs or results it needs and a function that returns its charts and HTML;
sections whose inputs are absent are listed as not shown. A new analysis adds one
:func:`register_section` call.

>>> import tempfile, pathlib, crmkit
>>> world = crmkit.datasets.generate(n_customers=300, seed=2)
>>> path = crmkit.dashboard(world.orders, out=pathlib.Path(tempfile.mkdtemp()) / "d.html", lang="en")
>>> page = path.read_text(encoding="utf-8")
>>> "<script src" in page, 'id="sec-kpi"' in page, 'id="sec-trend"' in page
(False, True, True)
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import polars as pl

from crmkit._validate import as_frame
from crmkit.errors import CrmError, SchemaError

__all__ = [
    "dashboard", "Section", "SECTIONS", "register_section", "kpi_tiles", "sales_trend", "mask_name", "mask_phone",
    "mask_email", "MAX_CUSTOMER_ROWS",
]

#: At most this many individual customers appear anywhere in the file.
MAX_CUSTOMER_ROWS = 20
#: CJK-capable fonts first, so Chinese labels render wherever one is installed.
FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", system-ui, sans-serif'

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "revenue": "Revenue", "orders": "Orders", "active_customers": "Active customers", "aov": "Average order value",
        "vs_prev": "vs previous period", "vs_year": "vs a year before", "period": "Period", "channel": "Channel",
        "customers": "Customers", "province": "Province", "city": "City", "share": "Share", "segment": "Segment",
        "r_score": "Recency score", "f_score": "Frequency score", "monetary": "Mean monetary", "step": "Step",
        "users": "Users", "conversion": "Conversion", "drop_off_rate": "Drop-off", "bottleneck": "Bottleneck",
        "cohort": "Cohort", "period_index": "Periods since first order", "retention": "Retention", "clv": "Predicted CLV",
        "count": "Customers", "top_customers": "Top customers by predicted CLV", "customer_id": "Customer",
        "name": "Name", "phone": "Phone", "email": "E-mail", "antecedents": "If bought", "consequents": "Also buys",
        "support": "Support", "confidence": "Confidence", "lift": "Lift", "not_shown": "Not shown",
        "metric": "Colour by ", "unknown_region": "no known province", "unusual": "unusual",
        "generated": "Generated", "pii_masked": "names, phones and e-mails masked",
        "pii_shown": "names, phones and e-mails NOT masked", "section_failed": "This section could not be drawn",
        "p_alive": "P(alive)", "frequency": "Orders", "last_complete": "last complete period",
        "click_legend": "click a legend entry to isolate it; drag to pan, wheel to zoom",
        "click_segment": "click a segment to filter the grid", "sort_hint": "click a column header to sort",
        "all": "All", "value": "Value", "avg_clv": "Mean CLV", "campaign": "Campaign", "group": "Group",
        "conversions": "Conversions", "lift_vs_control": "Lift vs control", "score": "Score", "answers": "answers",
    },
    "zh": {
        "revenue": "销售额", "orders": "订单数", "active_customers": "活跃客户", "aov": "客单价",
        "vs_prev": "环比", "vs_year": "同比", "period": "期间", "channel": "渠道",
        "customers": "客户数", "province": "省份", "city": "城市", "share": "占比", "segment": "客群",
        "r_score": "最近购买得分 (R)", "f_score": "购买频次得分 (F)", "monetary": "平均消费额", "step": "步骤",
        "users": "用户数", "conversion": "转化率", "drop_off_rate": "流失率", "bottleneck": "瓶颈",
        "cohort": "同期群", "period_index": "首单后的期数", "retention": "留存率", "clv": "预测客户终身价值",
        "count": "客户数", "top_customers": "预测终身价值最高的客户", "customer_id": "客户",
        "name": "姓名", "phone": "电话", "email": "邮箱", "antecedents": "购买了", "consequents": "也会购买",
        "support": "支持度", "confidence": "置信度", "lift": "提升度", "not_shown": "未显示",
        "metric": "着色指标 ", "unknown_region": "省份未知", "unusual": "异常",
        "generated": "生成于", "pii_masked": "姓名、电话、邮箱已脱敏",
        "pii_shown": "姓名、电话、邮箱未脱敏", "section_failed": "本节无法绘制",
        "p_alive": "存活概率", "frequency": "订单数", "last_complete": "最近完整期间",
        "click_legend": "点击图例可单独查看；拖动平移，滚轮缩放",
        "click_segment": "点击客群可筛选网格", "sort_hint": "点击列标题排序",
        "all": "全部", "value": "数值", "avg_clv": "平均终身价值", "campaign": "活动", "group": "分组",
        "conversions": "转化数", "lift_vs_control": "相对对照组提升", "score": "评分", "answers": "份答卷",
    },
}

TITLES: dict[str, dict[str, str]] = {
    "kpi": {"en": "Key figures", "zh": "核心指标"},
    "trend": {"en": "Sales trend", "zh": "销售趋势"},
    "geo": {"en": "Where customers are", "zh": "客户地域分布"},
    "segments": {"en": "Customer segments (RFM)", "zh": "客户分群 (RFM)"},
    "funnel": {"en": "Conversion funnel", "zh": "转化漏斗"},
    "cohorts": {"en": "Cohort retention", "zh": "同期群留存"},
    "clv": {"en": "Customer lifetime value", "zh": "客户终身价值"},
    "rules": {"en": "Cross-sell rules", "zh": "交叉销售规则"},
    "surveys": {"en": "Customer satisfaction (NPS)", "zh": "客户满意度 (NPS)"},
    "campaigns": {"en": "Campaign results", "zh": "营销活动效果"},
}


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
    """

    id: str
    title: Mapping[str, str]
    needs: tuple[str, ...]
    build: Callable[["Board"], list[Any]]


@dataclass(frozen=True)
class Html:
    """An HTML fragment built with escaped data (never raw data)."""

    markup: str


SECTIONS: list[Section] = []


def register_section(section: Section, *, before: Optional[str] = None) -> None:
    """Adds (or replaces, by id) a dashboard section; ``before`` names the section it
    goes in front of (default: the end).

    >>> from crmkit.dashboard import Section, register_section, SECTIONS
    >>> register_section(Section("hello", {"en": "Hello"}, ("orders",), lambda board: []), before="trend")
    >>> [s.id for s in SECTIONS][:3]
    ['kpi', 'hello', 'trend']
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
        return provider is not None and all(self.has(n) for n in provider[0])

    def get(self, name: str) -> pl.DataFrame:
        if name in ("orders", "customers", "items", "events", "surveys", "campaigns"):
            value = getattr(self, name)
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
                      as_of=board.as_of)
        out = step.run(ctx)
        for key, table in out.tables.items():
            board.results.setdefault(f"{step_name}_{key}", table)

    return run


def _keyed_customers(board: Board) -> Optional[pl.DataFrame]:
    c = board.customers
    return c if c is not None and "customer_id" in c.columns else None


def _kpi_provider(board: Board) -> None:
    board.results["kpi_tiles"], board.results["kpi_series"] = kpi_tiles(board.orders, freq=board.freq)


def _trend_provider(board: Board) -> None:
    board.results["sales_trend"] = sales_trend(board.orders, freq=board.freq)


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


#: result name -> (what it needs, how to compute it on the board)
PROVIDERS: dict[str, tuple[tuple[str, ...], Callable[[Board], None]]] = {
    "kpi_tiles": (("orders",), _kpi_provider),
    "kpi_series": (("orders",), _kpi_provider),
    "sales_trend": (("orders",), _trend_provider),
    "geo_province": (("customers",), _geo_provider),
    "geo_city": (("customers",), _geo_provider),
    "segment_rfm": (("orders",), _step_provider("segment")),
    "segment_rfm_summary": (("orders",), _step_provider("segment")),
    "lifetime_value_customers": (("orders",), _step_provider("lifetime_value")),
    "behaviour_funnel": (("events",), _step_provider("behaviour")),
    "behaviour_cohorts": (("orders",), _step_provider("behaviour")),
    "basket_rules": (("items",), _step_provider("basket")),
}


# ---------------------------------------------------------------------------
# KPI tiles and the sales trend (polars; to be served by crmkit.kpi when it lands)
# ---------------------------------------------------------------------------


def _periods(orders: pl.DataFrame, freq: str, date: str) -> pl.DataFrame:
    d = pl.col(date)
    if orders.schema[date] == pl.Date:
        d = d.cast(pl.Datetime("us"))
    return orders.with_columns(_period=d.dt.truncate(freq).cast(pl.Date))


def kpi_tiles(
    orders: Union[pl.DataFrame, pl.LazyFrame],
    *,
    freq: str = "1mo",
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    order: str = "order_id",
    spark: int = 24,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Revenue, orders, active customers and average order value per period, and the
    tiles: the last *complete* period's value, its change vs the previous period and
    vs the same period a year before, and an ``alert`` (+1/-1) when it lies more than
    3 standard deviations from the 12 periods before it (at least 6 needed).

    Returns (tiles, series): tiles has metric, period, value, previous, change_prev,
    year_ago, change_year, alert; series has metric, period, value (the last ``spark``
    complete periods, for sparklines).

    >>> import polars as pl, datetime as dt
    >>> from crmkit.dashboard import kpi_tiles
    >>> o = pl.DataFrame({"customer_id": [1, 2, 1, 3], "order_id": [1, 2, 3, 4], "amount": [10.0, 20.0, 30.0, 5.0],
    ...                   "order_date": [dt.date(2024, 1, 5), dt.date(2024, 1, 9), dt.date(2024, 2, 3), dt.date(2024, 3, 1)]})
    >>> tiles, _ = kpi_tiles(o)
    >>> tiles.select("metric", "period", "value", "previous", "change_prev").rows()[:2]
    [('revenue', datetime.date(2024, 2, 1), 30.0, 30.0, 0.0), ('orders', datetime.date(2024, 2, 1), 1.0, 2.0, -0.5)]
    """
    df = as_frame(orders, argument="orders")
    for c in (customer, date, amount):
        if c not in df.columns:
            raise SchemaError(f"crmkit.dashboard.kpi_tiles: column '{c}' not found in orders; it has {df.columns}")
    n_orders = pl.col(order).n_unique() if order in df.columns else pl.len()
    p = _periods(df, freq, date)
    per = (
        p.group_by("_period")
        .agg(
            revenue=pl.col(amount).sum().cast(pl.Float64),
            orders=n_orders.cast(pl.Float64),
            active_customers=pl.col(customer).n_unique().cast(pl.Float64),
        )
        .with_columns(aov=pl.col("revenue") / pl.col("orders"))
        .sort("_period")
    )
    if per.height == 0:
        empty = pl.DataFrame(schema={"metric": pl.String, "period": pl.Date, "value": pl.Float64})
        return empty, empty
    # The last period is complete only when the data reaches its last day.
    last_day = p.select(pl.col(date).max().cast(pl.Date)).item()
    last_start = per["_period"][-1]
    next_start = pl.select(pl.lit(last_start).cast(pl.Datetime("us")).dt.offset_by(freq).cast(pl.Date)).item()
    if last_day < next_start - _dt.timedelta(days=1) and per.height > 1:
        per = per.head(per.height - 1)
    metrics = ["revenue", "orders", "active_customers", "aov"]
    long = per.unpivot(index="_period", on=metrics, variable_name="metric", value_name="value").rename({"_period": "period"})
    rows = []
    for m in metrics:
        s = long.filter(pl.col("metric") == m).sort("period")
        values = s["value"].to_list()
        periods = s["period"].to_list()
        value, period = values[-1], periods[-1]
        previous = values[-2] if len(values) > 1 else None
        year_start = pl.select(pl.lit(period).cast(pl.Datetime("us")).dt.offset_by("-1y").dt.truncate(freq).cast(pl.Date)).item()
        year_ago = next((v for pp, v in zip(periods, values) if pp == year_start), None)
        window = values[-13:-1]
        alert = 0
        if len(window) >= 6:
            mu = sum(window) / len(window)
            sd = math.sqrt(sum((x - mu) ** 2 for x in window) / (len(window) - 1))
            # A constant history broken at all is unusual too.
            if (sd > 0 and abs(value - mu) > 3 * sd) or (sd == 0 and value != mu):
                alert = 1 if value > mu else -1
        rows.append({
            "metric": m, "period": period, "value": value, "previous": previous,
            "change_prev": (value / previous - 1) if previous else None,
            "year_ago": year_ago, "change_year": (value / year_ago - 1) if year_ago else None, "alert": alert,
        })
    tiles = pl.DataFrame(rows, schema={
        "metric": pl.String, "period": pl.Date, "value": pl.Float64, "previous": pl.Float64, "change_prev": pl.Float64,
        "year_ago": pl.Float64, "change_year": pl.Float64, "alert": pl.Int8,
    })
    series = long.sort("metric", "period").group_by("metric", maintain_order=True).tail(spark)
    return tiles, series


def sales_trend(
    orders: Union[pl.DataFrame, pl.LazyFrame],
    *,
    freq: str = "1mo",
    by: Optional[str] = "channel",
    date: str = "order_date",
    amount: str = "amount",
) -> pl.DataFrame:
    """Revenue and orders per period and ``by`` group (all orders when ``by`` is None
    or absent): period, group, revenue, orders.

    >>> import polars as pl, datetime as dt
    >>> from crmkit.dashboard import sales_trend
    >>> o = pl.DataFrame({"order_date": [dt.date(2024, 1, 5), dt.date(2024, 1, 9), dt.date(2024, 2, 3)],
    ...                   "amount": [10.0, 20.0, 30.0], "channel": ["web", "app", "web"]})
    >>> sales_trend(o).rows()
    [(datetime.date(2024, 1, 1), 'app', 20.0, 1), (datetime.date(2024, 1, 1), 'web', 10.0, 1), (datetime.date(2024, 2, 1), 'web', 30.0, 1)]
    """
    df = as_frame(orders, argument="orders")
    group = pl.col(by).cast(pl.String).fill_null("?") if by and by in df.columns else pl.lit("all")
    return (
        _periods(df, freq, date)
        .group_by("_period", group.alias("group"))
        .agg(revenue=pl.col(amount).sum().cast(pl.Float64), orders=pl.len().cast(pl.Int64))
        .rename({"_period": "period"})
        .sort("period", "group")
    )


# ---------------------------------------------------------------------------
# PII masking (polars expressions, no Python loop)
# ---------------------------------------------------------------------------


def mask_name(col: Union[str, pl.Expr]) -> pl.Expr:
    """The first character, the rest as ``*`` (张伟 → 张*, John Smith → J*** S****).

    >>> import polars as pl
    >>> pl.select(mask_name(pl.lit(pl.Series(["张伟", "John Smith", None])))).to_series().to_list()
    ['张*', 'J*** S****', None]
    """
    e = (pl.col(col) if isinstance(col, str) else col).cast(pl.String)
    return e.str.split(" ").list.eval(
        pl.element().str.slice(0, 1) + pl.element().str.slice(1).str.replace_all(".", "*")
    ).list.join(" ")


def mask_phone(col: Union[str, pl.Expr]) -> pl.Expr:
    """Every digit but the last four as ``*``.

    >>> import polars as pl
    >>> pl.select(mask_phone(pl.lit(pl.Series(["+8613812345678", "12"])))).to_series().to_list()
    ['+*********5678', '12']
    """
    e = (pl.col(col) if isinstance(col, str) else col).cast(pl.String)
    n = e.str.len_chars()
    return pl.when(n > 4).then(e.str.slice(0, n - 4).str.replace_all(r"\d", "*") + e.str.slice(n - 4)).otherwise(e)


def mask_email(col: Union[str, pl.Expr]) -> pl.Expr:
    """The first character of the local part, then ``***@`` and the domain.

    >>> import polars as pl
    >>> pl.select(mask_email(pl.lit(pl.Series(["li.na@qq.com", "x"])))).to_series().to_list()
    ['l***@qq.com', '***']
    """
    e = (pl.col(col) if isinstance(col, str) else col).cast(pl.String)
    return pl.when(e.str.contains("@")).then(
        e.str.slice(0, 1) + pl.lit("***@") + e.str.split("@").list.last()
    ).otherwise(pl.lit("***"))


# ---------------------------------------------------------------------------
# chart helpers
# ---------------------------------------------------------------------------


def _alt() -> Any:
    try:
        import altair as alt
    except ImportError:
        raise CrmError(
            "crmkit.dashboard needs Altair and vl-convert: pip install 'crmkit[dashboard]'"
        ) from None
    return alt


def _values(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows for a Vega dataset: dates as ISO strings, non-finite floats as null."""
    conv: list[pl.Expr] = []
    for c, t in df.schema.items():
        if t == pl.Date or isinstance(t, pl.Datetime):
            conv.append(pl.col(c).cast(pl.String))
        elif isinstance(t, pl.Duration):
            conv.append((pl.col(c).dt.total_microseconds() / 86_400_000_000).alias(c))  # days
        elif t in (pl.Float32, pl.Float64):
            conv.append(pl.when(pl.col(c).is_finite()).then(pl.col(c)).otherwise(None).alias(c))
        elif isinstance(t, (pl.Categorical, pl.Enum)):
            conv.append(pl.col(c).cast(pl.String))
        elif isinstance(t, pl.Decimal):
            conv.append(pl.col(c).cast(pl.Float64))
        elif isinstance(t, (pl.List, pl.Array)):
            conv.append(pl.col(c).cast(pl.List(pl.String)).list.join(" + "))
        elif not (t.is_numeric() or t in (pl.String, pl.Boolean, pl.Null)):
            conv.append(pl.col(c).cast(pl.String))
    return df.with_columns(conv).to_dicts() if conv else df.to_dicts()


def _fmt(v: Optional[float], kind: str = "number") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if kind == "pct":
        return f"{v:+.1%}"
    if abs(v) >= 1e8:
        return f"{v / 1e6:,.1f}M"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def _esc(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _table(df: pl.DataFrame, headers: Sequence[str], *, sortable: bool = True, numeric: Sequence[str] = ()) -> Html:
    cls = "data sortable" if sortable else "data"
    head = "".join(f'<th data-col="{i}">{_esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in df.iter_rows():
        cells = []
        for c, v in zip(df.columns, row):
            if isinstance(v, float):
                text = f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"
                cells.append(f'<td class="num" data-v="{v!r}">{_esc(text)}</td>')
            elif isinstance(v, list):
                cells.append(f"<td>{_esc(' + '.join(map(str, v)))}</td>")
            else:
                cells.append(f'<td{" class=num" if c in numeric else ""}>{_esc(v)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return Html(f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


# ---------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------


def _kpi_section(b: Board) -> list[Any]:
    alt = _alt()
    tiles = b.get("kpi_tiles")
    series = b.get("kpi_series")
    out: list[Any] = []
    period = tiles["period"][0] if tiles.height else None
    out.append(Html(f'<p class="hint">{_esc(b.t("last_complete"))}: {_esc(period)}</p><div class="tiles">'))
    for row in tiles.iter_rows(named=True):
        m = row["metric"]
        badge = ""
        if row["alert"]:
            arrow = "▲" if row["alert"] > 0 else "▼"
            badge = f'<span class="badge" title="&gt; 3σ from the 12 periods before">{arrow} {_esc(b.t("unusual"))}</span>'

        def change(v: Optional[float], label: str) -> str:
            cls = "flat" if v is None else ("up" if v > 0 else "down" if v < 0 else "flat")
            return f'<div class="chg {cls}">{_esc(_fmt(v, "pct"))} <span>{_esc(label)}</span></div>'

        out.append(Html(
            f'<div class="tile" data-metric="{_esc(m)}"><div class="tlabel">{_esc(b.t(m))}{badge}</div>'
            f'<div class="tvalue">{_esc(_fmt(row["value"]))}</div>'
            f'{change(row["change_prev"], b.t("vs_prev"))}{change(row["change_year"], b.t("vs_year"))}'
        ))
        s = series.filter(pl.col("metric") == m).select("period", "value")
        spark = (
            alt.Chart(alt.Data(values=_values(s)))
            .mark_area(line={"color": "#3b6fb6"}, color="#dce7f6")
            .encode(
                x=alt.X("utcyearmonthdate(period):T", axis=None),
                y=alt.Y("value:Q", axis=None, scale=alt.Scale(zero=False)),
                tooltip=[alt.Tooltip("utcyearmonthdate(period):T", title=b.t("period"), format="%Y-%m-%d"),
                         alt.Tooltip("value:Q", title=b.t(m), format=",.2f")],
            )
            .properties(width=190, height=44)
        )
        out.append(spark)
        out.append(Html("</div>"))
    out.append(Html("</div>"))
    return out


def _trend_section(b: Board) -> list[Any]:
    alt = _alt()
    t = b.get("sales_trend")
    pick = alt.selection_point(fields=["group"], bind="legend")
    zoom = alt.selection_interval(encodings=["x"], bind="scales")
    chart = (
        alt.Chart(alt.Data(values=_values(t)))
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x=alt.X("utcyearmonthdate(period):T", title=b.t("period"), axis=alt.Axis(format="%Y-%m")),
            y=alt.Y("revenue:Q", title=b.t("revenue")),
            color=alt.Color("group:N", title=b.t("channel")),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.12)),
            tooltip=[alt.Tooltip("utcyearmonthdate(period):T", title=b.t("period"), format="%Y-%m-%d"),
                     alt.Tooltip("group:N", title=b.t("channel")),
                     alt.Tooltip("revenue:Q", title=b.t("revenue"), format=",.0f"),
                     alt.Tooltip("orders:Q", title=b.t("orders"), format=",")],
        )
        .add_params(pick, zoom)
        .properties(width=900, height=280)
    )
    return [Html(f'<p class="hint">{_esc(b.t("click_legend"))}</p>'), chart]


def _geo_section(b: Board) -> list[Any]:
    alt = _alt()
    prov = b.get("geo_province")
    cities = b.get("geo_city")
    from crmkit import geo

    measures = [m for m in ("customers", "revenue", "clv") if m in prov.columns]
    known = prov.filter(pl.col("province").is_not_null())
    tiles = geo.province_tiles(b.lang).join(known.drop("label", "row", "col", "adcode", "longitude", "latitude"),
                                             on="province", how="left")
    tiles = tiles.with_columns([pl.col(m).fill_null(0) for m in measures])
    names = {m: b.t("avg_clv") if m == "clv" else b.t(m) for m in measures}
    metric = alt.param(
        name="metric", value=measures[0],
        bind=alt.binding_select(options=measures, labels=[names[m] for m in measures], name=b.t("metric")),
    )
    base = alt.Chart(alt.Data(values=_values(tiles))).transform_calculate(value="datum[metric]")
    tip = [alt.Tooltip("province:N", title=b.t("province"))] + [
        alt.Tooltip(f"{m}:Q", title=names[m], format=",.0f") for m in measures
    ]
    squares = base.mark_rect(stroke="white", strokeWidth=2, cornerRadius=3).encode(
        x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None),
        color=alt.Color("value:Q", title=b.t("value"), scale=alt.Scale(scheme="blues")),
        tooltip=tip,
    )
    labels = base.mark_text(fontSize=11, font=FONT).encode(
        x=alt.X("col:O"), y=alt.Y("row:O"), text="label:N",
        color=alt.condition("datum.value > 0", alt.value("#10243e"), alt.value("#8a94a6")),
        tooltip=tip,
    )
    tile_map = (squares + labels).properties(width=430, height=380, title=b.t("province"))
    top = known.head(15)
    bars = (
        alt.Chart(alt.Data(values=_values(top.select("province", *measures))))
        .transform_calculate(value="datum[metric]")
        .mark_bar(color="#3b6fb6")
        .encode(
            y=alt.Y("province:N", sort="-x", title=None),
            x=alt.X("value:Q", title=b.t("value")),
            tooltip=tip,
        )
        .properties(width=330, height=380)
    )
    map_and_bars = alt.hconcat(tile_map, bars).add_params(metric).resolve_scale(color="independent")
    city = cities.filter(pl.col("city").is_not_null() & pl.col("longitude").is_not_null()).head(150)
    ctip = [alt.Tooltip("city:N", title=b.t("city")), alt.Tooltip("province:N", title=b.t("province"))] + [
        alt.Tooltip(f"{m}:Q", title=names[m], format=",.0f") for m in measures
    ]
    anchors = geo.province_tiles(b.lang).select("label", "longitude", "latitude")
    proj = "mercator"
    context = alt.Chart(alt.Data(values=_values(anchors))).mark_text(color="#b8c0cc", fontSize=10, font=FONT).encode(
        longitude="longitude:Q", latitude="latitude:Q", text="label:N"
    ).project(type=proj)
    bubbles = alt.Chart(alt.Data(values=_values(city.select("city", "province", "longitude", "latitude", *measures)))).mark_circle(
        color="#d9534f", opacity=0.6, stroke="white", strokeWidth=0.5
    ).encode(
        longitude="longitude:Q", latitude="latitude:Q",
        size=alt.Size(f"{measures[0]}:Q", title=names[measures[0]], scale=alt.Scale(range=[20, 1600])),
        tooltip=ctip,
    ).project(type=proj)
    bubble_map = (context + bubbles).properties(width=430, height=380, title=b.t("city"))
    unknown = prov.filter(pl.col("province").is_null())
    note = ""
    if unknown.height:
        n = unknown[measures[0]][0]
        note = f'<p class="hint">{_esc(b.t("unknown_region"))}: {_esc(f"{n:,}")} {_esc(b.t("customers"))}</p>'
    return [map_and_bars, bubble_map, Html(note)]


def _segments_section(b: Board) -> list[Any]:
    alt = _alt()
    rfm = b.get("segment_rfm")
    summary = b.get("segment_rfm_summary")
    grid = (
        rfm.group_by("r_score", "f_score", pl.col("segment").cast(pl.String))
        .agg(count=pl.len(), monetary=pl.col("monetary").mean())
    )
    pick = alt.selection_point(fields=["segment"])
    heat = (
        alt.Chart(alt.Data(values=_values(grid)))
        .transform_filter(pick)
        .transform_aggregate(count="sum(count)", groupby=["r_score", "f_score"])
        .mark_rect()
        .encode(
            x=alt.X("f_score:O", title=b.t("f_score")),
            y=alt.Y("r_score:O", title=b.t("r_score"), sort="descending"),
            color=alt.Color("count:Q", title=b.t("count"), scale=alt.Scale(scheme="oranges")),
            tooltip=[alt.Tooltip("r_score:O", title="R"), alt.Tooltip("f_score:O", title="F"),
                     alt.Tooltip("count:Q", title=b.t("count"), format=",")],
        )
        .properties(width=300, height=300)
    )
    seg = summary.with_columns(pl.col("segment").cast(pl.String))
    sizes = (
        alt.Chart(alt.Data(values=_values(seg)))
        .mark_bar()
        .encode(
            y=alt.Y("segment:N", sort="-x", title=b.t("segment")),
            x=alt.X("customers:Q", title=b.t("customers")),
            color=alt.condition(pick, alt.value("#3b6fb6"), alt.value("#c9d3e0")),
            tooltip=[alt.Tooltip("segment:N", title=b.t("segment")),
                     alt.Tooltip("customers:Q", title=b.t("customers"), format=","),
                     alt.Tooltip("share:Q", title=b.t("share"), format=".1%"),
                     alt.Tooltip("revenue:Q", title=b.t("revenue"), format=",.0f"),
                     alt.Tooltip("avg_order_value:Q", title=b.t("aov"), format=",.2f")],
        )
        .add_params(pick)
        .properties(width=260, height=300)
    )
    value = (
        alt.Chart(alt.Data(values=_values(seg)))
        .mark_bar(color="#5a9e6f")
        .encode(
            y=alt.Y("segment:N", sort="-x", title=None),
            x=alt.X("revenue:Q", title=b.t("revenue")),
            tooltip=[alt.Tooltip("segment:N", title=b.t("segment")),
                     alt.Tooltip("revenue:Q", title=b.t("revenue"), format=",.0f")],
        )
        .properties(width=220, height=300)
    )
    return [Html(f'<p class="hint">{_esc(b.t("click_segment"))}</p>'), alt.hconcat(heat, sizes, value)]


def _funnel_section(b: Board) -> list[Any]:
    alt = _alt()
    f = b.get("behaviour_funnel").with_columns(pl.col("step").cast(pl.String))
    f = f.with_row_index("order")
    bars = (
        alt.Chart(alt.Data(values=_values(f)))
        .mark_bar()
        .encode(
            x=alt.X("step:N", sort=alt.SortField("order"), title=b.t("step")),
            y=alt.Y("users:Q", title=b.t("users")),
            color=alt.condition("datum.is_bottleneck", alt.value("#d9534f"), alt.value("#3b6fb6")),
            tooltip=[alt.Tooltip("step:N", title=b.t("step")), alt.Tooltip("users:Q", title=b.t("users"), format=","),
                     alt.Tooltip("conversion:Q", title=b.t("conversion"), format=".1%"),
                     alt.Tooltip("drop_off_rate:Q", title=b.t("drop_off_rate"), format=".1%")],
        )
        .properties(width=520, height=260)
    )
    text = bars.mark_text(dy=-8).encode(text=alt.Text("conversion:Q", format=".0%"), color=alt.value("#333"))
    worst = f.filter(pl.col("is_bottleneck"))
    note = ""
    if worst.height:
        note = (f'<p class="callout">{_esc(b.t("bottleneck"))}: <b>{_esc(worst["step"][0])}</b> '
                f'({_esc(b.t("drop_off_rate"))} {_esc(format(worst["drop_off_rate"][0], ".0%"))})</p>')
    return [Html(note), bars + text]


def _cohorts_section(b: Board) -> list[Any]:
    alt = _alt()
    c = b.get("behaviour_cohorts")
    cohorts = c.select(pl.col("cohort").unique().sort().tail(24)).to_series()
    c = c.filter(pl.col("cohort").is_in(cohorts.implode()) & (pl.col("period_index") <= 24))
    c = c.select(pl.col("cohort").cast(pl.String).str.slice(0, 7), "period_index", "retention", "cohort_size", "customers")
    heat = (
        alt.Chart(alt.Data(values=_values(c)))
        .mark_rect()
        .encode(
            x=alt.X("period_index:O", title=b.t("period_index")),
            y=alt.Y("cohort:O", title=b.t("cohort")),
            color=alt.Color("retention:Q", title=b.t("retention"), scale=alt.Scale(scheme="greens", domain=[0, 0.6], clamp=True)),
            tooltip=[alt.Tooltip("cohort:O", title=b.t("cohort")), alt.Tooltip("period_index:O", title=b.t("period_index")),
                     alt.Tooltip("retention:Q", title=b.t("retention"), format=".1%"),
                     alt.Tooltip("cohort_size:Q", title=b.t("customers"), format=",")],
        )
        .properties(width=720, height=min(24, cohorts.len()) * 16 + 10)
    )
    return [heat]


def _clv_section(b: Board) -> list[Any]:
    alt = _alt()
    scored = b.get("lifetime_value_customers")
    if "clv" not in scored.columns:
        raise CrmError("no CLV column (the spend model could not be fitted)")
    v = scored.filter(pl.col("clv").is_finite())
    cap = v["clv"].quantile(0.99) or 0.0
    hist = v.select(pl.col("clv").clip(0, cap))
    width = cap / 30 if cap > 0 else 1.0
    binned = (
        hist.with_columns(bin=(pl.col("clv") / width).floor().clip(0, 29) * width)
        .group_by("bin").agg(count=pl.len()).sort("bin").with_columns(bin_end=pl.col("bin") + width)
    )
    chart = (
        alt.Chart(alt.Data(values=_values(binned)))
        .mark_bar(color="#7b5ea7")
        .encode(
            x=alt.X("bin:Q", bin="binned", title=b.t("clv")), x2="bin_end:Q",
            y=alt.Y("count:Q", title=b.t("count")),
            tooltip=[alt.Tooltip("bin:Q", title=b.t("clv"), format=",.0f"),
                     alt.Tooltip("count:Q", title=b.t("count"), format=",")],
        )
        .properties(width=520, height=240)
    )
    top = v.sort("clv", descending=True).head(MAX_CUSTOMER_ROWS)
    cols = ["customer_id"] + [c for c in ("clv", "p_alive", "frequency") if c in top.columns]
    top = top.select(cols)
    headers = [b.t(c) for c in cols]
    customers = _keyed_customers(b)
    if customers is not None:
        pii = [c for c in ("name", "phone", "email") if c in customers.columns]
        if pii:
            first = customers.unique("customer_id", keep="first").select("customer_id", *pii)
            first = first.with_columns(pl.col("customer_id").cast(top.schema["customer_id"], strict=False))
            if b.mask_pii:
                maskers = {"name": mask_name, "phone": mask_phone, "email": mask_email}
                first = first.with_columns([maskers[c](c).alias(c) for c in pii])
            top = top.join(first, on="customer_id", how="left").select(*cols, *pii)
            headers += [b.t(c) for c in pii]
    return [chart, Html(f"<h3>{_esc(b.t('top_customers'))}</h3>"), _table(top, headers)]


def _rules_section(b: Board) -> list[Any]:
    rules = b.get("basket_rules")
    top = rules.sort("lift", descending=True).head(30).select("antecedents", "consequents", "support", "confidence", "lift")
    return [Html(f'<p class="hint">{_esc(b.t("sort_hint"))}</p>'),
            _table(top, [b.t(c) for c in top.columns])]


def _first_col(df: pl.DataFrame, names: Sequence[str]) -> Optional[str]:
    return next((c for c in names if c in df.columns), None)


def _surveys_section(b: Board) -> list[Any]:
    """Net Promoter Score from survey answers (score 0-10): promoters 9-10 minus
    detractors 0-6, per period when the answers are dated, and the score distribution."""
    alt = _alt()
    s = b.get("surveys")
    score = _first_col(s, ("score", "nps", "rating"))
    if score is None:
        raise SchemaError(f"surveys need a 'score' column (0-10); the table has {s.columns}")
    v = s.filter(pl.col(score).is_not_null() & pl.col(score).is_between(0, 10))
    if v.height < s.filter(pl.col(score).is_not_null()).height:
        b.notes.append(f"surveys: {s.height - v.height:,} answers outside 0-10 or null left out")
    nps = lambda: ((pl.col(score) >= 9).mean() - (pl.col(score) <= 6).mean()) * 100  # noqa: E731
    overall = v.select(nps().alias("nps"), pl.len().alias("n")).row(0, named=True)
    out: list[Any] = [Html(f'<div class="tiles"><div class="tile"><div class="tlabel">NPS</div>'
                           f'<div class="tvalue">{_esc(_fmt(overall["nps"]))}</div>'
                           f'<div class="chg flat">{overall["n"]:,} {_esc(b.t("answers"))}</div></div></div>')]
    dist = v.group_by(pl.col(score).cast(pl.Int64).alias("score")).agg(n=pl.len()).with_columns(
        category=pl.when(pl.col("score") >= 9).then(pl.lit("promoter"))
        .when(pl.col("score") >= 7).then(pl.lit("passive")).otherwise(pl.lit("detractor")))
    charts = [
        alt.Chart(alt.Data(values=_values(dist))).mark_bar().encode(
            x=alt.X("score:O", title=b.t("score")), y=alt.Y("n:Q", title=b.t("answers")),
            color=alt.Color("category:N", scale=alt.Scale(domain=["detractor", "passive", "promoter"],
                                                          range=["#d9534f", "#c9d3e0", "#5a9e6f"])),
            tooltip=["score:O", "category:N", alt.Tooltip("n:Q", format=",")],
        ).properties(width=360, height=220)
    ]
    date = _first_col(v, ("date", "survey_date", "answered_at", "timestamp", "created_at"))
    if date is not None and (v.schema[date] == pl.Date or isinstance(v.schema[date], pl.Datetime)):
        per = (_periods(v, b.freq, date).group_by("_period").agg(nps().alias("nps"), pl.len().alias("n"))
               .rename({"_period": "period"}).sort("period"))
        charts.append(
            alt.Chart(alt.Data(values=_values(per))).mark_line(point=True).encode(
                x=alt.X("utcyearmonthdate(period):T", title=b.t("period"), axis=alt.Axis(format="%Y-%m")),
                y=alt.Y("nps:Q", title="NPS", scale=alt.Scale(domain=[-100, 100])),
                tooltip=[alt.Tooltip("utcyearmonthdate(period):T", format="%Y-%m-%d"),
                         alt.Tooltip("nps:Q", format=".1f"), alt.Tooltip("n:Q", format=",")],
            ).properties(width=460, height=220)
        )
    return out + [alt.hconcat(*charts)]


def _campaigns_section(b: Board) -> list[Any]:
    """Conversion per campaign and group with 95% Wilson intervals, and the lift of each
    group over the campaign's control group (named control/对照组, else the first)."""
    alt = _alt()
    c = b.get("campaigns")
    camp = _first_col(c, ("campaign", "campaign_id", "experiment"))
    group = _first_col(c, ("group", "variant", "arm"))
    if camp is None or group is None:
        raise SchemaError(f"campaigns need 'campaign' and 'group' columns; the table has {c.columns}")
    users = _first_col(c, ("customers", "users", "n", "exposed"))
    conv = _first_col(c, ("conversions", "converted", "buyers"))
    if conv is None:
        raise SchemaError(f"campaigns need a 'conversions' (or per-customer 'converted') column; the table has {c.columns}")
    if users is None:  # one row per customer: converted is 0/1
        agg = c.group_by(camp, group).agg(n=pl.len(), k=pl.col(conv).cast(pl.Float64).sum())
    else:
        agg = c.group_by(camp, group).agg(n=pl.col(users).sum(), k=pl.col(conv).cast(pl.Float64).sum())
    z = 1.959963984540054
    p = pl.col("k") / pl.col("n")
    centre = (p + z * z / (2 * pl.col("n"))) / (1 + z * z / pl.col("n"))
    half = z * ((p * (1 - p) / pl.col("n") + z * z / (4 * pl.col("n") ** 2)).sqrt()) / (1 + z * z / pl.col("n"))
    agg = agg.with_columns(rate=p, lo=centre - half, hi=centre + half).with_columns(
        pl.col(camp).cast(pl.String).alias("campaign"), pl.col(group).cast(pl.String).alias("group"))
    is_control = pl.col("group").str.to_lowercase().is_in(["control", "holdout", "对照", "对照组"])
    control = agg.sort(~is_control, "group").group_by("campaign", maintain_order=True).first().select(
        "campaign", pl.col("rate").alias("control_rate"))
    agg = agg.join(control, on="campaign").with_columns(lift=pl.col("rate") / pl.col("control_rate") - 1).sort("campaign", "group")
    base = alt.Chart(alt.Data(values=_values(agg.select("campaign", "group", "n", "k", "rate", "lo", "hi", "lift"))))
    tip = ["campaign:N", "group:N", alt.Tooltip("n:Q", format=","), alt.Tooltip("k:Q", format=","),
           alt.Tooltip("rate:Q", format=".2%"), alt.Tooltip("lo:Q", format=".2%"), alt.Tooltip("hi:Q", format=".2%"),
           alt.Tooltip("lift:Q", format="+.1%")]
    chart = (
        base.mark_rule().encode(y=alt.Y("campaign:N", title=None), yOffset="group:N", x=alt.X("lo:Q", title=b.t("conversion"),
                                axis=alt.Axis(format="%")), x2="hi:Q", color="group:N", tooltip=tip)
        + base.mark_point(filled=True, size=60).encode(y="campaign:N", yOffset="group:N", x="rate:Q", color="group:N", tooltip=tip)
    ).properties(width=560, height=max(80, 40 * agg["campaign"].n_unique()))
    table = agg.select("campaign", "group", "n", "k", "rate", "lift")
    return [chart, _table(table, [b.t("campaign"), b.t("group"), b.t("users"), b.t("conversions"), b.t("conversion"),
                                  b.t("lift_vs_control")])]


for _s in (
    Section("kpi", TITLES["kpi"], ("kpi_tiles",), _kpi_section),
    Section("trend", TITLES["trend"], ("sales_trend",), _trend_section),
    Section("geo", TITLES["geo"], ("geo_province",), _geo_section),
    Section("segments", TITLES["segments"], ("segment_rfm", "segment_rfm_summary"), _segments_section),
    Section("funnel", TITLES["funnel"], ("behaviour_funnel",), _funnel_section),
    Section("cohorts", TITLES["cohorts"], ("behaviour_cohorts",), _cohorts_section),
    Section("clv", TITLES["clv"], ("lifetime_value_customers",), _clv_section),
    Section("rules", TITLES["rules"], ("basket_rules",), _rules_section),
    Section("surveys", TITLES["surveys"], ("surveys",), _surveys_section),
    Section("campaigns", TITLES["campaigns"], ("campaigns",), _campaigns_section),
):
    register_section(_s)


# ---------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------

_STYLE = """
:root { --ink: #1f2a37; --muted: #6b7280; --line: #e5e7eb; --card: #fff; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font-family: FONT; }
header { padding: 18px 28px; background: #1f3a5f; color: #fff; }
header h1 { margin: 0; font-size: 22px; } header p { margin: 4px 0 0; color: #c9d6e8; font-size: 13px; }
nav { padding: 8px 28px; background: #fff; border-bottom: 1px solid var(--line); font-size: 13px; }
nav a { margin-right: 14px; color: #1f3a5f; text-decoration: none; }
main { padding: 16px 28px; max-width: 1280px; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px; margin: 0 0 16px; }
section.card h2 { margin: 0 0 8px; font-size: 17px; } h3 { font-size: 14px; margin: 14px 0 6px; }
.hint { color: var(--muted); font-size: 12px; margin: 0 0 6px; }
.callout { background: #fdecea; border-left: 4px solid #d9534f; padding: 6px 10px; font-size: 13px; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; }
.tile { flex: 1 1 220px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.tlabel { color: var(--muted); font-size: 13px; } .tvalue { font-size: 26px; font-weight: 650; margin: 2px 0; }
.chg { font-size: 12px; } .chg span { color: var(--muted); } .up { color: #2e7d32; } .down { color: #c62828; } .flat { color: var(--muted); }
.badge { margin-left: 6px; padding: 1px 6px; border-radius: 8px; background: #fff3cd; color: #8a6d00; font-size: 11px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
table.data { border-collapse: collapse; font-size: 12px; width: 100%; }
table.data th { text-align: left; border-bottom: 2px solid var(--line); padding: 4px 6px; cursor: pointer; white-space: nowrap; }
table.data td { border-bottom: 1px solid var(--line); padding: 3px 6px; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.failed { color: #c62828; font-size: 13px; } footer { color: var(--muted); font-size: 12px; padding: 0 28px 24px; }
.vega-embed summary { display: none; }
""".replace("FONT", FONT)

# Sorts tables on a header click; renders every chart. No network, no eval of data.
_SCRIPT = """
(function () {
  function cellValue(td) { var v = td.getAttribute('data-v'); return v === null ? td.textContent : parseFloat(v); }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('th').forEach(function (th, i) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var dir = th.getAttribute('data-dir') === 'desc' ? 1 : -1; th.setAttribute('data-dir', dir === 1 ? 'asc' : 'desc');
        rows.sort(function (a, b) { var x = cellValue(a.cells[i]), y = cellValue(b.cells[i]);
          return (x > y ? 1 : x < y ? -1 : 0) * dir; });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var opts = { actions: false, renderer: 'svg', tooltip: { theme: 'light' } };
  document.querySelectorAll('script[type="application/json"][data-chart]').forEach(function (node) {
    var target = document.getElementById(node.getAttribute('data-chart'));
    vegaEmbed(target, JSON.parse(node.textContent), opts).catch(function (err) {
      target.textContent = 'chart failed: ' + err; console.error(err);
    });
  });
})();
"""


def _json_for_script(obj: Any) -> str:
    """JSON that cannot close its <script> element or start markup."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _chart_spec(chart: Any) -> dict[str, Any]:
    # The specs are fixed by crmkit and covered by its tests; schema validation of every
    # chart costs seconds.
    spec = chart.to_dict(validate=False)
    spec.pop("$schema", None)
    config = spec.setdefault("config", {})
    config.setdefault("font", FONT)
    config.setdefault("view", {}).setdefault("stroke", None)
    config.setdefault("axis", {}).update({"labelFont": FONT, "titleFont": FONT})
    config.setdefault("legend", {}).update({"labelFont": FONT, "titleFont": FONT})
    config.setdefault("title", {}).update({"font": FONT})
    return spec


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


def _bundle() -> tuple[str, str]:
    try:
        import vl_convert as vlc
    except ImportError:
        raise CrmError("crmkit.dashboard needs vl-convert-python: pip install 'crmkit[dashboard]'") from None
    alt = _alt()
    version = alt.SCHEMA_VERSION.lstrip("v")
    vl = ".".join(version.split(".")[:2])
    return vlc.javascript_bundle(vl_version=vl), vl


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
    KPI tiles and the sales trend (orders), the customer map (customers with
    addresses; revenue and CLV colouring when customers carry ``customer_id``),
    RFM segments, cohorts and CLV (orders), the funnel (events), cross-sell rules
    (items), the Net Promoter Score (surveys: score 0-10, optional date) and campaign
    results (campaigns: campaign, group, customers, conversions — or one row per
    customer with 0/1 ``converted``; 95% Wilson intervals, lift over the control
    group). ``results``: tables already computed by ``crmkit run`` (its
    ``segment_rfm``, ``behaviour_funnel``, ... keys) are used instead of recomputing.

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
    if not isinstance(freq, str) or not re.fullmatch(r"\d+(d|w|mo|q|y)", freq):
        raise CrmError(f"crmkit.dashboard: freq must be a polars duration such as '1w', '1mo', '1q', found {freq!r}")

    def frame(x: Any, name: str) -> Optional[pl.DataFrame]:
        return None if x is None else as_frame(x, argument=name)

    o = as_frame(orders, argument="orders")
    for c in ("customer_id", "order_date", "amount"):
        if c not in o.columns:
            raise SchemaError(f"crmkit.dashboard: orders need column '{c}'; the table has {o.columns}")
    board = Board(o, frame(customers, "customers"), frame(items, "items"), frame(events, "events"),
                  frame(surveys, "surveys"), frame(campaigns, "campaigns"), freq, "en", bool(mask_pii), as_of,
                  dict(results or {}))
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
    use (``customer_id``) — as a CRM's records do — so the map can show revenue.

    >>> import crmkit
    >>> t = crmkit.dashboard_demo_inputs(crmkit.datasets.generate(n_customers=50, seed=1))
    >>> sorted(t), "customer_id" in t["customers"].columns
    (['customers', 'events', 'items', 'orders'], True)
    """
    customers = world.customers.join(world.truth.records, on="record_id", how="left")
    return {"orders": world.orders, "customers": customers, "items": world.items, "events": world.events}
