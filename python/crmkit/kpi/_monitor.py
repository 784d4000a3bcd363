"""Monitoring in `crmkit run`: the KPI step, and alerts posted to a chat webhook."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, Optional, cast

import polars as pl

from crmkit.errors import CrmError

if TYPE_CHECKING:
    from crmkit._pipeline import StepOutput

FORMATS = ("slack", "wecom", "dingtalk", "json")


def demo_step(ctx: Any) -> "StepOutput":
    """The kpi step of `crmkit demo`/`run`: monthly KPIs (overall and per channel when
    orders have one) and daily KPIs; ``alerts`` holds the alerts of the latest complete
    month and day (what a nightly job posts and fails on), ``alert_history`` every
    anomaly found across the history."""
    from crmkit._pipeline import StepOutput
    from crmkit.kpi._alerts import alerts
    from crmkit.kpi._compute import compute

    orders = ctx.orders
    as_of = ctx.as_of
    events = ctx.events if ctx.events is not None and {"customer_id", "event", "timestamp"} <= set(ctx.events.columns) else None
    monthly = compute(orders, freq="1mo", events=events, as_of=as_of)
    by = "channel" if "channel" in orders.columns else None
    if by is not None:
        per = compute(orders, freq="1mo", by=by, as_of=as_of)
        monthly = pl.concat([monthly.with_columns(pl.lit(None, per.schema[by]).alias(by)).select(per.columns), per])
    daily = compute(orders, freq="1d", events=events, as_of=as_of)
    cols = ["freq", "period_start", "period_end", *([by] if by else []), "kpi", "value", "expected", "lower", "upper",
            "score", "direction", "severity", "kind", "reason"]
    found = []
    for name, table in (("1mo", monthly), ("1d", daily)):
        a = alerts(table)
        if by is not None and by not in a.columns:
            a = a.with_columns(pl.lit(None, monthly.schema[by]).alias(by))
        found.append(a.with_columns(pl.lit(name).alias("freq")).select(cols))
    found_all = pl.concat(found, how="vertical_relaxed")
    # A nightly job acts on what the latest complete period shows; anomalies further back
    # were reported when they happened, so they are kept as history and never re-posted
    # (otherwise --fail-on-alert would fail every night after the first anomaly).
    latest_periods = pl.concat(
        [
            t.filter(pl.col("is_complete")).select(pl.col("period_start").max().alias("__latest")).with_columns(
                pl.lit(name).alias("freq")
            )
            for name, t in (("1mo", monthly), ("1d", daily))
        ]
    )
    current = found_all.join(latest_periods, on="freq", how="left").filter(
        pl.col("period_start") == pl.col("__latest")
    ).drop("__latest")
    lines = summary_lines(current)
    periods = ", ".join(
        f"{'month' if r['freq'] == '1mo' else 'day'} {r['__latest']}" for r in latest_periods.iter_rows(named=True)
        if r["__latest"] is not None
    )
    lines.insert(0, f"latest complete periods: {periods}; {found_all.height} anomalies across the history "
                    "(kpi_alert_history)")
    last = monthly.filter(pl.col("is_complete") & pl.col("kpi").is_in(["revenue", "active_customers"]))
    if by is not None:
        last = last.filter(pl.col(by).is_null())
    if last.height:
        latest = cast(dt.date, last["period_start"].max())
        parts = []
        for r in last.filter(pl.col("period_start") == latest).iter_rows(named=True):
            ch = "" if r["change_pct"] is None else f" ({r['change_pct']:+.1%} on the month before)"
            parts.append(f"{r['kpi']} {r['value']:,.0f}{ch}")
        lines.insert(0, f"{latest:%Y-%m}: " + "; ".join(parts))
    return StepOutput({"values": monthly, "daily": daily, "alerts": current, "alert_history": found_all}, lines)


def summary_lines(alerts: pl.DataFrame, top: int = 5) -> list[str]:
    if alerts.height == 0:
        return ["no alerts"]
    crit = alerts.filter(pl.col("severity") == "critical").height
    lines = [f"{alerts.height} alert(s), {crit} critical:"]
    group_cols = [c for c in alerts.columns if c not in ("freq", "period_start", "period_end", "kpi", "value", "expected",
                                                        "lower", "upper", "score", "direction", "severity", "kind", "reason")]
    for r in alerts.head(top).iter_rows(named=True):
        where = ", ".join(f"{c}={r[c]}" for c in group_cols if r[c] is not None)
        lines.append(f"  [{r['severity']}] {r['period_start']}{' ' + where if where else ''}: {r['reason']}")
    if alerts.height > top:
        lines.append(f"  ... and {alerts.height - top} more in kpi_alerts.parquet")
    return lines


def message(alerts: pl.DataFrame, *, title: str = "crmkit KPI alerts", format: str = "slack") -> dict[str, Any]:
    """The JSON body for a chat webhook: Slack (``{"text": ...}``), WeCom and DingTalk
    group robots (``{"msgtype": "text", "text": {"content": ...}}``), or ``json``
    (the text plus every alert as a record).

    >>> import polars as pl
    >>> a = pl.DataFrame({"period_start": ["2024-05-01"], "kpi": ["revenue"], "severity": ["critical"],
    ...                   "reason": ["revenue 10 is 90% below the expected 100"]})
    >>> message(a, format="wecom")["text"]["content"].splitlines()[1]
    '[critical] 2024-05-01: revenue 10 is 90% below the expected 100'
    """
    if format not in FORMATS:
        raise CrmError(f"alerts format must be one of {list(FORMATS)}, found {format!r}")
    lines = [f"{title}: {alerts.height} alert(s)"]
    skip = {"freq", "period_start", "period_end", "kpi", "value", "expected", "lower", "upper", "score", "direction",
            "severity", "kind", "reason", "is_alert"}
    groups = [c for c in alerts.columns if c not in skip]
    for r in alerts.head(20).iter_rows(named=True):
        where = ", ".join(f"{c}={r[c]}" for c in groups if r[c] is not None)
        lines.append(f"[{r['severity']}] {r['period_start']}{' ' + where if where else ''}: {r['reason']}")
    if alerts.height > 20:
        lines.append(f"... and {alerts.height - 20} more")
    text = "\n".join(lines)
    if format == "slack":
        return {"text": text}
    if format in ("wecom", "dingtalk"):
        return {"msgtype": "text", "text": {"content": text}}
    return {"text": text, "alerts": json.loads(alerts.write_json())}


def post(alerts: pl.DataFrame, url: str, *, format: str = "slack", timeout: float = 10.0,
         title: str = "crmkit KPI alerts") -> int:
    """Posts the alerts to a webhook; returns the HTTP status. Raises CrmError naming
    the URL and the cause when the post fails (connection refused, HTTP error, or a
    WeCom/DingTalk reply with a non-zero ``errcode``)."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise CrmError(f"--alerts-webhook must be an http(s) URL, found {url!r}")
    body = json.dumps(message(alerts, title=title, format=format), ensure_ascii=False, default=str).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status: int = response.status
            reply = response.read(65536)
    except urllib.error.HTTPError as e:
        raise CrmError(f"posting alerts to {url} failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise CrmError(f"posting alerts to {url} failed: {reason}") from None
    try:
        parsed: Optional[dict[str, Any]] = json.loads(reply) if reply else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errcode") not in (None, 0):
        raise CrmError(f"posting alerts to {url} failed: the webhook replied errcode {parsed.get('errcode')} "
                       f"({parsed.get('errmsg', '')})")
    return status
