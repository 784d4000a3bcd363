"""The sections drawn from crmkit's models and monitors: KPI alerts (crmkit.kpi),
churn risk (crmkit.churn) and experiment results (crmkit.experiment)."""

from __future__ import annotations

from typing import Any

import polars as pl

from crmkit.dashboard._board import MAX_CUSTOMER_ROWS, Board, _keyed_customers, _overall, kpi_groups
from crmkit.dashboard._html import Html, _alt, _esc, _fmt, _table, _values
from crmkit.dashboard._mask import mask_email, mask_name, mask_phone
from crmkit.errors import SchemaError

_SEVERITY_COLOURS = (["critical", "warning"], ["#c62828", "#e0a100"])
_RISK_ORDER = ["low", "medium", "high", "very high"]
_RISK_COLOURS = ["#5a9e6f", "#e0c341", "#e8833a", "#c62828"]


def with_pii(b: Board, top: pl.DataFrame, cols: list[str], headers: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """``top`` (customer rows) with the name, phone and e-mail of each customer from the
    customers table, masked unless ``mask_pii=False``; at most MAX_CUSTOMER_ROWS rows."""
    top = top.head(MAX_CUSTOMER_ROWS).select(cols)
    customers = _keyed_customers(b)
    if customers is None:
        return top, headers
    pii = [c for c in ("name", "phone", "email") if c in customers.columns]
    if not pii:
        return top, headers
    first = customers.unique("customer_id", keep="first", maintain_order=True).select("customer_id", *pii)
    first = first.with_columns(pl.col("customer_id").cast(top.schema["customer_id"], strict=False),
                               *[pl.col(c).cast(pl.String) for c in pii])
    if b.mask_pii:
        maskers = {"name": mask_name, "phone": mask_phone, "email": mask_email}
        first = first.with_columns([maskers[c](c).alias(c) for c in pii])
    out = top.join(first, on="customer_id", how="left", maintain_order="left").select(*cols, *pii)
    return out, headers + [b.t(c) for c in pii]


# ---------------------------------------------------------------------------
# KPI alerts
# ---------------------------------------------------------------------------


def _alerts_section(b: Board) -> list[Any]:
    """The KPIs crmkit.kpi.alerts flags in the latest complete period (table), revenue
    against its expected band, and the anomalies across the history."""
    alt = _alt()
    from crmkit.kpi import bands

    current = b.get("kpi_alerts")
    history = b.get("kpi_alert_history") if b.has("kpi_alert_history") else current
    values = b.get("kpi_values")
    out: list[Any] = []

    # Revenue (all groups together) against its expected range, anomalies marked.
    revenue = _overall(values).filter(pl.col("kpi") == "revenue")
    if revenue.height:
        band = bands(revenue, freq=b.freq).select(
            pl.col("period_start").alias("period"), "value", "expected", "lower", "upper",
            pl.col("direction").cast(pl.String),
            pl.col("severity").cast(pl.String).replace({"critical": b.t("critical"), "warning": b.t("warning")}),
            pl.col("reason").cast(pl.String))
        base = alt.Chart(alt.Data(values=_values(band)))
        x = alt.X("utcyearmonthdate(period):T", title=b.t("period"), axis=alt.Axis(format="%Y-%m"))
        tip = [alt.Tooltip("utcyearmonthdate(period):T", title=b.t("period"), format="%Y-%m-%d"),
               alt.Tooltip("value:Q", title=b.t("revenue"), format=",.0f"),
               alt.Tooltip("expected:Q", title=b.t("expected"), format=",.0f"),
               alt.Tooltip("lower:Q", title="−", format=",.0f"), alt.Tooltip("upper:Q", title="+", format=",.0f"),
               alt.Tooltip("reason:N", title=b.t("reason"))]
        chart = (
            base.mark_area(color="#cfd9e8", opacity=0.7).encode(x=x, y=alt.Y("lower:Q", title=b.t("revenue")), y2="upper:Q",
                                                               tooltip=tip)
            + base.mark_line(color="#8a94a6", strokeDash=[4, 3]).encode(x=x, y="expected:Q", tooltip=tip)
            + base.mark_line(color="#1f3a5f", point=True).encode(x=x, y="value:Q", tooltip=tip)
            + base.transform_filter("datum.severity != null").mark_point(size=140, filled=True, opacity=0.9).encode(
                x=x, y="value:Q", tooltip=tip,
                color=alt.Color("severity:N", title=b.t("severity"),
                                scale=alt.Scale(domain=[b.t(x) for x in _SEVERITY_COLOURS[0]], range=_SEVERITY_COLOURS[1])))
        ).properties(width=900, height=220, title=b.t("band_title"))
        out.append(chart)

    latest = values.filter(pl.col("is_complete"))["period_start"].max() if "is_complete" in values.columns else None
    out.append(Html(f'<p class="hint">{_esc(b.t("last_complete"))}: {_esc(latest)}</p>'))
    if current.height == 0:
        out.append(Html(f'<p class="callout ok">{_esc(b.t("no_alerts"))}</p>'))
    else:
        out.append(_alert_table(b, current))
    past = history.filter(~pl.col("period_start").is_in(current["period_start"].implode())) if current.height else history
    if "freq" in past.columns:  # `crmkit run` keeps daily anomalies too: the strip shows the board's periods
        past = past.filter(pl.col("freq") == b.freq)
    if past.height:
        out.append(Html(f"<h3>{_esc(b.t('alert_history'))}</h3>"))
        out.append(_alert_strip(b, past))
    return out


def _kpi_label(b: Board) -> pl.Expr:
    from crmkit.dashboard._labels import LABELS

    names = {k: v for k, v in LABELS[b.lang].items() if k in _KPI_NAMES}
    return pl.col("kpi").cast(pl.String).replace(names)


_KPI_NAMES = ("revenue", "orders", "active_customers", "aov", "new_customers", "returning_customers", "repeat_rate",
              "revenue_per_customer", "churn_rate", "retention_rate", "discount_rate", "visitors", "conversion_rate",
              "responses", "nps", "csat")


def _where(table: pl.DataFrame) -> pl.Expr:
    groups = [g for g in kpi_groups(table) if g != "freq"]
    if not groups:
        return pl.lit("")
    return pl.concat_str([pl.col(g).cast(pl.String) for g in groups], separator=" / ", ignore_nulls=True).fill_null("")


def _alert_table(b: Board, a: pl.DataFrame) -> Html:
    arrow = pl.when(pl.col("direction") == "up").then(pl.lit("▲ " + b.t("up"))).otherwise(pl.lit("▼ " + b.t("down")))
    sev = pl.col("severity").cast(pl.String).replace({"critical": b.t("critical"), "warning": b.t("warning")})
    cols = [pl.col("period_start").cast(pl.String).alias("period")]
    headers = [b.t("period")]
    if "freq" in a.columns:
        cols.append(pl.col("freq"))
        headers.append(b.t("freq"))
    cols += [_where(a).alias("group"), _kpi_label(b).alias("kpi"), pl.col("value").cast(pl.Float64),
             pl.col("expected").cast(pl.Float64),
             pl.format("{} – {}", pl.col("lower").round(2), pl.col("upper").round(2)).alias("range"),
             arrow.alias("direction"), sev.alias("severity"), pl.col("kind").cast(pl.String), pl.col("reason").cast(pl.String)]
    headers += [b.t("channel"), b.t("kpi"), b.t("value"), b.t("expected"), b.t("range"), b.t("direction"),
                b.t("severity"), b.t("kind"), b.t("reason")]
    return _table(a.head(50).select(cols), headers)


def _alert_strip(b: Board, a: pl.DataFrame) -> Any:
    """One mark per past anomaly: when, which KPI, up or down, how severe; the reason in
    the tooltip."""
    alt = _alt()
    d = a.select(pl.col("period_start").alias("period"), _kpi_label(b).alias("kpi"), _where(a).alias("group"),
                 pl.col("direction").cast(pl.String).replace({"up": b.t("up"), "down": b.t("down")}),
                 pl.col("severity").cast(pl.String).replace({"critical": b.t("critical"), "warning": b.t("warning")}),
                 pl.col("reason").cast(pl.String),
                 *([pl.col("freq")] if "freq" in a.columns else []))
    d = d.sort("period").tail(400)
    return (
        alt.Chart(alt.Data(values=_values(d))).mark_point(filled=True, size=70, opacity=0.85).encode(
            x=alt.X("utcyearmonthdate(period):T", title=b.t("period"), axis=alt.Axis(format="%Y-%m")),
            y=alt.Y("kpi:N", title=None),
            shape=alt.Shape("direction:N", title=b.t("direction"),
                            scale=alt.Scale(domain=[b.t("up"), b.t("down")], range=["triangle-up", "triangle-down"])),
            color=alt.Color("severity:N", title=b.t("severity"),
                            scale=alt.Scale(domain=[b.t(x) for x in _SEVERITY_COLOURS[0]], range=_SEVERITY_COLOURS[1])),
            tooltip=[alt.Tooltip("utcyearmonthdate(period):T", title=b.t("period"), format="%Y-%m-%d"),
                     alt.Tooltip("kpi:N", title=b.t("kpi")), alt.Tooltip("group:N", title=b.t("channel")),
                     alt.Tooltip("reason:N", title=b.t("reason"))],
        ).properties(width=900, height=max(80, 22 * d["kpi"].n_unique()))
    )


# ---------------------------------------------------------------------------
# churn risk
# ---------------------------------------------------------------------------


def _churn_section(b: Board) -> list[Any]:
    """Risk distribution (customers and value at stake per risk band, and the churn
    probabilities), the value at stake, and the at-risk customers with the most of it,
    with their reasons."""
    alt = _alt()
    s = b.get("churn_scores")
    need = {"customer_id", "churn_probability", "risk_band", "value_at_risk"}
    if not need <= set(s.columns):
        raise SchemaError(f"churn scores need {sorted(need)}; the table has {s.columns}")
    s = s.with_columns(pl.col("risk_band").cast(pl.String), pl.col("value_at_risk").cast(pl.Float64))
    high = s.filter(pl.col("risk_band").is_in(["high", "very high"]))
    total_value = float(s["value_at_risk"].sum())
    tiles = [
        (b.t("at_risk"), f"{high.height:,}", f"{high.height / max(s.height, 1):.1%} / {s.height:,}"),
        (b.t("at_risk_value"), _fmt(float(high["value_at_risk"].sum())), ""),
        (b.t("all_value"), _fmt(total_value), ""),
    ]
    out: list[Any] = [Html('<div class="tiles">' + "".join(
        f'<div class="tile"><div class="tlabel">{_esc(label)}</div><div class="tvalue">{_esc(value)}</div>'
        f'<div class="chg flat">{_esc(note)}</div></div>' for label, value, note in tiles) + "</div>")]

    per_band = s.group_by("risk_band").agg(customers=pl.len(), value_at_risk=pl.col("value_at_risk").sum())
    order = [r for r in _RISK_ORDER if r in per_band["risk_band"].to_list()] + sorted(
        r for r in per_band["risk_band"].to_list() if r not in _RISK_ORDER)
    names = {r: b.t(f"risk_{r}") if f"risk_{r}" in _labels_keys(b) else r for r in order}
    per_band = per_band.with_columns(label=pl.col("risk_band").replace(names))
    labels = [names[r] for r in order]
    colours = [_RISK_COLOURS[_RISK_ORDER.index(r)] if r in _RISK_ORDER else "#8a94a6" for r in order]
    colour = alt.Color("label:N", title=b.t("risk_band"), scale=alt.Scale(domain=labels, range=colours), sort=labels)
    tip = [alt.Tooltip("label:N", title=b.t("risk_band")), alt.Tooltip("customers:Q", title=b.t("customers"), format=","),
           alt.Tooltip("value_at_risk:Q", title=b.t("value_at_risk"), format=",.0f")]
    band_customers = alt.Chart(alt.Data(values=_values(per_band))).mark_bar().encode(
        x=alt.X("label:N", sort=labels, title=b.t("risk_band"), axis=alt.Axis(labelAngle=0)), y=alt.Y("customers:Q", title=b.t("customers")),
        color=colour, tooltip=tip).properties(width=220, height=220)
    band_value = alt.Chart(alt.Data(values=_values(per_band))).mark_bar().encode(
        x=alt.X("label:N", sort=labels, title=b.t("risk_band"), axis=alt.Axis(labelAngle=0)), y=alt.Y("value_at_risk:Q", title=b.t("value_at_risk")),
        color=colour, tooltip=tip).properties(width=220, height=220)
    bins = (
        s.select((pl.col("churn_probability").clip(0, 0.9999) * 20).floor().alias("bin"))
        .group_by("bin").agg(customers=pl.len()).with_columns(lo=pl.col("bin") / 20, hi=(pl.col("bin") + 1) / 20)
        .sort("bin")
    )
    hist = alt.Chart(alt.Data(values=_values(bins))).mark_bar(color="#7b5ea7").encode(
        x=alt.X("lo:Q", bin="binned", title=b.t("churn_probability"), axis=alt.Axis(format="%")), x2="hi:Q",
        y=alt.Y("customers:Q", title=b.t("customers")),
        tooltip=[alt.Tooltip("lo:Q", title="≥", format=".0%"), alt.Tooltip("hi:Q", title="<", format=".0%"),
                 alt.Tooltip("customers:Q", title=b.t("customers"), format=",")]).properties(width=330, height=220)
    out.append(alt.hconcat(band_customers, band_value, hist))

    top = (high if high.height else s).sort("value_at_risk", descending=True)
    cols = ["customer_id", "churn_probability", "risk_band", "value_at_risk"]
    headers = [b.t(c) for c in cols]
    if "top_reasons" in top.columns:
        top = top.with_columns(pl.col("top_reasons").cast(pl.String))
        cols.append("top_reasons")
        headers.append(b.t("top_reasons"))
    top = top.with_columns(pl.col("risk_band").replace(names))
    table, headers = with_pii(b, top, cols, headers)
    out += [Html(f"<h3>{_esc(b.t('top_at_risk'))}</h3>"), _table(table, headers)]
    return out


def _labels_keys(b: Board) -> set[str]:
    from crmkit.dashboard._labels import LABELS

    return set(LABELS[b.lang])


# ---------------------------------------------------------------------------
# experiment results
# ---------------------------------------------------------------------------


def _experiments_section(b: Board) -> list[Any]:
    """crmkit.experiment.campaign: per campaign and treatment, the incremental response
    over the holdout and its lift with 95% intervals, incremental revenue and ROI."""
    alt = _alt()
    r = b.get("experiments_campaigns")
    if "incremental_response" not in r.columns:
        raise SchemaError(f"experiment results need 'incremental_response'; the table has {r.columns}")
    key = next((c for c in ("campaign_id", "campaign") if c in r.columns), None)
    if key is None:
        raise SchemaError(f"experiment results need a 'campaign_id' column; the table has {r.columns}")
    t = r.filter(pl.col("incremental_response").is_not_null()).with_columns(
        pl.col(key).cast(pl.String).alias("campaign"), pl.col("group").cast(pl.String))
    t = t.with_columns(significant=(pl.col("incremental_response_lower") > 0) | (pl.col("incremental_response_upper") < 0))
    cols = ["campaign", "group", "customers", "response_rate", "incremental_response", "incremental_response_lower",
            "incremental_response_upper", "significant"]
    extra = [c for c in ("response_p_value", "incremental_revenue", "roi") if c in t.columns]
    data = t.select(*cols, *extra)
    tip = [alt.Tooltip("campaign:N", title=b.t("campaign")), alt.Tooltip("group:N", title=b.t("group")),
           alt.Tooltip("customers:Q", title=b.t("customers"), format=","),
           alt.Tooltip("response_rate:Q", title=b.t("response_rate"), format=".2%"),
           alt.Tooltip("incremental_response:Q", title=b.t("incremental_response"), format="+.2%"),
           alt.Tooltip("incremental_response_lower:Q", title="95% −", format="+.2%"),
           alt.Tooltip("incremental_response_upper:Q", title="95% +", format="+.2%")]
    tip += [alt.Tooltip(f"{c}:Q", title=b.t(c if c != "response_p_value" else "p_value"),
                        format=",.0f" if c == "incremental_revenue" else ".3f") for c in extra]
    base = alt.Chart(alt.Data(values=_values(data)))
    y = alt.Y("campaign:N", title=None)
    colour = alt.condition("datum.significant", alt.value("#2e7d32"), alt.value("#3b6fb6"))
    forest = (
        base.mark_rule(strokeWidth=2).encode(y=y, yOffset="group:N", x=alt.X("incremental_response_lower:Q",
                                             title=b.t("incremental_response"), axis=alt.Axis(format="+%")),
                                             x2="incremental_response_upper:Q", color=colour, tooltip=tip)
        + base.mark_point(filled=True, size=70).encode(y=y, yOffset="group:N", x="incremental_response:Q", color=colour,
                                                       tooltip=tip)
        + alt.Chart(alt.Data(values=[{"x": 0}])).mark_rule(color="#8a94a6", strokeDash=[3, 3]).encode(x="x:Q")
    ).properties(width=560, height=max(90, 34 * data.height))
    out: list[Any] = [Html(f'<p class="hint">{_esc(b.t("experiment_hint"))}; '
                           f'<span class="up">■</span> {_esc(b.t("significant"))}</p>'), forest]
    table = data.drop("incremental_response_lower", "incremental_response_upper").with_columns(
        pl.when(pl.col("significant")).then(pl.lit("✓")).otherwise(pl.lit("")).alias("significant"))
    out.append(_table(table, [b.t(c if c != "response_p_value" else "p_value") for c in table.columns]))
    return out
