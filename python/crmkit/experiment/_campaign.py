"""Campaign evaluation against a randomised holdout: who responded within the window
after sending, what the campaign added over control, whether it paid."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Optional, Sequence, Union

import numpy as np
import polars as pl

from crmkit import _core
from crmkit._validate import align_keys, as_lazy, require_columns, require_no_nulls, require_rows, schema_of
from crmkit.errors import CrmError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(w|d|h|m|s)\s*$")
_US = {"w": 604_800_000_000, "d": 86_400_000_000, "h": 3_600_000_000, "m": 60_000_000, "s": 1_000_000}


def _window_us(window: Any, function: str) -> int:
    if isinstance(window, dt.timedelta):
        us = int(window / dt.timedelta(microseconds=1))
    elif isinstance(window, str) and (match := _DURATION.match(window)):
        num, unit = match.groups()
        us = int(float(num) * _US[unit])
    elif isinstance(window, (int, float)) and not isinstance(window, bool):
        us = int(window * _US["d"])
    else:
        raise CrmError(f"{function}: argument 'window' must be a duration such as '30d', '2w', '12h', a number of "
                       f"days or a datetime.timedelta, found {window!r}")
    if us <= 0:
        raise CrmError(f"{function}: argument 'window' must be positive, found {window!r}")
    return us


def campaign(
    campaigns: Union[pl.DataFrame, pl.LazyFrame],
    orders: Union[pl.DataFrame, pl.LazyFrame],
    *,
    window: Any = "30d",
    cost: Union[None, float, pl.DataFrame] = None,
    by: Union[None, str, Sequence[str]] = None,
    customer: str = "customer_id",
    group: str = "group",
    sent: str = "sent_at",
    campaign: str = "campaign_id",
    date: str = "order_date",
    amount: str = "amount",
    control: Any = "control",
    margin: float = 1.0,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Evaluates campaigns with a randomised holdout from the campaign table and the
    orders: per campaign (and ``by`` segment) and group, the customers, responders (at
    least one order in ``[sent_at, sent_at + window)``), response rate, orders and
    revenue per customer in the window; on each treatment row the increments over the
    control group with ``1 - alpha`` Welch intervals (gbstats semantics, as `ab_test`):
    ``incremental_response`` (difference of response rates) and its ``lift``,
    ``incremental_orders_per_customer``, ``incremental_revenue_per_customer`` and the
    total ``incremental_revenue`` (per-customer increment × treated customers), with
    p-values; and the economics: ``cost`` and ``roi`` = (margin × incremental revenue -
    cost) / cost.

    ``cost``: None takes the campaign table's ``cost`` column (cost per row, 0 for the
    holdout) when it has one; a number is the cost per contacted (treatment) customer; a
    table with ``campaign_id`` and ``cost_per_contact`` or ``cost`` (total per campaign)
    gives per-campaign costs. ``by``: columns of the campaign table to split by, e.g. the
    RFM segment at send time (join it in first) — the uplift view that says whom to
    target next time. Every group other than ``control`` is compared with it.

    >>> import crmkit
    >>> world = crmkit.datasets.generate(n_customers=2_000, seed=5, campaigns=3)
    >>> result = campaign(world.campaigns, world.orders)
    >>> result.filter(pl.col("group") == "treatment").height
    3
    """
    fn = "crmkit.experiment.campaign"
    by_cols = [by] if isinstance(by, str) else list(by or [])
    cl = as_lazy(campaigns, argument="campaigns")
    ol = as_lazy(orders, argument="orders")
    require_columns(cl, {campaign: "id", customer: "id", group: "any", sent: "temporal", **{b: "any" for b in by_cols}},
                    function=fn, argument="campaigns")
    require_columns(ol, {customer: "id", date: "temporal", amount: "numeric"}, function=fn, argument="orders")
    cl, ol = align_keys(cl, ol, {customer: customer}, function=fn, left_argument="campaigns", right_argument="orders")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin > 0:
        raise CrmError(f"{fn}: argument 'margin' must be a positive number (share of revenue that is profit), found {margin!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise CrmError(f"{fn}: argument 'alpha' must lie in (0, 1), found {alpha!r}")
    wus = _window_us(window, fn)
    cschema = schema_of(cl)
    has_cost_col = "cost" in cschema and cschema["cost"].is_numeric()
    members = cl.select(campaign, customer, group, sent, *by_cols, *(["cost"] if has_cost_col else [])).collect()
    require_rows(members, function=fn, argument="campaigns")
    require_no_nulls(members, [campaign, customer, group, sent], function=fn, argument="campaigns")
    dup = members.height - members.select(pl.struct(campaign, customer).n_unique()).item()
    if dup:
        raise CrmError(f"{fn}: column '{customer}' in 'campaigns' repeats {dup} customer(s) within the same "
                       f"'{campaign}'; each customer must be in one group per campaign")
    groups = members[group].unique().to_list()
    if control not in groups:
        raise CrmError(f"{fn}: control group {control!r} not found in column '{group}' (it holds {sorted(map(str, groups))}); "
                       f"a campaign needs a randomised holdout to measure its effect")
    sent_dtype = members.schema[sent]
    odtype = schema_of(ol)[date]
    # Compare instants on one time unit (dates count from midnight).
    def to_us(e: pl.Expr, d: pl.DataType) -> pl.Expr:
        return e.cast(pl.Datetime("us"))

    ords = ol.select(pl.col(customer), to_us(pl.col(date), odtype).alias("__t"), pl.col(amount).cast(pl.Float64).alias("__a"))
    mem = members.lazy().with_columns(to_us(pl.col(sent), sent_dtype).alias("__s"))
    per = (
        mem.select(campaign, customer, "__s")
        .join(ords, on=customer, how="inner")
        .filter((pl.col("__t") >= pl.col("__s")) & (pl.col("__t") < pl.col("__s") + pl.duration(microseconds=wus)))
        .group_by(campaign, customer)
        .agg(pl.len().alias("__orders"), pl.col("__a").sum().alias("__revenue"))
    )
    units = (
        mem.join(per, on=[campaign, customer], how="left")
        .with_columns(pl.col("__orders").fill_null(0).cast(pl.Float64), pl.col("__revenue").fill_null(0.0))
        .with_columns((pl.col("__orders") > 0).cast(pl.Float64).alias("__resp"))
        .collect()
    )
    keys = [campaign, *by_cols]
    stats = units.group_by([*keys, group]).agg(
        pl.len().alias("customers"),
        pl.col("__resp").sum().alias("responders"),
        pl.col("__orders").sum().alias("orders"),
        (pl.col("__orders") ** 2).sum().alias("__orders_sq"),
        pl.col("__revenue").sum().alias("revenue"),
        (pl.col("__revenue") ** 2).sum().alias("__revenue_sq"),
        pl.col("__s").min().alias("sent_at"),
        *([pl.col("cost").sum().alias("__cost")] if has_cost_col else []),
    ).sort([*keys, group])
    stats = stats.with_columns(
        (pl.col("responders") / pl.col("customers")).alias("response_rate"),
        (pl.col("orders") / pl.col("customers")).alias("orders_per_customer"),
        (pl.col("revenue") / pl.col("customers")).alias("revenue_per_customer"),
    )
    ctrl = stats.filter(pl.col(group) == control)
    treat = stats.filter(pl.col(group) != control)
    c_cols = {"customers": "c_n", "responders": "c_resp", "orders": "c_orders", "__orders_sq": "c_orders_sq",
              "revenue": "c_rev", "__revenue_sq": "c_rev_sq"}
    pairs = treat.join(ctrl.select(*keys, *[pl.col(k).alias(v) for k, v in c_cols.items()]), on=keys, how="left")
    pairs = pairs.with_columns([pl.col(v).fill_null(0.0).cast(pl.Float64) for v in c_cols.values()])

    def compare(kind: int, t_sum: str, t_sq: Optional[str], c_sum: str, c_sq: Optional[str]) -> pl.DataFrame:
        table = pairs.select(
            pl.lit(kind, pl.Int64).alias("kind"),
            pl.col("customers").cast(pl.Float64).alias("t_n"), pl.col(t_sum).cast(pl.Float64).alias("t_sum"),
            (pl.col(t_sq) if t_sq else pl.col(t_sum)).cast(pl.Float64).alias("t_sum_sq"),
            pl.col("c_n").alias("c_n"), pl.col(c_sum).alias("c_sum"),
            (pl.col(c_sq) if c_sq else pl.col(c_sum)).alias("c_sum_sq"),
        )
        return _core.experiment_compare(table, float(alpha), "two-sided", "welch", "frequentist", True, 0.0, None, 5000.0)

    resp = compare(0, "responders", None, "c_resp", None)
    ordr = compare(1, "orders", "__orders_sq", "c_orders", "c_orders_sq")
    rev = compare(1, "revenue", "__revenue_sq", "c_rev", "c_rev_sq")
    treated = pairs["customers"].cast(pl.Float64)
    inc = pl.DataFrame({
        "incremental_response": resp["diff"], "incremental_response_lower": resp["diff_lower"],
        "incremental_response_upper": resp["diff_upper"], "response_p_value": resp["p_value"],
        "response_lift": resp["lift"], "response_lift_lower": resp["lift_lower"], "response_lift_upper": resp["lift_upper"],
        "incremental_orders_per_customer": ordr["diff"], "incremental_orders_per_customer_lower": ordr["diff_lower"],
        "incremental_orders_per_customer_upper": ordr["diff_upper"],
        "incremental_revenue_per_customer": rev["diff"], "incremental_revenue_per_customer_lower": rev["diff_lower"],
        "incremental_revenue_per_customer_upper": rev["diff_upper"], "revenue_p_value": rev["p_value"],
        "incremental_revenue": rev["diff"] * treated, "incremental_revenue_lower": rev["diff_lower"] * treated,
        "incremental_revenue_upper": rev["diff_upper"] * treated,
        "reason": resp["reason"].fill_null(rev["reason"]),
    })
    pairs = pl.concat([pairs, inc], how="horizontal")
    # Costs of the contacted group.
    if isinstance(cost, pl.DataFrame):
        require_columns(cost, {campaign: "id"}, function=fn, argument="cost")
        if "cost_per_contact" in cost.columns:
            pairs = pairs.join(cost.select(campaign, pl.col("cost_per_contact").cast(pl.Float64)), on=campaign, how="left") \
                .with_columns((pl.col("cost_per_contact") * pl.col("customers")).alias("cost")).drop("cost_per_contact")
        elif "cost" in cost.columns:
            if by_cols:
                raise CrmError(f"{fn}: a total cost per campaign cannot be split across 'by' segments; give "
                               f"'cost_per_contact' in the cost table instead")
            pairs = pairs.join(cost.select(campaign, pl.col("cost").cast(pl.Float64)), on=campaign, how="left")
        else:
            raise CrmError(f"{fn}: the cost table needs a 'cost_per_contact' or 'cost' column beside '{campaign}'")
    elif cost is not None:
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or cost < 0:
            raise CrmError(f"{fn}: argument 'cost' must be a non-negative cost per contact, a cost table or None, found {cost!r}")
        pairs = pairs.with_columns((pl.col("customers") * float(cost)).alias("cost"))
    elif has_cost_col:
        pairs = pairs.with_columns(pl.col("__cost").alias("cost"))
    else:
        pairs = pairs.with_columns(pl.lit(None, pl.Float64).alias("cost"))
    pairs = pairs.with_columns(
        pl.when(pl.col("cost") > 0)
        .then((margin * pl.col("incremental_revenue") - pl.col("cost")) / pl.col("cost"))
        .otherwise(None).alias("roi"),
        pl.when(pl.col("cost") > 0)
        .then((margin * pl.col("incremental_revenue_lower") - pl.col("cost")) / pl.col("cost"))
        .otherwise(None).alias("roi_lower"),
        pl.when(pl.col("cost") > 0)
        .then((margin * pl.col("incremental_revenue_upper") - pl.col("cost")) / pl.col("cost"))
        .otherwise(None).alias("roi_upper"),
    )
    base_cols = [*keys, group, "sent_at", "customers", "responders", "response_rate", "orders", "orders_per_customer",
                 "revenue", "revenue_per_customer"]
    inc_cols = [c for c in inc.columns if c != "reason"] + ["cost", "roi", "roi_lower", "roi_upper", "reason"]
    ctrl_rows = ctrl.select(base_cols).with_columns(
        [pl.lit(None, pairs.schema[c]).alias(c) for c in inc_cols]
    ).with_columns(pl.lit(0.0).alias("cost") if (has_cost_col or cost is not None) else pl.lit(None, pl.Float64).alias("cost"))
    out = pl.concat([pairs.select(*base_cols, *inc_cols), ctrl_rows.select(*base_cols, *inc_cols)], how="vertical_relaxed")
    order = pl.col(group) == control
    return out.with_columns(pl.col(c).cast(pl.Int64) for c in ("responders", "orders")).sort([*keys, order, group])


def demo_summary(result: pl.DataFrame, *, campaign: str = "campaign_id", group: str = "group") -> list[str]:
    """A few lines summarising `campaign`'s result for the pipeline log."""
    lines = []
    treat = result.filter(pl.col("incremental_response").is_not_null())
    for row in treat.sort(campaign).iter_rows(named=True):
        roi = row.get("roi")
        lines.append(
            f"campaign {row[campaign]} ({row[group]}): response {row['response_rate']:.1%}, incremental "
            f"{row['incremental_response']:+.2%} [{row['incremental_response_lower']:+.2%}, "
            f"{row['incremental_response_upper']:+.2%}], incremental revenue {row['incremental_revenue']:,.0f}"
            + (f", ROI {roi:+.1f}" if roi is not None else "")
        )
    return lines
