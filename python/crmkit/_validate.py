"""Input contracts shared by every public function.

Each public function names the columns it needs and checks them here first, so
a user sees one clear message naming the column, what was expected and what
was found, instead of a deep polars or Rust error.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Literal, Mapping, Optional, TypeVar, Union

import polars as pl

from crmkit import _interrupt
from crmkit.errors import CrmError, SchemaError

Frame = Union[pl.DataFrame, pl.LazyFrame]
#: A function returning the kind of frame it was given.
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

Kind = Literal["any", "string", "integer", "numeric", "temporal", "date", "id", "boolean", "list"]

_KIND_TEXT = {
    "any": "any dtype",
    "string": "a string column (pl.String)",
    "integer": "an integer column",
    "numeric": "a numeric column (integer or float)",
    "temporal": "a date or datetime column (pl.Date / pl.Datetime)",
    "date": "a date or datetime column (pl.Date / pl.Datetime)",
    "id": "an id column (string or integer)",
    "boolean": "a boolean column",
    "list": "a list column",
}


def _matches(dtype: pl.DataType, kind: Kind) -> bool:
    if kind == "any":
        return True
    if kind == "string":
        return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))
    if kind == "integer":
        return dtype.is_integer()
    if kind == "numeric":
        return dtype.is_numeric()
    if kind in ("temporal", "date"):
        return dtype == pl.Date or isinstance(dtype, pl.Datetime)
    if kind == "id":
        return dtype.is_integer() or dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))
    if kind == "boolean":
        return dtype == pl.Boolean
    if kind == "list":
        return isinstance(dtype, pl.List)
    raise AssertionError(f"unknown column kind {kind!r}")


def as_lazy(data: Any, *, argument: str = "data") -> pl.LazyFrame:
    """Accepts a polars DataFrame or LazyFrame (or a pandas DataFrame) as a LazyFrame."""
    if isinstance(data, pl.LazyFrame):
        return data
    if isinstance(data, pl.DataFrame):
        return data.lazy()
    if type(data).__module__.startswith("pandas"):
        return pl.from_pandas(data).lazy()
    raise CrmError(
        f"argument '{argument}': expected a polars DataFrame or LazyFrame, found {type(data).__name__}"
    )


def as_frame(data: Any, *, argument: str = "data") -> pl.DataFrame:
    """Accepts a polars DataFrame or LazyFrame (or a pandas DataFrame) as a DataFrame."""
    if isinstance(data, pl.DataFrame):
        return data
    # A lazy input's query can run for long: collected so that Ctrl-C is felt.
    return _interrupt.collect(as_lazy(data, argument=argument))


def schema_of(data: Frame) -> pl.Schema:
    return data.collect_schema() if isinstance(data, pl.LazyFrame) else data.schema


def require_columns(
    data: Frame,
    columns: Mapping[str, Kind],
    *,
    function: str,
    argument: str = "data",
) -> pl.Schema:
    """Checks that each column exists with a dtype of the given kind.

    Raises SchemaError naming the column, the expectation, what was found and,
    for a missing column, the closest existing names.
    """
    schema = schema_of(data)
    for column, kind in columns.items():
        if column not in schema:
            close = difflib.get_close_matches(column, list(schema.names()), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            available = ", ".join(repr(c) for c in list(schema.names())[:20])
            raise SchemaError(
                f"{function}: column '{column}' not found in '{argument}' "
                f"(expected {_KIND_TEXT[kind]}); it has columns [{available}]{hint} "
                f"Pass the right name with the matching keyword argument."
            )
        dtype = schema[column]
        if not _matches(dtype, kind):
            raise SchemaError(
                f"{function}: column '{column}' in '{argument}' must be {_KIND_TEXT[kind]}, "
                f"found dtype {dtype}. Cast it first, for example "
                f"pl.col('{column}').cast(...) or .str.to_date() for dates."
            )
    return schema


def require_rows(data: pl.DataFrame, *, function: str, argument: str = "data") -> None:
    """Raises CrmError when an eager frame has no rows."""
    if data.height == 0:
        raise CrmError(f"{function}: '{argument}' is empty (0 rows); there is nothing to analyse")


def require_no_nulls(
    data: Union[pl.DataFrame, pl.LazyFrame],
    columns: Iterable[str],
    *,
    function: str,
    argument: str = "data",
    names: Optional[dict[str, str]] = None,
) -> None:
    """Raises SchemaError when key columns hold nulls (or NaN in float keys). A
    LazyFrame is checked in one streaming pass. ``names`` maps internal column names
    (derived keys) to the user's column named in the message."""
    columns = list(columns)
    if not columns:
        return
    schema = data.collect_schema() if isinstance(data, pl.LazyFrame) else data.schema
    exprs = [
        (pl.col(c).is_null() | pl.col(c).is_nan()).sum().alias(c) if schema[c].is_float() else pl.col(c).null_count().alias(c)
        for c in columns
    ]
    if isinstance(data, pl.LazyFrame):
        *counts, height = data.select(*exprs, pl.len().alias("__rows")).collect(engine="streaming").row(0)
    else:
        counts, height = list(data.select(exprs).row(0)), data.height
    for column, n in zip(columns, counts):
        if n:
            shown = (names or {}).get(column, column)
            raise SchemaError(
                f"{function}: column '{shown}' in '{argument}' holds {n} null/NaN value(s) of "
                f"{height}; a key column must be complete. Drop or fill them first "
                f"(for example {argument}.drop_nulls('{shown}'))."
            )


