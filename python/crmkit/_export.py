"""Writing result tables for people: CSV that a spreadsheet opens safely.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as
a formula by Excel, LibreOffice and Google Sheets; in a table built from customer data
(a name such as ``=HYPERLINK(...)``) that is an injection (OWASP "CSV injection").
:func:`write_csv` neutralises such text cells by prefixing a single quote, the
convention the spreadsheets themselves use for "this is text"; numbers are written as
numbers and never changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import polars as pl

from crmkit.errors import CrmError

__all__ = ["write_csv", "spreadsheet_safe"]

_FORMULA_START = r"^[=+\-@\t\r]"


def spreadsheet_safe(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every text cell that a spreadsheet would run as a formula prefixed
    by ``'``, and nested columns (lists, structs) written as text.

    >>> import polars as pl
    >>> spreadsheet_safe(pl.DataFrame({"name": ["=1+2", "Ann", "-x", None], "n": [-1, 2, 3, 4]})).rows()
    [("'=1+2", -1), ('Ann', 2), ("'-x", 3), (None, 4)]
    """
    if not isinstance(df, pl.DataFrame):
        raise CrmError(f"spreadsheet_safe: expected a polars DataFrame, found {type(df).__name__}")
    exprs = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Struct):
            col = col.struct.json_encode()
        elif isinstance(dtype, (pl.List, pl.Array)):
            col = col.cast(pl.List(pl.String)).list.join("; ")
        elif isinstance(dtype, (pl.Categorical, pl.Enum)):
            col = col.cast(pl.String)
        elif dtype != pl.String:
            continue
        exprs.append(pl.when(col.str.contains(_FORMULA_START)).then(pl.lit("'") + col).otherwise(col).alias(name))
    return df.with_columns(exprs) if exprs else df


def write_csv(df: pl.DataFrame, path: Union[str, Path], *, spreadsheet_safe_cells: bool = True) -> Path:
    """Writes ``df`` as UTF-8 CSV (with a byte-order mark, so Excel reads Chinese text
    right). By default text cells that a spreadsheet would run as formulas are
    neutralised (see :func:`spreadsheet_safe`); ``spreadsheet_safe_cells=False`` writes
    the values exactly (for programs, not people). Nested columns become text.

    >>> import polars as pl, tempfile, os
    >>> p = write_csv(pl.DataFrame({"名字": ["=cmd|'/c calc'!A1", "张伟"]}), os.path.join(tempfile.mkdtemp(), "t.csv"))
    >>> p.read_text(encoding="utf-8-sig").splitlines()
    ['名字', "'=cmd|'/c calc'!A1", '张伟']
    """
    path = Path(path)
    if spreadsheet_safe_cells:
        out = spreadsheet_safe(df)
    else:
        out = df.with_columns(
            [pl.col(n).struct.json_encode() for n, t in df.schema.items() if isinstance(t, pl.Struct)]
            + [pl.col(n).cast(pl.List(pl.String)).list.join("; ") for n, t in df.schema.items()
               if isinstance(t, (pl.List, pl.Array))]
        )
    out.write_csv(path, include_bom=True)
    return path
