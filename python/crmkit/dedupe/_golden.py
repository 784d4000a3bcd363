"""golden_records (one survivor row per entity) and the demo step."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Mapping, Optional, Union

import polars as pl

from crmkit import clean as _clean
from crmkit._validate import as_frame, require_columns, require_no_nulls, require_unique
from crmkit.dedupe._api import dedupe
from crmkit.errors import CrmError, SchemaError

if TYPE_CHECKING:
    from crmkit._pipeline import StepOutput


_RULES = ("most_recent", "most_frequent", "longest", "first")


def golden_records(
    df: Union[pl.DataFrame, pl.LazyFrame],
    entities: pl.DataFrame,
    id: str,
    rules: Optional[Mapping[str, Union[str, tuple[Any, ...]]]] = None,
    *,
    order_by: Optional[str] = None,
    source: Optional[str] = None,
) -> pl.DataFrame:
    """One row per entity (``entity_id``), each field chosen by a survivorship rule,
    with ``record_ids``: the list of source record ids (lineage) and ``n_records``.

    Rules per column: 'most_recent' (default: the last non-null value by ``order_by``,
    or by input order when ``order_by`` is None), 'most_frequent' (ties: most recent),
    'longest', 'first', or ``("source", [preferred sources...])`` (the most recent value
    from the most preferred source, needs ``source=``). Columns without a rule use the
    default; ``id``, ``order_by`` and ``source`` themselves are not repeated.

    >>> import polars as pl, crmkit
    >>> df = pl.DataFrame({"rid": [1, 2, 3], "name": ["张伟", None, "李娜"],
    ...                    "email": ["zw@qq.com", "zhang.wei@163.com", None], "seen": [1, 2, 1]})
    >>> ent = pl.DataFrame({"rid": [1, 2, 3], "entity_id": [1, 1, 3]})
    >>> crmkit.golden_records(df, ent, id="rid", order_by="seen").rows()
    [(1, '张伟', 'zhang.wei@163.com', [1, 2], 2), (3, '李娜', None, [3], 1)]
    """
    function = "crmkit.golden_records"
    frame = as_frame(df, argument="df")
    ent = as_frame(entities, argument="entities")
    require_columns(frame, {id: "id"}, function=function, argument="df")
    require_columns(ent, {id: "id", "entity_id": "id"}, function=function, argument="entities")
    require_no_nulls(frame, [id], function=function, argument="df")
    require_unique(frame, id, function=function, argument="df")
    if order_by is not None:
        require_columns(frame, {order_by: "any"}, function=function, argument="df")
    if source is not None:
        require_columns(frame, {source: "any"}, function=function, argument="df")
    data = frame.with_row_index("_pos").join(ent.select(id, "entity_id"), on=id, how="left")
    missing = int(data["entity_id"].null_count())
    if missing:
        raise SchemaError(f"{function}: {missing} record id(s) of 'df' have no row in 'entities' (column '{id}'); pass the output of crmkit.dedupe for the same records")
    skip = {id, order_by, source}
    cols = [c for c in frame.columns if c not in skip]
    rules = dict(rules or {})
    for c in rules:
        if c not in frame.columns:
            raise SchemaError(f"{function}: rule for column '{c}', which is not in 'df' (columns {frame.columns})")
    order = [order_by, "_pos"] if order_by is not None else ["_pos"]
    data = data.sort(order, nulls_last=False).with_row_index("_ord")
    aggs = []
    frequent = []
    for c in cols:
        rule = rules.get(c, "most_recent")
        v = pl.col(c)
        if isinstance(rule, tuple) or isinstance(rule, list):
            if len(rule) != 2 or rule[0] != "source" or source is None:
                raise CrmError(f"{function}: rule for '{c}' must be one of {list(_RULES)} or ('source', [preferred, ...]) with source= given, found {rule!r}")
            prefs = list(rule[1])
            rank = pl.col(source).replace_strict(prefs, list(range(len(prefs))), default=len(prefs), return_dtype=pl.Int64)
            # Sort first, then drop nulls: filtered sort keys inside a group-by fail on polars 1.28.
            aggs.append(v.sort_by(rank, descending=True, maintain_order=True).drop_nulls().last().alias(c))
        elif rule == "most_recent":
            aggs.append(v.drop_nulls().last().alias(c))
        elif rule == "first":
            aggs.append(v.drop_nulls().first().alias(c))
        elif rule == "longest":
            length = v.cast(pl.String).str.len_chars()
            aggs.append(v.sort_by(length, maintain_order=True).drop_nulls().last().alias(c))
        elif rule == "most_frequent":
            frequent.append(c)
        else:
            raise CrmError(f"{function}: rule for '{c}' must be one of {list(_RULES)} or ('source', [preferred, ...]), found {rule!r}")
    out = data.group_by("entity_id", maintain_order=False).agg(
        *aggs, pl.col(id).sort_by("_pos").alias("record_ids"), pl.len().cast(pl.Int64).alias("n_records")
    )
    for c in frequent:
        # Most frequent non-null value; ties go to the most recent.
        pick = (
            data.filter(pl.col(c).is_not_null())
            .group_by("entity_id", c)
            .agg(pl.len().alias("_n"), pl.col("_ord").max().alias("_last"))
            .sort("entity_id", "_n", "_last")
            .group_by("entity_id")
            .agg(pl.col(c).last())
        )
        out = out.join(pick, on="entity_id", how="left")
    return out.sort("entity_id").select("entity_id", *cols, "record_ids", "n_records")


def demo_step(ctx: Any) -> "StepOutput":
    """The `crmkit demo` step: cleaned customers, entity map, golden records, report."""
    from crmkit._pipeline import StepOutput

    customers = ctx.customers
    id_col = "record_id" if "record_id" in customers.columns else customers.columns[0]
    cleaned = _clean.customers(customers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        entities = dedupe(customers, id=id_col)
    order_by = "signup_date" if "signup_date" in cleaned.data.columns else None
    src = "source" if "source" in cleaned.data.columns else None
    golden = golden_records(cleaned.data, entities, id=id_col, order_by=order_by, source=src)
    n_ent = entities["entity_id"].n_unique()
    lines = [
        f"{customers.height:,} customer records resolved to {n_ent:,} entities "
        f"({customers.height - n_ent:,} duplicates merged)",
    ]
    for r in cleaned.report.iter_rows(named=True):
        lines.append(
            f"clean {r['column']} ({r['kind']}): {r['changed']:,} changed, {r['nulled_invalid']:,} invalid nulled, "
            f"{r['placeholders_removed']:,} placeholders removed"
        )
    lines += [f"note: {w.message}" for w in caught]
    return StepOutput(
        {"customers_clean": cleaned.data, "clean_report": cleaned.report, "entities": entities, "golden_records": golden},
        lines,
    )