def require_unique(data: pl.DataFrame, column: str, *, function: str, argument: str = "data") -> None:
    """Raises SchemaError when an id column repeats values."""
    n_dup = data.height - data.select(pl.col(column).n_unique()).item()
    if n_dup:
        example = (
            data.group_by(column).len().filter(pl.col("len") > 1).select(column).head(3).to_series().to_list()
        )
        raise SchemaError(
            f"{function}: column '{column}' in '{argument}' must hold unique ids, found {n_dup} "
            f"duplicated row(s), for example {example}"
        )


def require_choice(value: Any, name: str, choices: Iterable[Any], *, function: str) -> None:
    choices = list(choices)
    if value not in choices:
        raise CrmError(f"{function}: argument '{name}' must be one of {choices}, found {value!r}")


def require_positive_int(value: Any, name: str, *, function: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        bound = ">= 0" if allow_zero else ">= 1"
        raise CrmError(f"{function}: argument '{name}' must be an integer {bound}, found {value!r}")
    return value


def _key_family(dtype: pl.DataType) -> str:
    if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "string"
    if dtype.is_integer():
        return "integer"
    return str(dtype)


def align_keys(
    left: pl.LazyFrame,
    right: pl.LazyFrame,
    columns: Mapping[str, str],
    *,
    function: str,
    left_argument: str,
    right_argument: str,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Makes join keys of two user frames joinable: ``columns`` maps each key in ``left``
    to its partner in ``right``. String-like keys (String, Categorical, Enum) are joined
    as String, integer keys of different widths as Int64; keys of different families
    (an integer id against a string id) raise SchemaError naming both columns."""
    ls, rs = schema_of(left), schema_of(right)
    lcasts, rcasts = [], []
    for lc, rc in columns.items():
        ld, rd = ls[lc], rs[rc]
        if ld == rd and not isinstance(ld, pl.Categorical):
            continue
        lf_, rf_ = _key_family(ld), _key_family(rd)
        if lf_ != rf_:
            raise SchemaError(
                f"{function}: column '{lc}' in '{left_argument}' ({ld}) and column '{rc}' in '{right_argument}' ({rd}) "
                f"must hold ids of one kind to be matched; cast one of them first, for example "
                f"pl.col('{rc}').cast(pl.{'String' if lf_ == 'string' else 'Int64'})"
            )
        target = pl.String if lf_ == "string" else pl.Int64
        lcasts.append(pl.col(lc).cast(target))
        rcasts.append(pl.col(rc).cast(target))
    return (left.with_columns(lcasts) if lcasts else left), (right.with_columns(rcasts) if rcasts else right)
