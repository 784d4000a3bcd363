"""The one helper that registers crmkit's Rust expression plugins with polars."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import polars as pl
from polars.plugins import register_plugin_function

_LIB = Path(__file__).parent


def plugin_call(
    name: str,
    args: Sequence[pl.Expr | str] | pl.Expr | str,
    kwargs: dict[str, Any] | None = None,
    *,
    is_elementwise: bool = True,
    **options: Any,
) -> pl.Expr:
    """Calls the Rust function `name` (a #[polars_expr]) on the given expressions."""
    if isinstance(args, (str, pl.Expr)):
        args = [args]
    exprs = [pl.col(a) if isinstance(a, str) else a for a in args]
    return register_plugin_function(
        plugin_path=_LIB,
        function_name=name,
        args=exprs,
        kwargs=kwargs,
        is_elementwise=is_elementwise,
        **options,
    )
