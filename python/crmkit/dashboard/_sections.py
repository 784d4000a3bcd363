"""The sections of the page: each takes the board and returns its charts and HTML."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import polars as pl

from crmkit.dashboard._board import MAX_CUSTOMER_ROWS, Board, Section, register_section
from crmkit.dashboard._insights import _alerts_section, _churn_section, _experiments_section, with_pii
from crmkit.dashboard._html import FONT, Html, RawChart, _alt, _esc, _fmt, _table, _values
from crmkit.dashboard._labels import TITLES
from crmkit.dashboard._tables import _periods
from crmkit.errors import CrmError, SchemaError

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
            # crmkit.kpi.alerts flagged the latest complete period: its reason on hover.
            arrow = "▲" if row["alert"] > 0 else "▼"
            severity = row.get("severity") or "warning"
            badge = (f'<span class="badge {_esc(severity)}" title="{_esc(row.get("reason") or "")}">'
                     f'{arrow} {_esc(b.t(severity))}</span>')

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


def _trend_chart(b: Board, t: pl.DataFrame, group_title: str) -> Any:
    """Revenue per period and group, and its forecast: a dashed line continuing each
    group's solid one, the interval shaded. Legend click isolates a group; drag/wheel
    pans and zooms the time axis. Written as Vega-Lite directly (Altair's construction
    of these layers took over a second)."""
    parts = {"actual": b.t("actual"), "forecast": b.t("forecast")}
    t = t.with_columns(pl.col("part").replace(parts).alias("label"))
    # Groups by revenue, largest first; the catch-all group last.
    other = ("其他", "other", "?", "(missing)")
    totals = t.filter(pl.col("part") == "actual").group_by("group").agg(pl.col("revenue").sum())
    order = totals.sort(pl.col("group").is_in(other), pl.col("revenue"), descending=[False, True])["group"].to_list()
    x = {"field": "period", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": b.t("period"),
         "axis": {"format": "%Y-%m"}}
    colour = {"field": "group", "type": "nominal", "title": group_title, "sort": order, "scale": {"domain": order},
              "legend": {"symbolOpacity": 1, "symbolType": "circle"}}
    tip = [{"field": "period", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": b.t("period"),
            "format": "%Y-%m-%d"},
           {"field": "group", "type": "nominal", "title": group_title},
           {"field": "label", "type": "nominal", "title": " "},
           {"field": "revenue", "type": "quantitative", "title": b.t("revenue"), "format": ",.0f"},
           {"field": "lower", "type": "quantitative", "title": "−", "format": ",.0f"},
           {"field": "upper", "type": "quantitative", "title": "+", "format": ",.0f"}]

    def faded(on: float, off: float) -> dict[str, Any]:
        return {"condition": {"param": "pick", "value": on}, "value": off}

    future = {"filter": "datum.part == 'forecast'"}
    layers: list[dict[str, Any]] = [
        {"transform": [future], "mark": {"type": "area", "opacity": 0.18},
         "params": [{"name": "pick", "select": {"type": "point", "fields": ["group"]}, "bind": "legend"},
                    {"name": "zoom", "select": {"type": "interval", "encodings": ["x"]}, "bind": "scales"}],
         "encoding": {"x": x, "y": {"field": "lower", "type": "quantitative", "title": b.t("revenue")},
                      "y2": {"field": "upper"}, "color": colour, "opacity": faded(0.2, 0.03), "tooltip": tip}},
        {"transform": [{"filter": "datum.part == 'actual'"}], "mark": {"type": "line", "point": True, "strokeWidth": 2},
         "encoding": {"x": x, "y": {"field": "revenue", "type": "quantitative"}, "color": colour,
                      "opacity": faded(1.0, 0.12), "tooltip": tip}},
        {"transform": [future], "mark": {"type": "line", "strokeDash": [6, 4], "strokeWidth": 2,
                                          "point": {"shape": "diamond", "filled": False}},
         "encoding": {"x": x, "y": {"field": "revenue", "type": "quantitative"}, "color": colour,
                      "opacity": faded(1.0, 0.12), "tooltip": tip}},
    ]
    start = t.filter(pl.col("part") == "forecast")["period"].min()
    if start is not None:
        mark = {"values": [{"period": str(start), "text": b.t("forecast") + " →"}]}
        layers.append({"data": mark, "mark": {"type": "rule", "color": "#8a94a6", "strokeDash": [2, 2]},
                       "encoding": {"x": x}})
        layers.append({"data": mark, "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 4,
                                              "color": "#4b5563", "fontSize": 12},
                       "encoding": {"x": x, "y": {"value": 4}, "text": {"field": "text", "type": "nominal"}}})
    data = _values(t.select("group", "period", "part", "label", "revenue", "lower", "upper"))
    return RawChart({"data": {"values": data}, "layer": layers, "width": 900, "height": 260, "title": group_title})


def _trend_section(b: Board) -> list[Any]:
    t = b.get("sales_forecast")
    hint = b.t("click_legend") + ("。" if b.lang == "zh" else ". ") + b.t("forecast_band").format(level=80)
    out: list[Any] = [Html(f'<p class="hint">{_esc(hint)}</p>'), _trend_chart(b, t, b.t("by_channel"))]
    if b.has("region_forecast"):
        try:
            out.append(_trend_chart(b, b.get("region_forecast"), b.t("by_region")))
        except Exception as exc:  # the trend by channel stands without it
            b.notes.append(f"trend by region not drawn: {type(exc).__name__}: {exc}")
    return out


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
    top, headers = with_pii(b, top, cols, headers)
    return [chart, Html(f"<h3>{_esc(b.t('top_customers'))}</h3>"), _table(top, headers)]


def _rules_section(b: Board) -> list[Any]:
    rules = b.get("basket_rules")
    """The rules as points (support against confidence, size and colour by lift; the
    rule in the tooltip) and the 30 with the highest lift as a sortable table."""
    alt = _alt()
    rules = b.get("basket_rules")
    cols = ["antecedents", "consequents", "support", "confidence", "lift"]
    top = rules.sort("lift", descending=True).head(30).select(cols)
    points = rules.sort("lift", descending=True).head(300).select(cols)
    tip = [alt.Tooltip("antecedents:N", title=b.t("antecedents")), alt.Tooltip("consequents:N", title=b.t("consequents")),
           alt.Tooltip("support:Q", title=b.t("support"), format=".2%"),
           alt.Tooltip("confidence:Q", title=b.t("confidence"), format=".1%"),
           alt.Tooltip("lift:Q", title=b.t("lift"), format=".2f")]
    scatter = alt.Chart(alt.Data(values=_values(points))).mark_circle(opacity=0.7).encode(
        x=alt.X("support:Q", title=b.t("support"), axis=alt.Axis(format="%"), scale=alt.Scale(type="log")),
        y=alt.Y("confidence:Q", title=b.t("confidence"), axis=alt.Axis(format="%")),
        size=alt.Size("lift:Q", title=b.t("lift")), color=alt.Color("lift:Q", title=b.t("lift"), scale=alt.Scale(scheme="viridis")),
        tooltip=tip,
    ).properties(width=520, height=240)
    return [scatter, Html(f'<p class="hint">{_esc(b.t("sort_hint"))}</p>'), _table(top, [b.t(c) for c in top.columns])]


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
    def nps() -> pl.Expr:
        return ((pl.col(score) >= 9).mean() - (pl.col(score) <= 6).mean()) * 100

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
    if conv is None and b.has("experiments_campaigns"):
        # A contact table (campaign_id, customer_id, group, sent_at): a conversion is an
        # order in the campaign's window, as crmkit.experiment.campaign counts it.
        c = b.get("experiments_campaigns").with_columns(pl.col("customers").cast(pl.Int64))
        camp = _first_col(c, ("campaign_id", "campaign"))
        if camp is None:
            raise SchemaError(f"campaign contacts need a 'campaign_id' column; the table has {c.columns}")
        users, conv = "customers", "responders"
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
    Section("alerts", TITLES["alerts"], ("kpi_alerts", "kpi_values"), _alerts_section),
    Section("trend", TITLES["trend"], ("sales_forecast",), _trend_section),
    Section("geo", TITLES["geo"], ("geo_province",), _geo_section),
    Section("segments", TITLES["segments"], ("segment_rfm", "segment_rfm_summary"), _segments_section),
    Section("funnel", TITLES["funnel"], ("behaviour_funnel",), _funnel_section),
    Section("cohorts", TITLES["cohorts"], ("behaviour_cohorts",), _cohorts_section),
    Section("clv", TITLES["clv"], ("lifetime_value_customers",), _clv_section),
    Section("churn", TITLES["churn"], ("churn_scores",), _churn_section),
    Section("rules", TITLES["rules"], ("basket_rules",), _rules_section),
    Section("surveys", TITLES["surveys"], ("surveys",), _surveys_section),
    Section("campaigns", TITLES["campaigns"], ("campaigns",), _campaigns_section),
    Section("experiments", TITLES["experiments"], ("experiments_campaigns",), _experiments_section),
):
    register_section(_s)
