"""Market-basket analysis on long (basket, item) data: no one-hot matrix.

`frequent_itemsets` mines with FP-growth in Rust straight from one row per
(basket, item); `association_rules` derives rules with mlxtend's metric columns;
`recommend` turns rules into top-k cross-sell suggestions per customer.

>>> import polars as pl
>>> from crmkit import basket
>>> lines = pl.DataFrame({
...     "order_id": [1, 1, 2, 2, 2, 3, 3, 4],
...     "product": ["milk", "bread", "milk", "bread", "butter", "milk", "butter", "bread"],
... })
>>> sets = basket.frequent_itemsets(lines, min_support=0.5)
>>> sets.filter(pl.col("itemsets").list.len() == 2)["itemsets"].to_list()
[['bread', 'milk'], ['butter', 'milk']]
>>> rules = basket.association_rules(sets, metric="confidence", min_threshold=0.6)
>>> rules.select("antecedents", "consequents", "confidence").row(0)
(['butter'], ['milk'], 1.0)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional, cast

import numpy as np
import polars as pl

from crmkit import _core
from crmkit._validate import (
    as_frame,
    as_lazy,
    require_columns,
    require_no_nulls,
    require_positive_int,
    schema_of,
)
from crmkit.errors import CrmError, SchemaError

if TYPE_CHECKING:
    from polars._typing import PolarsDataType
    from crmkit._pipeline import StepOutput

__all__ = ["frequent_itemsets", "association_rules", "recommend", "METRICS"]

#: mlxtend's rule-metric columns, in its order.
METRICS: list[str] = list(_core.BASKET_METRICS)

_ITEMSETS_FN = "crmkit.basket.frequent_itemsets"
_RULES_FN = "crmkit.basket.association_rules"
_RECOMMEND_FN = "crmkit.basket.recommend"


def _plain_items(series: pl.Series) -> pl.Series:
    """Categorical/Enum items become strings, so their order is lexical."""
    if isinstance(series.dtype, (pl.Categorical, pl.Enum)):
        strings: pl.Series = series.cast(pl.String)
        return strings
    return series


def _compact_range(ids: pl.Series, n_rows: int) -> Optional[tuple[int, int]]:
    """(min, max - min + 1) for integer ids whose range is small enough to index."""
    if not ids.dtype.is_integer() or ids.len() == 0:
        return None
    lo, hi = int(cast(int, ids.min())), int(cast(int, ids.max()))  # an integer column
    span = hi - lo + 1
    return (lo, span) if span <= min(4 * n_rows + 1024, 2**32 - 2) else None


def _lists(offsets: np.ndarray, codes: np.ndarray, values: pl.Series, name: str) -> pl.Series:
    """A list column from flat offsets and codes into `values`."""
    lengths = np.diff(offsets)
    n = len(lengths)
    if n == 0:
        return pl.Series(name, [], dtype=pl.List(values.dtype))
    ids = np.repeat(np.arange(n, dtype=np.int64), lengths)
    flat = values.gather(pl.Series(codes.astype(np.int64)))
    grouped = (
        pl.DataFrame({"_id": ids, name: flat})
        .group_by("_id", maintain_order=True)
        .agg(pl.col(name))
    )
    return grouped.get_column(name)


def frequent_itemsets(
    df: Any,
    basket: str = "order_id",
    item: str = "product",
    min_support: float = 0.01,
    max_len: Optional[int] = None,
    *,
    max_itemsets: int = 1_000_000,
) -> pl.DataFrame:
    """Frequent itemsets of long basket data with FP-growth (Rust, multi-threaded).

    Parameters
    ----------
    df : DataFrame or LazyFrame with one row per (basket, item); repeated rows
        count once, so quantities do not matter.
    basket, item : column names. Items may be strings, integers or categoricals
        (categoricals are returned as strings).
    min_support : fraction of baskets (0 < min_support <= 1) an itemset must
        occur in; compared as ``count / n_baskets >= min_support``, as mlxtend does.
    max_len : longest itemset to return (None: no limit).
    max_itemsets : safety cap. When a low ``min_support`` would produce more
        itemsets than this, mining stops with ``TooLargeError`` instead of
        exhausting memory; raise it deliberately if you need more.

    Returns
    -------
    DataFrame with ``itemsets`` (list, items sorted ascending), ``support``
    (Float64) and ``count`` (baskets containing the itemset), sorted by count
    descending, then length, then items. An empty input gives an empty table.

    >>> import polars as pl
    >>> lines = pl.DataFrame({"order_id": [1, 1, 2, 2, 3], "product": ["a", "b", "a", "b", "a"]})
    >>> frequent_itemsets(lines, min_support=0.6).rows()
    [(['a'], 1.0, 3), (['b'], 0.6666666666666666, 2), (['a', 'b'], 0.6666666666666666, 2)]
    """
    fn = _ITEMSETS_FN
    lf = as_lazy(df, argument="df")
    require_columns(lf, {basket: "id", item: "id"}, function=fn, argument="df")
    if isinstance(min_support, bool) or not isinstance(min_support, (int, float)) or not (
        0.0 < float(min_support) <= 1.0
    ):
        raise CrmError(f"{fn}: min_support must be a number in (0, 1], found {min_support!r}")
    if max_len is not None:
        require_positive_int(max_len, "max_len", function=fn)
    require_positive_int(max_itemsets, "max_itemsets", function=fn)
    pairs = lf.select(pl.col(basket), pl.col(item)).collect()
    require_no_nulls(pairs, [basket, item], function=fn, argument="df")
    items_dtype = _plain_items(pairs.get_column(item).head(0)).dtype
    empty = pl.DataFrame(
        schema={"itemsets": pl.List(items_dtype), "support": pl.Float64, "count": pl.UInt64}
    )
    if pairs.height == 0:
        return empty
    # Dense item codes in sorted item order (so each itemset's list comes out
    # sorted); integer ids with a compact range are shifted instead of hashed.
    items_s = _plain_items(pairs.get_column(item))
    compact = _compact_range(items_s, pairs.height)
    if compact is not None:
        lo, n_items = compact
        item_codes = (items_s.cast(pl.Int64) - lo).cast(pl.UInt32)
        values = pl.int_range(lo, lo + n_items, eager=True).cast(items_s.dtype)
    else:
        values = items_s.unique().sort()
        item_codes = items_s.replace_strict(values, pl.int_range(values.len(), eager=True), return_dtype=pl.UInt32)
    # Basket codes: the same for baskets (empty slots are not baskets), else dense ranks.
    ids = pairs.get_column(basket)
    compact = _compact_range(ids, pairs.height)
    if compact is not None:
        basket_codes = (ids.cast(pl.Int64) - compact[0]).cast(pl.UInt32)
        n_slots = compact[1]
    else:
        basket_codes = (ids.rank("dense") - 1).cast(pl.UInt32)
        n_slots = int(basket_codes.max()) + 1
    offsets, codes, counts, n_baskets = _core.basket_fpgrowth(
        basket_codes.to_numpy(),
        item_codes.to_numpy(),
        n_slots,
        values.len(),
        float(min_support),
        0 if max_len is None else max_len,
        max_itemsets,
    )
    if len(counts) == 0:
        return empty
    return pl.DataFrame(
        {
            "itemsets": _lists(offsets, codes, values, "itemsets"),
            "support": counts.astype(np.float64) / float(n_baskets),
            "count": counts,
        }
    )


def _plain_items_expr(expr: pl.Expr, dtype: PolarsDataType) -> pl.Expr:
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return expr.cast(pl.String)
    return expr


def association_rules(
    itemsets: Any,
    metric: str = "confidence",
    min_threshold: float = 0.8,
    *,
    max_rules: int = 10_000_000,
) -> pl.DataFrame:
    """Association rules with mlxtend's columns from the output of `frequent_itemsets`.

    Every frequent itemset of two or more items gives one candidate rule per
    split into antecedents and consequents; a rule is kept when ``metric`` (any
    of `METRICS`) is at least ``min_threshold``. Columns: ``antecedents``,
    ``consequents`` (sorted lists) and ``antecedent support``, ``consequent
    support``, ``support``, ``confidence``, ``lift``, ``representativity``,
    ``leverage``, ``conviction``, ``zhangs_metric``, ``jaccard``, ``certainty``,
    ``kulczynski``, with mlxtend's formulas and conventions (conviction is inf
    for confidence 1; representativity is 1 as baskets have no missing values).
    Sorted by ``metric`` descending, then support descending.

    Any table with ``itemsets`` (list) and ``support`` columns works, for example
    one converted from mlxtend, as long as every subset of an itemset is present.

    >>> import polars as pl
    >>> sets = pl.DataFrame({"itemsets": [["a"], ["b"], ["a", "b"]], "support": [0.6, 0.5, 0.4]})
    >>> association_rules(sets, min_threshold=0.7).select("antecedents", "consequents", "confidence", "lift").rows()
    [(['b'], ['a'], 0.8, 1.3333333333333335)]
    """
    fn = _RULES_FN
    frame = as_frame(itemsets, argument="itemsets")
    require_columns(frame, {"itemsets": "list", "support": "numeric"}, function=fn, argument="itemsets")
    if metric not in METRICS:
        raise CrmError(f"{fn}: metric must be one of {METRICS}, found {metric!r}")
    if isinstance(min_threshold, bool) or not isinstance(min_threshold, (int, float)):
        raise CrmError(f"{fn}: min_threshold must be a number, found {min_threshold!r}")
    require_positive_int(max_rules, "max_rules", function=fn)
    require_no_nulls(frame, ["support"], function=fn, argument="itemsets")
    inner = cast(pl.List, frame.schema["itemsets"]).inner  # checked to be a list column
    out_dtype = pl.String if isinstance(inner, (pl.Categorical, pl.Enum)) else inner
    schema: dict[str, PolarsDataType] = {"antecedents": pl.List(out_dtype), "consequents": pl.List(out_dtype)}
    schema.update({m: pl.Float64 for m in METRICS})
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    lengths = frame.get_column("itemsets").list.len()
    if lengths.null_count() or (lengths == 0).any():
        raise SchemaError(f"{fn}: column 'itemsets' in 'itemsets' holds null or empty itemsets")
    flat = frame.select(pl.col("itemsets").explode().alias("item")).with_columns(
        _plain_items_expr(pl.col("item"), inner)
    )
    if flat.get_column("item").null_count():
        raise SchemaError(f"{fn}: column 'itemsets' in 'itemsets' holds null items")
    codes = (flat.get_column("item").rank("dense") - 1).cast(pl.UInt32).to_numpy()
    values = flat.get_column("item").unique().sort()
    offsets = np.concatenate([[0], np.cumsum(lengths.to_numpy().astype(np.int64))]).astype(np.int64)
    a_off, a_codes, c_off, c_codes, metrics = _core.basket_rules(
        offsets,
        np.ascontiguousarray(codes, dtype=np.uint32),
        frame.get_column("support").cast(pl.Float64).to_numpy(),
        metric,
        float(min_threshold),
        max_rules,
    )
    if len(a_off) <= 1:
        return pl.DataFrame(schema=schema)
    out = pl.DataFrame(
        [_lists(a_off, a_codes, values, "antecedents"), _lists(c_off, c_codes, values, "consequents")]
        + [pl.Series(name, col, dtype=pl.Float64) for name, col in zip(METRICS, metrics)]
    )
    return out.sort([metric, "support"], descending=True, maintain_order=True)


def recommend(
    customer_items: Any,
    rules: Any,
    k: int = 5,
    *,
    customer: str = "customer_id",
    item: str = "product",
    metric: str = "confidence",
    min_lift: Optional[float] = 1.0,
) -> pl.DataFrame:
    """Top-``k`` cross-sell items per customer from association rules.

    A rule applies to a customer who already has every item of its
    ``antecedents``; each of its ``consequents`` the customer does not have yet
    becomes a candidate scored by the rule's ``metric``. A candidate's score is
    its best applicable rule's; ties break by item. Columns: customer, ``item``,
    ``score``, ``rank`` (1 = best), ``because`` (antecedents of the best rule).
    Customers no rule applies to get no rows. When the rules have a ``lift``
    column, only rules with lift above ``min_lift`` are used: by default a rule
    whose antecedents make the item *less* likely (lift <= 1) recommends nothing,
    however high its confidence (None uses every rule).

    >>> import polars as pl
    >>> rules = pl.DataFrame({"antecedents": [["tea"]], "consequents": [["cups"]], "confidence": [0.9]})
    >>> owned = pl.DataFrame({"customer_id": [1, 2, 2], "product": ["tea", "tea", "cups"]})
    >>> recommend(owned, rules).rows()
    [(1, 'cups', 0.9, 1, ['tea'])]
    """
    fn = _RECOMMEND_FN
    require_positive_int(k, "k", function=fn)
    owned_lf = as_lazy(customer_items, argument="customer_items")
    require_columns(owned_lf, {customer: "id", item: "id"}, function=fn, argument="customer_items")
    rules_lf = as_lazy(rules, argument="rules")
    rschema = require_columns(
        rules_lf, {"antecedents": "list", "consequents": "list", metric: "numeric"}, function=fn, argument="rules"
    )
    inner = cast(pl.List, rschema["antecedents"]).inner  # checked to be a list column
    owned_schema = schema_of(owned_lf)
    owned = owned_lf.select(
        pl.col(customer),
        _plain_items_expr(pl.col(item), owned_schema[item]).alias("item"),
    ).collect()
    require_no_nulls(owned, [customer], function=fn, argument="customer_items")
    owned = owned.drop_nulls("item").unique()
    target = pl.String if isinstance(inner, (pl.Categorical, pl.Enum)) else inner
    if owned.schema["item"] != target:
        try:
            owned = owned.with_columns(pl.col("item").cast(target, strict=True))
        except Exception as exc:  # polars raises InvalidOperationError subclasses
            raise SchemaError(
                f"{fn}: column '{item}' in 'customer_items' has dtype {owned.schema['item']}, "
                f"but the rules hold items of dtype {inner}; cast one to the other"
            ) from exc
    if min_lift is not None:
        if isinstance(min_lift, bool) or not isinstance(min_lift, (int, float)) or not math.isfinite(min_lift):
            raise CrmError(f"{fn}: argument 'min_lift' must be a number or None, found {min_lift!r}")
        if "lift" in rschema:
            rules_lf = rules_lf.filter(pl.col("lift") > min_lift)
    r = (
        rules_lf.select(
            pl.col("antecedents"),
            pl.col("consequents"),
            pl.col(metric).cast(pl.Float64).alias("score"),
        )
        .collect()
        .with_row_index("_rule")
        .with_columns(
            pl.col("antecedents").cast(pl.List(target)),
            pl.col("consequents").cast(pl.List(target)),
            pl.col("antecedents").list.len().alias("_n"),
        )
    )
    ante = r.select("_rule", "_n", pl.col("antecedents").alias("item")).explode("item")
    hits = (
        owned.lazy()
        .join(ante.lazy(), on="item")
        .group_by(customer, "_rule")
        .agg(pl.len().alias("_hit"), pl.col("_n").first())
        .filter(pl.col("_hit") == pl.col("_n"))
        .select(customer, "_rule")
    )
    cands = (
        hits.join(r.lazy().select("_rule", "consequents", "antecedents", "score"), on="_rule")
        .explode("consequents")
        .rename({"consequents": "item"})
        .join(owned.lazy(), on=[customer, "item"], how="anti")
        .sort([customer, "item", "score", "_rule"], descending=[False, False, True, False])
        .group_by(customer, "item", maintain_order=True)
        .agg(pl.col("score").first(), pl.col("antecedents").first().alias("because"))
        .sort([customer, "score", "item"], descending=[False, True, False])
        .with_columns((pl.int_range(pl.len()).over(customer) + 1).cast(pl.UInt32).alias("rank"))
        .filter(pl.col("rank") <= k)
        .select(customer, "item", "score", "rank", "because")
    )
    return cands.collect()


def demo_step(ctx: Any) -> "StepOutput":
    """The basket step of `crmkit demo`: itemsets, rules and top recommendations."""
    from crmkit._pipeline import StepOutput

    items = ctx.items
    n_orders = items.select(pl.col("order_id").n_unique()).item()
    sets = frequent_itemsets(items, basket="order_id", item="product", min_support=0.005, max_len=3)
    rules = association_rules(sets, metric="lift", min_threshold=1.5)
    tables = {"itemsets": sets, "rules": rules}
    lines = [
        f"{n_orders:,} baskets, {items.select(pl.col('product').n_unique()).item():,} products: "
        f"{sets.height:,} frequent itemsets (min_support 0.5%), {rules.height:,} rules with lift >= 1.5"
    ]
    for row in rules.head(3).iter_rows(named=True):
        lines.append(
            f"{' + '.join(map(str, row['antecedents']))} -> {' + '.join(map(str, row['consequents']))}: "
            f"confidence {row['confidence']:.2f}, lift {row['lift']:.1f}"
        )
    if "customer_id" in ctx.orders.columns and rules.height:
        owned = items.join(ctx.orders.select("order_id", "customer_id"), on="order_id")
        recs = recommend(owned, rules, k=3, item="product")
        tables["recommendations"] = recs
        lines.append(f"cross-sell suggestions for {recs.select(pl.col('customer_id').n_unique()).item():,} customers")
    return StepOutput(tables, lines)
