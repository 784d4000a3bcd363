"""PII masking as polars expressions (no Python loop over rows)."""

from __future__ import annotations

from typing import Union

import polars as pl

__all__ = ["mask_name", "mask_phone", "mask_email"]


def mask_name(col: Union[str, pl.Expr]) -> pl.Expr:
    """The first character, the rest as ``*`` (张伟 → 张*, John Smith → J*** S****).

    >>> import polars as pl
    >>> pl.select(mask_name(pl.lit(pl.Series(["张伟", "John Smith", None])))).to_series().to_list()
    ['张*', 'J*** S****', None]
    """
    e = (pl.col(col) if isinstance(col, str) else col).cast(pl.String)
    return e.str.split(" ").list.eval(
        pl.element().str.slice(0, 1) + pl.element().str.slice(1).str.replace_all(".", "*")
    ).list.join(" ")


def mask_phone(col: Union[str, pl.Expr]) -> pl.Expr:
    """Every digit but the last four as ``*``.

    >>> import polars as pl
    >>> pl.select(mask_phone(pl.lit(pl.Series(["+8613812345678", "12"])))).to_series().to_list()
    ['+*********5678', '12']
    """
    e = (pl.col(col) if isinstance(col, str) else col).cast(pl.String)
    n = e.str.len_chars()
    return pl.when(n > 4).then(e.str.slice(0, n - 4).str.replace_all(r"\d", "*") + e.str.slice(n - 4)).otherwise(e)


def mask_email(col: Union[str, pl.Expr]) -> pl.Expr:
    """The first character of the local part, then ``***@`` and the domain.

    >>> import polars as pl
    >>> pl.select(mask_email(pl.lit(pl.Series(["li.na@qq.com", "x"])))).to_series().to_list()
    ['l***@qq.com', '***']
    """
    e = (pl.col(col) if isinstance(col, str) else col).cast(pl.String)
    return pl.when(e.str.contains("@")).then(
        e.str.slice(0, 1) + pl.lit("***@") + e.str.split("@").list.last()
    ).otherwise(pl.lit("***"))
