"""RFM scores, segment tables and the per-customer recency/frequency/monetary query
(`rfm`, `rfm_summary`); re-exported by :mod:`crmkit.segment`."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from polars._typing import PolarsDataType
    from polars.expr.whenthen import ChainedThen, Then

from crmkit._validate import (
    Frame,
    Kind,
    as_lazy,
    require_choice,
    require_columns,
)
from crmkit.errors import CrmError, SchemaError
from crmkit._history import as_of_literal, days_between, vanished_customers

# --------------------------------------------------------------------------------------
# Segment tables. Each row: (name, r_min, r_max, f_min, f_max, m_min, m_max); bounds are
# inclusive and None means "any". The first matching row wins; no match gives "Others".
# All presets are defined on 1..5 scores.
# --------------------------------------------------------------------------------------

_Row = tuple[str, Optional[int], Optional[int], Optional[int], Optional[int], Optional[int], Optional[int]]  # (name, r_lo, r_hi, f_lo, f_hi, m_lo, m_hi)

#: The R `rfm` package's ten-segment table (rfm_segment() example and tests, rfm 0.2.x),
#: in its order; the first match wins, customers matching none are "Others".
_RFM_R_TABLE: list[_Row] = [
    ("Champions", 4, 5, 4, 5, 4, 5),
    ("Loyal Customers", 2, 5, 3, 5, 3, 5),
    ("Potential Loyalist", 3, 5, 1, 3, 1, 3),
    ("New Customers", 4, 5, 1, 1, 1, 1),
    ("Promising", 3, 4, 1, 1, 1, 1),
    ("Need Attention", 2, 3, 2, 3, 2, 3),
    ("About To Sleep", 2, 3, 1, 2, 1, 2),
    ("At Risk", 1, 2, 2, 5, 2, 5),
    ("Can't Lose Them", 1, 1, 4, 5, 4, 5),
    ("Lost", 1, 2, 1, 2, 1, 2),
]

#: The common 5 x 5 recency x frequency map (monetary is not used). Every one of the
#: 25 (R, F) cells belongs to exactly one segment.
_RF_GRID_TABLE: list[_Row] = [
    ("champions", 5, 5, 4, 5, None, None),
    ("loyal_customers", 3, 4, 4, 5, None, None),
    ("potential_loyalists", 4, 5, 2, 3, None, None),
    ("new_customers", 5, 5, 1, 1, None, None),
    ("promising", 4, 4, 1, 1, None, None),
    ("need_attention", 3, 3, 3, 3, None, None),
    ("about_to_sleep", 3, 3, 1, 2, None, None),
    ("cant_loose", 1, 2, 5, 5, None, None),
    ("at_risk", 1, 2, 3, 4, None, None),
    ("hibernating", 1, 2, 1, 2, None, None),
]

#: Four value tiers: recent customers in the top two frequency and monetary bins are
#: high_value, other recent customers (R 3-5) potential, R 2 dormant, R 1 churned.
_VALUE_TIERS_TABLE: list[_Row] = [
    ("high_value", 3, 5, 4, 5, 4, 5),
    ("potential", 3, 5, None, None, None, None),
    ("dormant", 2, 2, None, None, None, None),
    ("churned", 1, 1, None, None, None, None),
]

RFM_SEGMENT_PRESETS: dict[str, pl.DataFrame] = {}


def _table_frame(rows: list[_Row]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "segment": pl.String,
            "r_min": pl.Int32,
            "r_max": pl.Int32,
            "f_min": pl.Int32,
            "f_max": pl.Int32,
            "m_min": pl.Int32,
            "m_max": pl.Int32,
        },
        orient="row",
    )


RFM_SEGMENT_PRESETS.update(
    {
        "rfm": _table_frame(_RFM_R_TABLE),
        "rf-grid": _table_frame(_RF_GRID_TABLE),
        "value-tiers": _table_frame(_VALUE_TIERS_TABLE),
    }
)

_OTHERS = "Others"
_FUNC = "crmkit.rfm"


def _segment_expr(table: Any, levels: Optional[int]) -> pl.Expr:
    """A first-match-wins `when` chain over r_score, f_score, m_score."""
    if isinstance(table, str):
        require_choice(table, "segments", list(RFM_SEGMENT_PRESETS), function=_FUNC)
        if levels != 5:
            raise CrmError(
                f"{_FUNC}: segment preset '{table}' is defined on scores 1..5, but the "
                f"scores here have {levels if levels is not None else 'mixed'} levels; use bins=5 "
                f"(or cut points giving 5 bins), or pass your own table as segments=..."
            )
        table = RFM_SEGMENT_PRESETS[table]
    if isinstance(table, Mapping):
        # name -> boolean expression over r_score/f_score/m_score (and any rfm column).
        items = list(table.items())
        if not items:
            raise CrmError(f"{_FUNC}: the segments mapping is empty")
        for name, cond in items:
            if not isinstance(cond, pl.Expr):
                raise CrmError(
                    f"{_FUNC}: segments mapping value for '{name}' must be a polars expression, "
                    f"found {type(cond).__name__}"
                )
        expr: Union[Then, ChainedThen] = pl.when(items[0][1]).then(pl.lit(str(items[0][0])))
        for name, cond in items[1:]:
            expr = expr.when(cond).then(pl.lit(str(name)))
        return expr.otherwise(pl.lit(_OTHERS))
    if isinstance(table, (list, tuple)):
        table = pl.DataFrame(list(table), orient="row") if table and not isinstance(table[0], Mapping) else pl.DataFrame(list(table))
        if table.width == 7 and "segment" not in table.columns:
            table.columns = ["segment", "r_min", "r_max", "f_min", "f_max", "m_min", "m_max"]
    if not isinstance(table, pl.DataFrame):
        raise CrmError(
            f"{_FUNC}: segments must be 'rfm', 'rf-grid', 'value-tiers', None, a DataFrame "
            f"of score ranges, a list of rows or a mapping of name -> expression; "
            f"found {type(table).__name__}"
        )
    if "segment" not in table.columns:
        raise SchemaError(
            f"{_FUNC}: segment table must have a 'segment' column and any of r_min, r_max, "
            f"f_min, f_max, m_min, m_max; found columns {table.columns}"
        )
    allowed = {"segment", "r_min", "r_max", "f_min", "f_max", "m_min", "m_max"}
    extra = [c for c in table.columns if c not in allowed]
    if extra:
        raise SchemaError(
            f"{_FUNC}: segment table has unknown column(s) {extra}; expected segment, "
            f"r_min, r_max, f_min, f_max, m_min, m_max"
        )
    if table.height == 0:
        raise CrmError(f"{_FUNC}: the segment table has no rows")
    chain: Union[Then, ChainedThen, None] = None
    for row in table.iter_rows(named=True):
        conds = []
        for short, col in (("r", "r_score"), ("f", "f_score"), ("m", "m_score")):
            lo, hi = row.get(f"{short}_min"), row.get(f"{short}_max")
            if lo is not None and hi is not None and lo > hi:
                raise CrmError(
                    f"{_FUNC}: segment '{row['segment']}' has {short}_min={lo} > {short}_max={hi}"
                )
            if lo is not None:
                conds.append(pl.col(col) >= lo)
            if hi is not None:
                conds.append(pl.col(col) <= hi)
        cond = pl.all_horizontal(conds) if conds else pl.lit(True)
        name = pl.lit(str(row["segment"]))
        chain = pl.when(cond).then(name) if chain is None else chain.when(cond).then(name)
    assert chain is not None
    return chain.otherwise(pl.lit(_OTHERS))


# --------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------


def _qcut_rank_edges(n: int, bins: int) -> list[float]:
    """Interior bin edges that pandas' `qcut(x.rank(method="first"), bins)` uses.

    The ranks are 1..n, so the quantiles are computed on that range exactly as
    pandas does (numpy's linear percentile at 100 * linspace(0, 1, bins + 1)); the
    same floating-point edges give bit-identical bin assignments.
    """
    q = np.linspace(0, 1, bins + 1)
    edges = np.percentile(np.arange(1, n + 1, dtype=np.float64), q * 100)
    return [float(e) for e in edges[1:-1]]


def _rank_score_expr(col: str, n: int, bins: int, *, higher_is_better: bool, ranked: bool = False) -> pl.Expr:
    """Quantile bin of rank(method="first") of `col` (n rows, in frame order), 1..bins.

    polars' "ordinal" rank breaks ties by position, as pandas' "first"; a rank falls in
    bin 1 + (number of qcut edges strictly below it), pandas' right-closed bins.
    ``ranked``: `col` already holds the ranks.
    """
    if n == 1 or bins == 1:
        # One customer: no ranking is possible; it sits in the middle bin.
        return pl.lit((bins + 1) // 2, dtype=pl.Int32)
    rank = pl.col(col) if ranked else pl.col(col).rank("ordinal")
    score = pl.sum_horizontal([(rank > e) for e in _qcut_rank_edges(n, bins)]).cast(pl.Int32) + 1
    return score if higher_is_better else (bins + 1 - score)


def _score_by_rank(values: np.ndarray, bins: int, *, higher_is_better: bool) -> np.ndarray:
    """`_rank_score_expr` on an array (int32)."""
    frame = pl.DataFrame({"v": values})
    return frame.select(_rank_score_expr("v", len(values), bins, higher_is_better=higher_is_better)
                        .cast(pl.Int32).alias("s")).to_series().to_numpy()


def _check_cuts(cuts: Sequence[float], metric: str) -> np.ndarray:
    arr = np.asarray([float(c) for c in cuts], dtype=np.float64)
    if not np.isfinite(arr).all():
        raise CrmError(f"{_FUNC}: cut points for '{metric}' must be finite numbers, found {list(cuts)}")
    if (np.diff(arr) <= 0).any():
        raise CrmError(f"{_FUNC}: cut points for '{metric}' must be strictly increasing, found {list(cuts)}")
    return arr


def _cut_score_expr(col: str, cuts: np.ndarray, *, higher_is_better: bool) -> pl.Expr:
    """Bins (-inf, c1], (c1, c2], ..., (c_last, inf) numbered 1..len(cuts)+1."""
    if len(cuts) == 0:
        return pl.lit(1, dtype=pl.Int32)
    score = pl.sum_horizontal([(pl.col(col) > float(c)) for c in cuts]).cast(pl.Int32) + 1
    return score if higher_is_better else (len(cuts) + 2 - score)


# --------------------------------------------------------------------------------------
# rfm
# --------------------------------------------------------------------------------------


def _day_floor(dtype: pl.DataType, value: pl.Expr) -> pl.Expr:
    return value if dtype == pl.Date else value.dt.truncate("1d")


def _null_counts(lf: pl.LazyFrame, columns: list[str], eager: Optional[pl.DataFrame]) -> dict[str, int]:
    if eager is not None:
        counts = eager.select([pl.col(c).null_count() for c in columns]).row(0)
    else:
        counts = lf.select([pl.col(c).null_count() for c in columns]).collect(engine="streaming").row(0)
    return dict(zip(columns, counts))


_DENSE_ID_TYPES = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)


def _dense_agg(
    df: pl.DataFrame, customer: str, date: str, amount: str, dtype: pl.DataType, net: bool
) -> Optional[pl.DataFrame]:
    """The per-customer aggregation of `rfm` by the dense-id kernel, or None when the
    ids are not integers spanning at most about as many values as there are rows."""
    from crmkit import _core

    cdt = df.schema[customer]
    if cdt not in _DENSE_ID_TYPES or df.height == 0:
        return None
    c = np.ascontiguousarray(df[customer].cast(pl.Int64).to_numpy())
    t = np.ascontiguousarray(df[date].to_physical().cast(pl.Int64).to_numpy())
    a = np.ascontiguousarray(df[amount].cast(pl.Float64).to_numpy())
    res = _core.rfm_dense(c, t, a, net, df.height + 1024)
    if res is None:
        return None
    ids, last_p, freq, mon, last_r = res
    cols = {
        customer: pl.Series(ids).cast(cdt).set_sorted(),
        "_last": last_p,
        "frequency": freq,
        "monetary": mon,
    }
    if net:
        cols["_last_row"] = last_r
    out = pl.DataFrame(cols)
    # A customer without purchase (returns only) has no last purchase date.
    fix = [pl.when(pl.col("frequency") > 0).then(pl.col("_last")).cast(dtype).alias("_last")]
    if net:
        fix.append(pl.col("_last_row").cast(dtype))
    return out.with_columns(fix)


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


def rfm(
    orders: Frame,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "amount",
    order: Optional[str] = None,
    as_of: Any = None,
    bins: Union[int, Mapping[str, Sequence[float]]] = 5,
    monetary: str = "sum",
    segments: Any = "rfm",
    returns: str = "net",
) -> pl.DataFrame:
    """Recency, frequency and monetary value per customer, with scores and a segment.

    One row per customer, sorted by customer id, with

    - ``recency_days``: whole days from the last purchase to ``as_of`` (default: the
      day after the last order in the data); orders after ``as_of`` are ignored;
    - ``frequency``: distinct ``order`` ids, or rows when ``order`` is None;
    - ``monetary``: the sum of ``amount`` (``monetary="mean"``: sum / frequency);
    - ``r_score``, ``f_score``, ``m_score``: 1..bins, higher is better (more recent,
      more frequent, more spend). With an integer ``bins`` a score is the quantile bin
      of ``rank(method="first")`` in customer-id order, exactly
      ``pd.qcut(x.rank(method="first"), bins)`` (labels reversed for recency), so bins
      hold equal shares up to one customer. With ``bins={"recency": [...],
      "frequency": [...], "monetary": [...]}`` the scores come from explicit cut points
      (right-closed bins, as ``pd.cut``; recency reversed);
    - ``rfm_score``: the three scores as text, e.g. ``"545"`` (joined by "-" when a
      score can exceed 9);
    - ``segment``: from ``segments``: ``"rfm"`` (the R rfm package's ten-segment table),
      ``"rf-grid"`` (the 5 x 5 recency x frequency map), ``"value-tiers"``
      (high_value / potential / dormant / churned), a DataFrame or list of rows
      ``(segment, r_min, r_max, f_min, f_max, m_min, m_max)`` (None = any), a mapping
      of name -> polars expression over the score columns, or None (no column). The
      first match wins; no match is ``"Others"``. See ``RFM_SEGMENT_PRESETS``.

    Returns (rows with ``amount < 0``) are treated by ``returns``:

    - ``"net"`` (default): they reduce ``monetary`` (net spend) but are not purchases:
      they count neither towards ``frequency`` nor recency. Customers with returns only
      are left out (a warning gives their number);
    - ``"exclude"``: they are dropped (a warning gives their number);
    - ``"keep"``: they are ordinary rows.

    Rows with a null date or amount are dropped with a warning giving their number; a
    null customer id or order id raises SchemaError. ``orders`` may be a LazyFrame: the
    aggregation runs on polars' streaming engine (100M orders from parquet in about 6 GB),
    after one light pass that counts nulls, NaNs, rows after ``as_of`` and returns. An
    in-memory frame with integer customer ids in a dense range (and ``order=None``) is
    aggregated by one pass in Rust instead of a hash group-by, with the same result.
    Presets need 5 score levels.

    >>> import polars as pl, crmkit
    >>> from datetime import date
    >>> orders = pl.DataFrame({
    ...     "customer_id": [1, 1, 2, 3],
    ...     "order_date": [date(2024, 1, 1), date(2024, 1, 30), date(2024, 1, 10), date(2023, 6, 1)],
    ...     "amount": [10.0, 25.0, 99.0, 5.0],
    ... })
    >>> out = crmkit.rfm(orders, bins=2, segments={"best": pl.col("r_score") == 2})
    >>> out.select("customer_id", "recency_days", "frequency", "monetary", "segment").rows()
    [(1, 1, 2, 35.0, 'best'), (2, 21, 1, 99.0, 'best'), (3, 244, 1, 5.0, 'Others')]
    """
    require_choice(monetary, "monetary", ["sum", "mean"], function=_FUNC)
    require_choice(returns, "returns", ["net", "exclude", "keep"], function=_FUNC)
    eager = orders if isinstance(orders, pl.DataFrame) else None
    lf = as_lazy(orders, argument="orders")
    if eager is None and not isinstance(orders, pl.LazyFrame):
        eager = lf.collect()
        lf = eager.lazy()
    kinds: dict[str, Kind] = {customer: "id", date: "date", amount: "numeric"}
    if order is not None:
        kinds[order] = "id"
    schema = require_columns(lf, kinds, function=_FUNC, argument="orders")
    dtype = schema[date]

    # Score specification.
    cuts: Optional[dict[str, np.ndarray]] = None
    if isinstance(bins, Mapping):
        missing = [m for m in ("recency", "frequency", "monetary") if m not in bins]
        unknown = [m for m in bins if m not in ("recency", "frequency", "monetary")]
        if missing or unknown:
            raise CrmError(
                f"{_FUNC}: bins as cut points needs exactly the keys 'recency', 'frequency', "
                f"'monetary'; missing {missing}, unknown {unknown}"
            )
        cuts = {k: _check_cuts(v, k) for k, v in bins.items()}
        level_set = {len(v) + 1 for v in cuts.values()}
        levels: Optional[int] = level_set.pop() if len(level_set) == 1 else None
    else:
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise CrmError(f"{_FUNC}: bins must be an integer >= 1 or a mapping of cut points, found {bins!r}")
        bins = int(bins)
        levels = bins

    seg_expr = _segment_expr(segments, levels) if segments is not None else None

    # One pass over the input gathers every count the checks need (nulls in keys and
    # values, NaN amounts, rows after as_of, returns), so a LazyFrame is read once here
    # and once by the aggregation.
    d, a = pl.col(date), pl.col(amount)
    key_cols = [customer] + ([order] if order is not None else [])
    as_of_lit = as_of_literal(as_of, dtype, function=_FUNC) if as_of is not None else None
    float_amount = schema[amount].is_float()
    valid = d.is_not_null() & a.is_not_null()
    if float_amount:
        valid = valid & ~a.is_nan()
    in_window = valid if as_of_lit is None else valid & (d <= as_of_lit)
    stats_exprs = [pl.col(c).null_count().alias(f"null:{c}") for c in dict.fromkeys(key_cols + [date, amount])]
    stats_exprs.append((a.is_nan().sum() if float_amount else pl.lit(0)).alias("nan"))
    if as_of_lit is not None:
        stats_exprs.append((valid & (d > as_of_lit)).sum().alias("future"))
    stats_exprs.append((in_window & (a < 0)).sum().alias("returns"))
    stats = (eager.select(stats_exprs) if eager is not None
             else lf.select(stats_exprs).collect(engine="streaming")).row(0, named=True)
    for c in key_cols:
        if stats[f"null:{c}"]:
            raise SchemaError(
                f"{_FUNC}: column '{c}' in 'orders' holds {stats[f'null:{c}']} null value(s); a key "
                f"column must be complete. Drop or fill them first (orders.drop_nulls('{c}'))."
            )
    n_null_date, n_null_amount, nan_amount = stats[f"null:{date}"], stats[f"null:{amount}"], stats["nan"]
    # Customers of the dropped rows, to say afterwards which of them vanished entirely.
    dropped_customers = (
        lf.filter(~valid).select(customer).unique().collect(engine="streaming" if eager is None else "auto")
        if n_null_date + n_null_amount + nan_amount else None
    )
    n_future = stats.get("future", 0)
    if n_future:
        _warn(f"{_FUNC}: ignored {n_future} row(s) dated after as_of={as_of}")
    if n_null_date + n_null_amount + nan_amount + n_future:
        lf = lf.filter(in_window)

    purchase = a >= 0
    n_ret = stats["returns"]
    if returns == "exclude" and n_ret:
        _warn(f"{_FUNC}: dropped {n_ret} return row(s) ('{amount}' < 0) as returns='exclude'")
        lf = lf.filter(purchase)

    extra_aggs = []
    # Without any return row, "net" is the plain computation.
    net = returns == "net" and n_ret > 0
    if net:
        # Masks computed once, column-wise, before grouping (fast and streamable).
        lf = lf.with_columns(
            pl.when(purchase).then(d).alias("_pdate"),
            (pl.when(purchase).then(pl.col(order)) if order is not None else purchase.cast(pl.UInt32)).alias("_pfreq"),
        )
        last = pl.col("_pdate").max()
        # as_of defaults to the day after the last row, returns included.
        extra_aggs.append(d.max().alias("_last_row"))
        if order is None:
            freq = pl.col("_pfreq").sum()
        else:
            freq = pl.col("_pfreq").drop_nulls().n_unique()
    else:
        last = d.max()
        freq = pl.len() if order is None else pl.col(order).n_unique()
    agg = None
    filtered = bool(n_null_date + n_null_amount + nan_amount + n_future) or (returns == "exclude" and n_ret > 0)
    if eager is not None and order is None and not filtered:
        # In memory with integer ids in a dense range: one pass in Rust, no hashing.
        agg = _dense_agg(eager, customer, date, amount, dtype, net)
    if agg is None:
        agg = (
            lf.group_by(customer)
            .agg(
                last.alias("_last"),
                freq.cast(pl.Int64).alias("frequency"),
                # Summed in Float64: a Float32 sum drifts with the row order and the size.
                a.cast(pl.Float64).sum().alias("monetary"),
                *extra_aggs,
            )
            .collect(engine="streaming" if eager is None else "auto")
        )
    last_col = "_last_row" if net else "_last"
    data_end = agg.select(pl.col(last_col).max()).item() if agg.height else None
    if net:
        agg = agg.drop("_last_row")
        only_returns = agg.filter(pl.col("frequency") == 0).height
        if only_returns:
            _warn(
                f"{_FUNC}: left out {only_returns} customer(s) with returns only "
                f"(no purchase with '{amount}' >= 0)"
            )
            agg = agg.filter(pl.col("frequency") > 0)

    if dropped_customers is not None:
        lost = vanished_customers(dropped_customers, agg, customer)
        _warn(
            f"{_FUNC}: dropped rows with a null '{date}' ({n_null_date}), a null '{amount}' "
            f"({n_null_amount}) or a NaN '{amount}' ({nan_amount}) before computing RFM"
            + (f"; {lost} customer(s) had no other order to count and are not in the result" if lost else "")
        )

    out_schema: dict[str, PolarsDataType] = {
        customer: schema[customer],
        "recency_days": pl.Int64,
        "frequency": pl.Int64,
        "monetary": pl.Float64,
        "r_score": pl.Int32,
        "f_score": pl.Int32,
        "m_score": pl.Int32,
        "rfm_score": pl.String,
    }
    if seg_expr is not None:
        out_schema["segment"] = pl.String
    if agg.height == 0:
        _warn(f"{_FUNC}: no orders to score; returning an empty frame")
        return pl.DataFrame(schema=out_schema)

    agg = agg.sort(customer)
    if as_of_lit is None:
        as_of_lit = _day_floor(dtype, pl.lit(data_end, dtype=dtype)) + pl.duration(days=1)
    if monetary == "mean":
        agg = agg.with_columns(pl.col("monetary") / pl.col("frequency"))
    n = agg.height
    agg = agg.with_columns(days_between(as_of_lit, pl.col("_last"), dtype).alias("recency_days"))
    if cuts is None:
        # Ranks once (in parallel), then the bin comparisons on them.
        agg = agg.with_columns(
            pl.col("recency_days").rank("ordinal").alias("_rr"),
            pl.col("frequency").rank("ordinal").alias("_rf"),
            pl.col("monetary").rank("ordinal").alias("_rm"),
        )
    return _add_scores(agg, n, bins, cuts, segments, seg_expr, out_schema)


def _add_scores(agg: pl.DataFrame, n: int, bins: Any, cuts: Optional[dict[str, Any]], segments: Any, seg_expr: Optional[pl.Expr],
                out_schema: dict[str, Any]) -> pl.DataFrame:
    """Scores, rfm_score and segment from recency_days/frequency/monetary (and, with
    integer bins, their ordinal ranks _rr/_rf/_rm among all ``n`` customers). Shared
    with crmkit.spark.rfm, which computes the ranks in Spark and this per partition."""
    if cuts is None:
        score_exprs = [
            _rank_score_expr("_rr", n, bins, higher_is_better=False, ranked=True),
            _rank_score_expr("_rf", n, bins, higher_is_better=True, ranked=True),
            _rank_score_expr("_rm", n, bins, higher_is_better=True, ranked=True),
        ]
        lv = (bins, bins, bins)
    else:
        score_exprs = [
            _cut_score_expr("recency_days", cuts["recency"], higher_is_better=False),
            _cut_score_expr("frequency", cuts["frequency"], higher_is_better=True),
            _cut_score_expr("monetary", cuts["monetary"], higher_is_better=True),
        ]
        lv = (len(cuts["recency"]) + 1, len(cuts["frequency"]) + 1, len(cuts["monetary"]) + 1)
    sep = "-" if max(lv) > 9 else ""
    out = agg.with_columns(
        score_exprs[0].cast(pl.Int32).alias("r_score"),
        score_exprs[1].cast(pl.Int32).alias("f_score"),
        score_exprs[2].cast(pl.Int32).alias("m_score"),
    )
    # rfm_score and table segments through a lookup over every score combination
    # (a gather instead of string building and a when-chain per customer).
    n_combo = lv[0] * lv[1] * lv[2]
    if n_combo <= 100_000:
        g = np.array(np.meshgrid(*(np.arange(1, v + 1) for v in lv), indexing="ij")).reshape(3, -1)
        combos = pl.DataFrame({"r_score": g[0], "f_score": g[1], "m_score": g[2]}).cast(pl.Int32)
        combos = combos.with_columns(
            pl.concat_str([pl.col("r_score"), pl.col("f_score"), pl.col("m_score")], separator=sep).alias("rfm_score")
        )
        table_based = seg_expr is not None and not isinstance(segments, Mapping)
        if seg_expr is not None and table_based:
            combos = combos.with_columns(seg_expr.alias("segment"))
        code = out.select(
            ((pl.col("r_score").cast(pl.Int64) - 1) * lv[1] + (pl.col("f_score") - 1)) * lv[2] + (pl.col("m_score") - 1)
        ).to_series()
        out = out.with_columns(combos["rfm_score"].gather(code))
        if table_based:
            out = out.with_columns(combos["segment"].gather(code))
    else:
        table_based = False
        out = out.with_columns(
            pl.concat_str([pl.col("r_score"), pl.col("f_score"), pl.col("m_score")], separator=sep).alias("rfm_score")
        )
    if seg_expr is not None and not table_based:
        out = out.with_columns(seg_expr.alias("segment"))
    return out.select(list(out_schema))


def rfm_summary(rfm_table: Frame, *, segment: str = "segment", monetary: str = "sum") -> pl.DataFrame:
    """Per segment: customers, share, orders, revenue, average order value, mean recency.

    ``rfm_table`` is the output of :func:`rfm`. ``monetary`` says what its monetary
    column holds ("sum": revenue per customer; "mean": average order value, so revenue
    is monetary x frequency). Sorted by revenue, largest first.

    >>> import polars as pl, crmkit
    >>> t = pl.DataFrame({"customer_id": [1, 2, 3], "recency_days": [3, 10, 200],
    ...                   "frequency": [4, 2, 1], "monetary": [400.0, 50.0, 10.0],
    ...                   "segment": ["top", "top", "lost"]})
    >>> crmkit.rfm_summary(t).rows()
    [('top', 2, 0.6666666666666666, 6, 450.0, 75.0, 6.5), ('lost', 1, 0.3333333333333333, 1, 10.0, 10.0, 200.0)]
    """
    require_choice(monetary, "monetary", ["sum", "mean"], function="crmkit.rfm_summary")
    lf = as_lazy(rfm_table, argument="rfm")
    require_columns(
        lf,
        {segment: "any", "recency_days": "numeric", "frequency": "numeric", "monetary": "numeric"},
        function="crmkit.rfm_summary",
        argument="rfm",
    )
    revenue = pl.col("monetary") if monetary == "sum" else pl.col("monetary") * pl.col("frequency")
    return (
        lf.group_by(segment)
        .agg(
            pl.len().cast(pl.Int64).alias("customers"),
            pl.col("frequency").sum().cast(pl.Int64).alias("orders"),
            revenue.sum().cast(pl.Float64).alias("revenue"),
            pl.col("recency_days").mean().alias("mean_recency_days"),
        )
        .with_columns(
            (pl.col("customers") / pl.col("customers").sum()).alias("share"),
            (pl.col("revenue") / pl.col("orders")).alias("avg_order_value"),
        )
        .select(segment, "customers", "share", "orders", "revenue", "avg_order_value", "mean_recency_days")
        .sort(["revenue", segment], descending=[True, False])
        .collect()
    )

