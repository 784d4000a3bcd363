"""Behaviour analytics on event logs and orders: funnels, paths, transitions, cohorts.

Grouping, sorting and counting are composed in polars; the per-user funnel scan
(ClickHouse ``windowFunnel`` semantics) runs in Rust over users in parallel.

>>> import polars as pl
>>> from datetime import datetime
>>> events = pl.DataFrame({
...     "customer_id": [1, 1, 1, 2, 2, 3],
...     "event": ["view", "cart", "purchase", "view", "cart", "view"],
...     "timestamp": [datetime(2024, 1, 1, h) for h in (9, 10, 11, 9, 12, 8)],
... })
>>> funnel(events, ["view", "cart", "purchase"]).select("step", "users", "conversion").rows()
[('view', 3, 1.0), ('cart', 2, 0.6666666666666666), ('purchase', 1, 0.3333333333333333)]
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union, cast

import numpy as np
import polars as pl

from crmkit import _core
from crmkit._validate import (
    Kind,
    as_lazy,
    require_choice,
    require_columns,
    require_no_nulls,
    require_positive_int,
)
from crmkit.errors import CrmError, SchemaError, TooLargeError

if TYPE_CHECKING:
    from polars._typing import PolarsDataType
    from crmkit._pipeline import StepOutput

__all__ = [
    "funnel",
    "funnel_levels",
    "pipeline_funnel",
    "paths",
    "transitions",
    "next_steps",
    "cohorts",
    "cohort_matrix",
]

_UNITS_US = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000, "w": 604_800_000_000}
_DURATION = re.compile(r"(\d+)(us|ms|s|m|h|d|w)")


def _window_us(window: Any, *, function: str, integer_time: bool) -> int:
    """A window as an integer (microseconds for temporal timestamps)."""
    if window is None:
        return np.iinfo(np.int64).max
    if integer_time:
        if isinstance(window, bool) or not isinstance(window, int) or window < 0:
            raise CrmError(
                f"{function}: with an integer timestamp column, window must be a non-negative integer "
                f"in the same units, found {window!r}"
            )
        return window
    if isinstance(window, timedelta):
        us = (window.days * 86_400 + window.seconds) * 1_000_000 + window.microseconds
        if us < 0:
            raise CrmError(f"{function}: window must not be negative, found {window!r}")
        return us
    if isinstance(window, str):
        text = window.replace(" ", "")
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return sum(int(n) * _UNITS_US[u] for n, u in parts)
    raise CrmError(
        f"{function}: window must be a duration like '7d', '12h', '1d12h', '30m' or a datetime.timedelta "
        f"(months and years have no fixed length), found {window!r}"
    )


def _event_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return pl.col(name).cast(pl.String)
    return pl.col(name)


def _time_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_integer():
        return pl.col(name).cast(pl.Int64)
    return pl.col(name).cast(pl.Datetime("us")).dt.epoch("us") if dtype == pl.Date else pl.col(name).dt.epoch("us")


def _as_list(by: Union[None, str, Sequence[str]]) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _check_steps(steps: Any, function: str) -> list[Any]:
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence) or len(steps) == 0:
        raise CrmError(f"{function}: steps must be a non-empty list of event values, found {steps!r}")
    values: list[Any] = list(steps)
    if len(set(values)) != len(values):
        dup = sorted({s for s in values if values.count(s) > 1}, key=str)
        raise CrmError(f"{function}: steps must be distinct, found {dup} more than once")
    if len(values) > 10_000:
        raise CrmError(f"{function}: at most 10,000 steps, found {len(values)}")
    return values


def _levels(
    events: Any,
    steps: Any,
    user: str,
    event: str,
    timestamp: str,
    window: Any,
    mode: str,
    by: Union[None, str, Sequence[str]],
    function: str,
) -> tuple[pl.DataFrame, np.ndarray, list[Any], list[str], bool]:
    """Per-user levels (keys + level) and the (users x steps) matrix of shortest times."""
    steps = _check_steps(steps, function)
    require_choice(mode, "mode", ["ordered", "strict", "any"], function=function)
    keys = _as_list(by)
    lf = as_lazy(events, argument="events")
    schema = require_columns(
        lf, {user: "id", event: "any", timestamp: "any", **{k: "any" for k in keys}}, function=function, argument="events"
    )
    ts_dtype = schema[timestamp]
    integer_time = ts_dtype.is_integer()
    if not (integer_time or ts_dtype == pl.Date or isinstance(ts_dtype, pl.Datetime)):
        raise SchemaError(
            f"{function}: column '{timestamp}' in 'events' must be a date, datetime or integer column, "
            f"found dtype {ts_dtype}. Parse it first, e.g. pl.col('{timestamp}').str.to_datetime()"
        )
    window_int = _window_us(window, function=function, integer_time=integer_time)
    ev_dtype = schema[event]
    plain = pl.String if isinstance(ev_dtype, (pl.Categorical, pl.Enum)) else ev_dtype
    try:
        step_values = pl.Series("steps", steps).cast(plain, strict=True)
    except Exception as exc:
        raise SchemaError(
            f"{function}: steps {steps!r} do not match the dtype {ev_dtype} of column '{event}'"
        ) from exc
    if isinstance(ev_dtype, pl.Enum):
        # Map the Enum's physical codes: no string work per row.
        categories = ev_dtype.categories.to_list()
        codes = [categories.index(v) for v in step_values.to_list() if v in categories]
        idx = [i for i, v in enumerate(step_values.to_list()) if v in categories]
        step_expr = (
            pl.col(event)
            .to_physical()
            .cast(pl.Int64)
            .replace_strict(codes, idx, default=None, return_dtype=pl.UInt32)
            if codes
            else pl.lit(None, pl.UInt32)
        )
    else:
        step_expr = _event_expr(event, ev_dtype).replace_strict(
            step_values, pl.int_range(len(steps), eager=True), default=None, return_dtype=pl.UInt32
        )
    # Rows only need to be grouped by user here; the kernel orders each user's
    # events by (timestamp, step) itself, in parallel.
    matched = (
        lf.select(
            *[pl.col(k) for k in keys],
            pl.col(user),
            _time_expr(timestamp, ts_dtype).alias("_t"),
            step_expr.alias("_s"),
        )
        .filter(pl.col("_s").is_not_null())
        .sort([*keys, user])
        .collect()
    )
    require_no_nulls(matched, [user, "_t"], function=function, argument="events", names={"_t": timestamp})
    if matched.height == 0:
        return matched.select(*keys, user).clear().with_columns(pl.lit(0, pl.UInt32).alias("level")), np.zeros(
            (0, len(steps)), dtype=np.int64
        ), steps, keys, integer_time
    runs = matched.select(pl.struct([*keys, user]).rle().alias("r")).unnest("r")
    lengths = runs.get_column("len").to_numpy().astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    users = runs.select(pl.col("value").struct.unnest())
    levels, times = _core.behaviour_funnel(
        offsets,
        matched.get_column("_t").to_numpy(),
        matched.get_column("_s").to_numpy(),
        len(steps),
        int(window_int),
        mode,
    )
    return users.with_columns(pl.Series("level", levels)), times.reshape(-1, len(steps)), steps, keys, integer_time


def funnel_levels(
    events: Any,
    steps: Sequence[Any],
    user: str = "customer_id",
    event: str = "event",
    timestamp: str = "timestamp",
    window: Any = "7d",
    mode: str = "ordered",
    by: Union[None, str, Sequence[str]] = None,
) -> pl.DataFrame:
    """Per user (and group of ``by``): how many leading funnel steps were reached.

    Same semantics as `funnel`; only users with at least one event of a listed
    step appear. Columns: ``by`` columns, ``user``, ``level`` (0..len(steps)).

    >>> import polars as pl
    >>> ev = pl.DataFrame({"customer_id": [1, 1, 2], "event": ["view", "cart", "cart"], "timestamp": [1, 2, 3]})
    >>> funnel_levels(ev, ["view", "cart"], window=10).sort("customer_id").rows()
    [(1, 2), (2, 0)]
    """
    users, _, _, _, _ = _levels(events, steps, user, event, timestamp, window, mode, by, "crmkit.funnel_levels")
    return users


def funnel(
    events: Any,
    steps: Sequence[Any],
    user: str = "customer_id",
    event: str = "event",
    timestamp: str = "timestamp",
    window: Any = "7d",
    mode: str = "ordered",
    by: Union[None, str, Sequence[str]] = None,
) -> pl.DataFrame:
    """Conversion funnel with ClickHouse ``windowFunnel`` semantics.

    For each user (per group of ``by``) the level is the number of leading
    ``steps`` reached:

    - ``mode="ordered"``: events of steps 1..k whose timestamps do not decrease,
      all within ``window`` of the first step's event (inclusive). Events with
      equal timestamps may serve consecutive steps, so row order never matters.
    - ``mode="strict"``: as ordered, and no other listed step occurs between two
      matched steps (events ordered by timestamp, then step position).
    - ``mode="any"``: steps 1..k each occur within one span of ``window``, in any
      order.

    ``window``: a duration string ('7d', '12h', '1d12h', '30m'), a timedelta, or
    None for no limit; an integer when ``timestamp`` is an integer column.
    ``by`` computes one funnel per group (a user counts in each group where they
    have events).

    Returns one row per step (per group): ``step_number`` (1-based), ``step``,
    ``users`` (who reached it), ``conversion`` (from step 1), ``step_conversion``
    (from the previous step), ``drop_off`` (users lost since the previous step),
    ``drop_off_rate``, ``median_time_to_step`` and ``mean_time_to_step`` (per
    user, the shortest time from a step-1 event to this step along a valid
    chain; in "any" mode the shortest span covering steps 1..k), and
    ``is_bottleneck`` (True on the step with the largest drop-off rate, if any
    users were lost). When nobody reached step 1, rates are null.

    >>> import polars as pl
    >>> ev = pl.DataFrame({"customer_id": [1, 1, 2, 2], "event": ["view", "buy", "buy", "view"],
    ...                    "timestamp": [1, 5, 1, 2]})
    >>> funnel(ev, ["view", "buy"], window=10).select("step", "users", "is_bottleneck").rows()
    [('view', 2, False), ('buy', 1, True)]
    >>> funnel(ev, ["view", "buy"], window=10, mode="any")["users"].to_list()
    [2, 2]
    """
    fn = "crmkit.funnel"
    users, times, steps, keys, integer_time = _levels(events, steps, user, event, timestamp, window, mode, by, fn)
    n_steps = len(steps)
    # Long table of (user, step, time) for every step each user reached.
    mask = times >= 0
    uidx, sidx = np.nonzero(mask)
    reached = pl.DataFrame(
        {
            "_u": uidx.astype(np.int64),
            "_j": sidx.astype(np.int64),
            "_time": times[mask].astype(np.int64),
        }
    )
    key_frame = users.select(keys).with_row_index("_u").with_columns(pl.col("_u").cast(pl.Int64))
    if keys:
        reached = reached.join(key_frame, on="_u", how="left")
    agg = reached.group_by([*keys, "_j"]).agg(
        pl.len().alias("users"),
        pl.col("_time").median().alias("_median"),
        pl.col("_time").mean().alias("_mean"),
    )
    return _funnel_table(agg, key_frame.select(keys).unique(maintain_order=True), steps, keys, integer_time)


def _funnel_table(agg: pl.DataFrame, key_values: pl.DataFrame, steps: list[Any], keys: list[str],
                  integer_time: bool) -> pl.DataFrame:
    """The funnel table from per-(group, step) users, median and mean time to step.
    ``key_values``: the groups (one row each). Shared with crmkit.spark.funnel, which
    aggregates in Spark and finishes here."""
    n_steps = len(steps)
    step_frame = pl.DataFrame({"_j": np.arange(n_steps, dtype=np.int64), "step": pl.Series(steps)})
    if keys:
        grid = key_values.join(step_frame, how="cross")
    else:
        grid = step_frame
    out = grid.join(agg, on=[*keys, "_j"], how="left").with_columns(pl.col("users").fill_null(0).cast(pl.UInt32))
    out = out.sort([*keys, "_j"]) if keys else out.sort("_j")
    over = keys if keys else None

    def per_group(expr: pl.Expr) -> pl.Expr:
        return expr.over(over) if over else expr

    first = per_group(pl.col("users").first())
    prev = per_group(pl.col("users").shift(1))
    users_f = pl.col("users").cast(pl.Float64)
    out = out.with_columns(
        pl.when(first > 0).then(users_f / first).otherwise(None).alias("conversion"),
        pl.when(pl.col("_j") == 0)
        .then(pl.when(first > 0).then(1.0).otherwise(None))
        .when(prev > 0)
        .then(users_f / prev)
        .otherwise(None)
        .alias("step_conversion"),
        pl.when(pl.col("_j") == 0).then(0).otherwise(prev.cast(pl.Int64) - pl.col("users").cast(pl.Int64)).alias(
            "drop_off"
        ),
    ).with_columns((1.0 - pl.col("step_conversion")).alias("drop_off_rate"))
    # One window expression per step (older polars refuses nested windows).
    out = out.with_columns(per_group(pl.col("drop_off_rate").filter(pl.col("_j") > 0).max()).alias("_worst"))
    worst = pl.col("_worst")
    out = out.with_columns(
        ((pl.col("drop_off_rate") == worst) & (worst > 0) & (pl.col("_j") > 0)).fill_null(False).alias("_is_worst")
    )
    out = out.with_columns(
        (pl.col("_is_worst") & (per_group(pl.col("_is_worst").cum_sum()) == 1)).alias("is_bottleneck")
    )
    if integer_time:
        median = pl.col("_median").alias("median_time_to_step")
        mean = pl.col("_mean").alias("mean_time_to_step")
    else:
        median = pl.col("_median").round(0).cast(pl.Int64).cast(pl.Duration("us")).alias("median_time_to_step")
        mean = pl.col("_mean").round(0).cast(pl.Int64).cast(pl.Duration("us")).alias("mean_time_to_step")
    return out.select(
        *keys,
        (pl.col("_j") + 1).cast(pl.UInt32).alias("step_number"),
        "step",
        "users",
        "conversion",
        "step_conversion",
        "drop_off",
        "drop_off_rate",
        median,
        mean,
        "is_bottleneck",
    )


def pipeline_funnel(
    opportunities: Any,
    stage: str = "stage",
    amount: Optional[str] = "amount",
    order: Sequence[Any] = (),
    won: Any = None,
    *,
    lost: Union[None, Any, Sequence[Any]] = None,
    reached: Optional[str] = None,
) -> pl.DataFrame:
    """The stage-based sales funnel CRM dashboards show.

    ``order`` lists the pipeline stages from first to last; ``won`` is the
    stage that means won (default: the last of ``order``). An open or won
    opportunity at stage k has passed every stage before k. Opportunities in a
    ``lost`` stage count as reaching the stage named in the ``reached`` column
    (their furthest stage) when given, otherwise only the first stage.
    Opportunities in any other stage raise an error naming them.

    Columns: ``stage``, ``count`` and ``amount`` (opportunities currently at the
    stage), ``reached`` and ``reached_amount`` (at this stage or beyond),
    ``conversion`` (reached / reached at the first stage), ``step_conversion``,
    ``won`` (won opportunities among those that reached the stage) and
    ``win_rate`` (won / reached).

    >>> import polars as pl
    >>> opp = pl.DataFrame({"stage": ["lead", "lead", "proposal", "won", "lost"],
    ...                     "amount": [10.0, 20.0, 30.0, 40.0, 50.0]})
    >>> pipeline_funnel(opp, order=["lead", "proposal", "won"], lost="lost").select("stage", "reached", "win_rate").rows()
    [('lead', 5, 0.2), ('proposal', 2, 0.5), ('won', 1, 1.0)]
    """
    fn = "crmkit.pipeline_funnel"
    order = list(order)
    if not order or len(set(order)) != len(order):
        raise CrmError(f"{fn}: order must be a non-empty list of distinct stages, found {order!r}")
    won = order[-1] if won is None else won
    if won not in order:
        raise CrmError(f"{fn}: won={won!r} must be one of the stages in order {order}")
    lost_list = [] if lost is None else ([lost] if isinstance(lost, (str, int)) else list(lost))
    if set(lost_list) & set(order):
        raise CrmError(f"{fn}: lost stages {lost_list} must not appear in order {order}")
    lf = as_lazy(opportunities, argument="opportunities")
    cols: dict[str, Kind] = {stage: "any"}
    if amount is not None:
        cols[amount] = "numeric"
    if reached is not None:
        cols[reached] = "any"
    schema = require_columns(lf, cols, function=fn, argument="opportunities")
    stage_values = pl.Series(order).cast(pl.String)
    idx = {s: i for i, s in enumerate(stage_values.to_list())}
    lost_str = [str(x) for x in lost_list]
    df = lf.select(
        _event_expr(stage, schema[stage]).cast(pl.String).alias("_stage"),
        (pl.col(amount).cast(pl.Float64) if amount is not None else pl.lit(0.0)).alias("_amount"),
        (_event_expr(reached, schema[reached]).cast(pl.String) if reached else pl.lit(None, pl.String)).alias(
            "_reached"
        ),
    ).collect()
    require_no_nulls(df, ["_stage"], function=fn, argument="opportunities")
    unknown = df.filter(~pl.col("_stage").is_in(list(idx) + lost_str)).get_column("_stage").unique().to_list()
    if unknown:
        raise CrmError(
            f"{fn}: column '{stage}' holds stages {sorted(unknown)[:10]} that are neither in order {order} "
            f"nor lost {lost_list}; add them to one of the two"
        )
    mapping = pl.Series(list(idx)), pl.Series(list(idx.values()), dtype=pl.Int64)
    df = df.with_columns(
        pl.col("_stage").replace_strict(*mapping, default=None).alias("_at"),
        pl.col("_reached").replace_strict(*mapping, default=None).alias("_furthest"),
    ).with_columns(
        pl.when(pl.col("_at").is_not_null())
        .then(pl.col("_at"))
        .otherwise(pl.col("_furthest").fill_null(0))
        .alias("_reach"),
        (pl.col("_stage") == str(won)).alias("_won"),
    )
    rows = []
    for j, name in enumerate(order):
        at = df.filter(pl.col("_at") == j)
        beyond = df.filter(pl.col("_reach") >= j)
        rows.append(
            {
                "stage": str(name),
                "count": at.height,
                "amount": float(at.get_column("_amount").sum()),
                "reached": beyond.height,
                "reached_amount": float(beyond.get_column("_amount").sum()),
                "won": int(beyond.get_column("_won").sum()),
            }
        )
    out = pl.DataFrame(rows, schema_overrides={"count": pl.UInt32, "reached": pl.UInt32, "won": pl.UInt32})
    first = pl.col("reached").first()
    out = out.with_columns(
        pl.when(first > 0).then(pl.col("reached") / first).alias("conversion"),
        pl.when(pl.col("reached").shift(1).is_null())
        .then(pl.when(first > 0).then(1.0))
        .when(pl.col("reached").shift(1) > 0)
        .then(pl.col("reached") / pl.col("reached").shift(1))
        .alias("step_conversion"),
        pl.when(pl.col("reached") > 0).then(pl.col("won") / pl.col("reached")).alias("win_rate"),
    )
    if amount is None:
        out = out.drop("amount", "reached_amount")
    return out


def _journeys(
    events: Any, user: str, event: str, timestamp: str, session: Optional[str], function: str
) -> tuple[pl.LazyFrame, list[str]]:
    lf = as_lazy(events, argument="events")
    cols: dict[str, Kind] = {user: "id", event: "any", timestamp: "any"}
    if session is not None:
        cols[session] = "any"
    schema = require_columns(lf, cols, function=function, argument="events")
    keys = [user] if session is None else [user, session]
    # Journeys are ordered by time: a row without a user or a timestamp has no place.
    require_no_nulls(lf, [*keys, timestamp], function=function, argument="events")
    out = lf.select(*keys, pl.col(timestamp), _event_expr(event, schema[event]).alias(event)).sort(
        [*keys, timestamp], maintain_order=True
    )
    return out, keys


def paths(
    events: Any,
    user: str = "customer_id",
    event: str = "event",
    timestamp: str = "timestamp",
    session: Optional[str] = None,
    max_len: int = 5,
    top: int = 20,
    *,
    collapse_repeats: bool = False,
) -> pl.DataFrame:
    """The most frequent event sequences (journeys per user, or per session).

    Each journey is the journey's first ``max_len`` events in timestamp order
    (rows with equal timestamps keep their input order). With
    ``collapse_repeats`` consecutive repeats of an event count once. Columns:
    ``path`` (list), ``length``, ``count`` (journeys), ``share`` (of all
    journeys); the ``top`` most frequent, ties by path.

    >>> import polars as pl
    >>> ev = pl.DataFrame({"customer_id": [1, 1, 2, 2, 3], "event": ["view", "buy", "view", "buy", "view"],
    ...                    "timestamp": [1, 2, 1, 2, 1]})
    >>> paths(ev).rows()
    [(['view', 'buy'], 2, 2, 0.6666666666666666), (['view'], 1, 1, 0.3333333333333333)]
    """
    fn = "crmkit.paths"
    require_positive_int(max_len, "max_len", function=fn)
    require_positive_int(top, "top", function=fn)
    lf, keys = _journeys(events, user, event, timestamp, session, fn)
    if collapse_repeats:
        lf = lf.filter(pl.col(event).ne_missing(pl.col(event).shift(1).over(keys)) | (pl.int_range(pl.len()).over(keys) == 0))
    journeys = lf.group_by(keys, maintain_order=True).agg(pl.col(event).head(max_len).alias("path"))
    out = (
        journeys.group_by("path")
        .agg(pl.len().alias("count"))
        .with_columns(
            pl.col("path").list.len().alias("length"),
            (pl.col("count") / pl.col("count").sum()).alias("share"),
            pl.col("path").cast(pl.List(pl.String)).list.join("\u001f").alias("_key"),
        )
        .sort(["count", "_key"], descending=[True, False])
        .head(top)
        .select("path", "length", pl.col("count").cast(pl.UInt32), "share")
    )
    return out.collect()


def transitions(
    events: Any,
    user: str = "customer_id",
    event: str = "event",
    timestamp: str = "timestamp",
    session: Optional[str] = None,
    *,
    start_end: bool = False,
) -> pl.DataFrame:
    """Markov transition table between consecutive events of a journey.

    Columns ``from``, ``to``, ``count`` and ``probability`` (count / all
    transitions leaving ``from``), sorted by ``from`` then count descending:
    ready for a sankey plot. With ``start_end`` the journey's first event comes
    from ``"(start)"`` and its last goes to ``"(end)"`` (events become strings).

    >>> import polars as pl
    >>> ev = pl.DataFrame({"customer_id": [1, 1, 1, 2, 2], "event": ["view", "cart", "buy", "view", "view"],
    ...                    "timestamp": [1, 2, 3, 1, 2]})
    >>> transitions(ev).rows()
    [('cart', 'buy', 1, 1.0), ('view', 'cart', 1, 0.5), ('view', 'view', 1, 0.5)]
    """
    return _transitions(events, user, event, timestamp, session, start_end, "crmkit.transitions")


def _transitions(events: Any, user: str, event: str, timestamp: str, session: Optional[str], start_end: bool,
                 fn: str) -> pl.DataFrame:
    lf, keys = _journeys(events, user, event, timestamp, session, fn)
    ev = pl.col(event)
    if start_end:
        ev = ev.cast(pl.String)
        pos = pl.int_range(pl.len()).over(keys)
        n = pl.len().over(keys)
        lf = lf.with_columns(ev.alias("_e"))
        first = lf.filter(pos == 0).select(pl.lit("(start)").alias("from"), pl.col("_e").alias("to"))
        mid = lf.select(pl.col("_e").alias("from"), pl.col("_e").shift(-1).over(keys).alias("to"), (pos == n - 1).alias("_last"))
        mid = mid.select("from", pl.when(pl.col("_last")).then(pl.lit("(end)")).otherwise(pl.col("to")).alias("to"))
        pairs = pl.concat([first, mid])
    else:
        pairs = lf.select(ev.alias("from"), ev.shift(-1).over(keys).alias("to")).filter(pl.col("to").is_not_null())
    out = (
        pairs.group_by("from", "to")
        .agg(pl.len().cast(pl.UInt32).alias("count"))
        .with_columns((pl.col("count") / pl.col("count").sum().over("from")).alias("probability"))
        .sort(["from", "count", "to"], descending=[False, True, False])
    )
    return out.collect()


def next_steps(
    events: Any,
    after: Any,
    k: int = 5,
    user: str = "customer_id",
    event: str = "event",
    timestamp: str = "timestamp",
    session: Optional[str] = None,
) -> pl.DataFrame:
    """The ``k`` most likely next events after ``after`` (with ``"(end)"`` for journeys that stop there).

    >>> import polars as pl
    >>> ev = pl.DataFrame({"customer_id": [1, 1, 2, 2, 3], "event": ["cart", "buy", "cart", "view", "cart"],
    ...                    "timestamp": [1, 2, 1, 2, 1]})
    >>> next_steps(ev, "cart").rows()
    [('(end)', 1, 0.3333333333333333), ('buy', 1, 0.3333333333333333), ('view', 1, 0.3333333333333333)]
    """
    require_positive_int(k, "k", function="crmkit.next_steps")
    table = _transitions(events, user, event, timestamp, session, True, "crmkit.next_steps")
    return table.filter(pl.col("from") == str(after)).select("to", "count", "probability").head(k)


_PERIOD = re.compile(r"^(\d+)(d|w|mo|q|y)$")


def _period(period: str, function: str) -> tuple[int, str]:
    m = _PERIOD.match(period) if isinstance(period, str) else None
    if not m or int(m.group(1)) < 1:
        raise CrmError(
            f"{function}: period must look like '1d', '1w', '1mo', '3mo', '1q' or '1y', found {period!r}"
        )
    return int(m.group(1)), m.group(2)


def cohorts(
    orders: Any,
    customer: str = "customer_id",
    date: str = "order_date",
    period: str = "1mo",
    value: Optional[str] = None,
) -> pl.DataFrame:
    """Acquisition cohorts and their retention, as a long table.

    A customer's cohort is the period of their first order; ``period_index``
    counts periods since then (0 = the acquisition period). Columns: ``cohort``
    (Date, start of the period), ``period_index``, ``customers`` (active in the
    period), ``cohort_size``, ``retention`` (customers / cohort_size) and, with
    ``value``, ``value`` (its sum in the period) and ``value_per_customer``
    (value / cohort_size). Every period from the cohort's start to the last
    period in the data has a row (zero when nobody returned). A table of more than
    ``MAX_COHORT_CELLS`` (20M) rows raises ``TooLargeError`` instead of exhausting memory.

    >>> import polars as pl
    >>> from datetime import date
    >>> orders = pl.DataFrame({"customer_id": [1, 1, 2, 3],
    ...     "order_date": [date(2024, 1, 5), date(2024, 3, 1), date(2024, 1, 20), date(2024, 2, 2)]})
    >>> cohorts(orders).select("cohort", "period_index", "customers", "retention").rows()[:3]
    [(datetime.date(2024, 1, 1), 0, 2, 1.0), (datetime.date(2024, 1, 1), 1, 0, 0.0), (datetime.date(2024, 1, 1), 2, 1, 0.5)]
    """
    fn = "crmkit.cohorts"
    every, unit = _period(period, fn)
    lf = as_lazy(orders, argument="orders")
    cols: dict[str, Kind] = {customer: "id", date: "date"}
    if value is not None:
        cols[value] = "numeric"
    schema = require_columns(lf, cols, function=fn, argument="orders")
    slot, start = _cohort_slot(schema, date, every, unit)
    base = lf.select(
        pl.col(customer),
        slot.alias("_slot"),
        start.alias("_start"),
        *([pl.col(value).cast(pl.Float64).alias("_value")] if value else []),
    ).collect()
    require_no_nulls(base, [customer, "_slot"], function=fn, argument="orders", names={"_slot": date})
    if base.height == 0:
        empty: dict[str, PolarsDataType] = {"cohort": pl.Date, "period_index": pl.Int64, "customers": pl.UInt32,
                                            "cohort_size": pl.UInt32, "retention": pl.Float64}
        if value:
            empty.update({"value": pl.Float64, "value_per_customer": pl.Float64})
        return pl.DataFrame(schema=empty)
    return _cohort_table(base, customer, value, cast(int, base.get_column("_slot").max()))  # an integer column


def _cohort_slot(schema: Any, date: str, every: int, unit: str) -> tuple[pl.Expr, pl.Expr]:
    """The period index (slot) of each order and the period's first day."""
    # The calendar day where the order happened: a time-zone-aware timestamp counts in
    # its own zone (a cast would take the UTC day).
    is_datetime = schema[date] != pl.Date
    day = pl.col(date).dt.date() if is_datetime else pl.col(date)
    if unit in ("mo", "q", "y"):
        months = every * {"mo": 1, "q": 3, "y": 12}[unit]
        absolute = day.dt.year().cast(pl.Int64) * 12 + day.dt.month().cast(pl.Int64) - 1
        slot = absolute // months
        start = pl.date(slot * months // 12, slot * months % 12 + 1, 1)
    else:
        days = every * (7 if unit == "w" else 1)
        # Weeks start on Monday: 1970-01-05 was a Monday.
        shift = 4 if unit == "w" else 0
        epoch_days = day.cast(pl.Int64) - shift
        slot = epoch_days // days
        start = (slot * days + shift).cast(pl.Int32).cast(pl.Date)
    return slot, start


#: Most (cohort, period) rows a cohort table may have (a stray date in 1900 with daily
#: periods would otherwise ask for a billion rows).
MAX_COHORT_CELLS = 20_000_000


def _cohort_table(base: pl.DataFrame, customer: str, value: Optional[str], last: int) -> pl.DataFrame:
    """The cohort table from (customer, _slot, _start[, _value]) rows, every cohort's
    periods running to slot ``last``. Shared with crmkit.spark.cohorts, which runs it
    per customer bucket with the global last slot and adds the buckets up."""
    first = base.group_by(customer).agg(pl.col("_slot").min().alias("_c0"), pl.col("_start").sort_by("_slot").first().alias("cohort"))
    active = base.join(first, on=customer).with_columns((pl.col("_slot") - pl.col("_c0")).alias("period_index"))
    aggs = [pl.col(customer).n_unique().cast(pl.UInt32).alias("customers")]
    if value:
        aggs.append(pl.col("_value").sum().alias("value"))
    counts = active.group_by("cohort", "_c0", "period_index").agg(aggs)
    sizes = first.group_by("cohort", "_c0").agg(pl.len().cast(pl.UInt32).alias("cohort_size"))
    cells = int(sizes.select((last - pl.col("_c0") + 1).sum()).item() or 0)
    if cells > MAX_COHORT_CELLS:
        span = (str(sizes["cohort"].min()), str(base["_start"].max()))
        raise TooLargeError(
            f"crmkit.cohorts: {sizes.height:,} cohorts from {span[0]} to {span[1]} make {cells:,} (cohort, period) "
            f"cells, over the limit of {MAX_COHORT_CELLS:,}; use a longer period (period='1mo' or '1q') or filter out "
            "implausible order dates first")
    grid = sizes.with_columns(pl.int_ranges(0, last - pl.col("_c0") + 1).alias("period_index")).explode("period_index")
    out = (
        grid.join(counts, on=["cohort", "_c0", "period_index"], how="left")
        .with_columns(pl.col("customers").fill_null(0))
        .with_columns((pl.col("customers") / pl.col("cohort_size")).alias("retention"))
    )
    cols_out = ["cohort", "period_index", "customers", "cohort_size", "retention"]
    if value:
        out = out.with_columns(pl.col("value").fill_null(0.0)).with_columns(
            (pl.col("value") / pl.col("cohort_size")).alias("value_per_customer")
        )
        cols_out += ["value", "value_per_customer"]
    return out.sort("cohort", "period_index").select(cols_out)


#: Most period columns a cohort matrix may have (a stray order in year 1 would otherwise
#: ask for a pivot with over a hundred thousand columns).
MAX_MATRIX_PERIODS = 5_000


def cohort_matrix(
    orders: Any,
    customer: str = "customer_id",
    date: str = "order_date",
    period: str = "1mo",
    value: Optional[str] = None,
    values: str = "retention",
) -> pl.DataFrame:
    """The cohort triangle: one row per cohort, one column per period index.

    ``values`` picks the cell: ``"retention"``, ``"customers"``, or with
    ``value`` given ``"value"`` / ``"value_per_customer"``. Cells past the end of
    the data are null. Also has ``cohort_size``.

    >>> import polars as pl
    >>> from datetime import date
    >>> orders = pl.DataFrame({"customer_id": [1, 1, 2],
    ...     "order_date": [date(2024, 1, 5), date(2024, 2, 1), date(2024, 2, 20)]})
    >>> cohort_matrix(orders, values="customers").rows()
    [(datetime.date(2024, 1, 1), 1, 1, 1), (datetime.date(2024, 2, 1), 1, 1, None)]
    """
    allowed = ["retention", "customers"] + (["value", "value_per_customer"] if value else [])
    require_choice(values, "values", allowed, function="crmkit.cohort_matrix")
    long = cohorts(orders, customer=customer, date=date, period=period, value=value)
    if long.height == 0:
        return pl.DataFrame(schema={"cohort": pl.Date, "cohort_size": pl.UInt32})
    n_columns = int(cast(int, long.get_column("period_index").max())) + 1
    if n_columns > MAX_MATRIX_PERIODS:
        raise TooLargeError(
            f"crmkit.cohort_matrix: the orders' '{date}' values span {n_columns:,} periods of '{period}', over the "
            f"limit of {MAX_MATRIX_PERIODS:,} matrix columns; use a longer period (argument 'period') or filter out "
            "implausible order dates first (crmkit.cohorts gives the same figures as a long table)")
    wide = long.pivot(on="period_index", index=["cohort", "cohort_size"], values=values, sort_columns=True)
    periods = sorted((c for c in wide.columns if c not in ("cohort", "cohort_size")), key=int)
    return wide.select("cohort", "cohort_size", *periods).sort("cohort")


def demo_step(ctx: Any) -> "StepOutput":
    """The behaviour step of `crmkit demo`: funnel, top paths and monthly cohorts."""
    from crmkit._pipeline import StepOutput

    tables: dict[str, pl.DataFrame] = {}
    lines: list[str] = []
    if ctx.events is not None:
        present = ctx.events.select(pl.col("event").cast(pl.String).unique()).to_series().to_list()
        steps = [s for s in ("view", "cart", "checkout", "purchase") if s in present]
        if steps:
            # Per web session when sessions are known (a session is one attempt), else per customer.
            by_session = "session_id" in ctx.events.columns
            unit = "session_id" if by_session else "customer_id"
            f = funnel(ctx.events, steps, user=unit, window="1d" if by_session else "7d")
            tables["funnel"] = f
            parts = [f"{r['step']} {r['users']:,}" for r in f.iter_rows(named=True)]
            lines.append(f"funnel per {'session' if by_session else 'customer'}: " + " -> ".join(parts))
            worst = f.filter(pl.col("is_bottleneck"))
            if worst.height:
                lines.append(f"bottleneck: {worst['step'][0]} (drop-off {worst['drop_off_rate'][0]:.0%})")
        p = paths(
            ctx.events, session="session_id" if "session_id" in ctx.events.columns else None, top=10, collapse_repeats=True
        )
        tables["paths"] = p
        tables["transitions"] = transitions(ctx.events, start_end=True)
        if p.height:
            lines.append(f"top path: {' > '.join(map(str, p['path'][0]))} ({p['share'][0]:.0%} of journeys)")
    c = cohorts(ctx.orders, period="1mo", value="amount" if "amount" in ctx.orders.columns else None)
    tables["cohorts"] = c
    m1 = c.filter(pl.col("period_index") == 1)
    if m1.height:
        lines.append(
            f"{c['cohort'].n_unique()} monthly cohorts; mean month-1 retention {cast(float, m1['retention'].mean()):.1%}"
        )
    return StepOutput(tables, lines)
