"""The ``.crm`` expression namespace: ``pl.col("phone").crm.phone(region="CN")``.

>>> import polars as pl, crmkit
>>> pl.DataFrame({"e": [" A@B.COM "]}).select(pl.col("e").crm.email()).item()
'a@b.com'
"""

from __future__ import annotations

from typing import Optional, Sequence

import polars as pl

from crmkit import clean as _clean


@pl.api.register_expr_namespace("crm")
class CrmNamespace:
    """crmkit's column cleaners on any expression (see :mod:`crmkit.clean`)."""

    def __init__(self, expr: pl.Expr) -> None:
        self._expr = expr

    def text(self, casefold: bool = False) -> pl.Expr:
        """See :func:`crmkit.clean.text`."""
        return _clean.text(self._expr, casefold=casefold)

    def name(self) -> pl.Expr:
        """See :func:`crmkit.clean.name`."""
        return _clean.name(self._expr)

    def phone(self, region: str = "CN") -> pl.Expr:
        """See :func:`crmkit.clean.phone`."""
        return _clean.phone(self._expr, region=region)

    def email(self) -> pl.Expr:
        """See :func:`crmkit.clean.email`."""
        return _clean.email(self._expr)

    def date(self, formats: Optional[Sequence[str]] = None) -> pl.Expr:
        """See :func:`crmkit.clean.date`."""
        return _clean.date(self._expr, formats=formats)

    def amount(self) -> pl.Expr:
        """See :func:`crmkit.clean.amount`."""
        return _clean.amount(self._expr)

    def name_key(self) -> pl.Expr:
        """See :func:`crmkit.clean.name_key`."""
        return _clean.name_key(self._expr)

    def address(self, default_province: Optional[str] = None) -> pl.Expr:
        """See :func:`crmkit.clean.address`."""
        return _clean.address(self._expr, default_province=default_province)

    def region(self, default_province: Optional[str] = None) -> pl.Expr:
        """See :func:`crmkit.clean.region`."""
        return _clean.region(self._expr, default_province=default_province)
