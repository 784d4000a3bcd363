"""What every crmkit.plot chart shares: matplotlib on demand, CJK font fallbacks,
the interactive (Altair) twins."""

from __future__ import annotations

from typing import Any

import polars as pl

from crmkit.errors import CrmError

_BAR = "#4C72B0"
_BOTTLENECK = "#C44E52"


def _pyplot(function: str) -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CrmError(f"{function}: needs matplotlib, which is not installed; "
                       "install it with `pip install 'crmkit[plot]'`") from exc
    use_cjk_fonts()
    return plt


def _axes(ax: Any, function: str, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    _, ax = _pyplot(function).subplots(figsize=figsize)
    return ax


#: Fonts with Chinese glyphs, tried in this order after matplotlib's default (DejaVu
#: Sans, which has none): Noto/Source Han (Linux, Adobe), WenQuanYi (Debian's
#: fonts-wqy-microhei, which `make test` installs), Microsoft YaHei/SimHei (Windows),
#: PingFang/Heiti (macOS), Arial Unicode. Only installed ones are used.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
             "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Arial Unicode MS")

_CJK_DONE = False


def use_cjk_fonts() -> list[str]:
    """Adds the installed fonts of :data:`CJK_FONTS` as matplotlib fallbacks (glyph by
    glyph, matplotlib >= 3.6) so Chinese labels draw instead of empty boxes; returns
    the fonts used. crmkit.plot calls it before drawing; call it yourself for your own
    figures. Without any CJK font installed it changes nothing (install one, e.g.
    Debian's ``fonts-wqy-microhei``).

    >>> from crmkit import plot
    >>> isinstance(plot.use_cjk_fonts(), list)
    True
    """
    global _CJK_DONE
    import matplotlib
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = [f for f in CJK_FONTS if f in installed]
    if not _CJK_DONE and found:
        # matplotlib falls back glyph by glyph along font.family (a generic family such
        # as "sans-serif" counts as its first installed font), so the CJK fonts go last.
        family = list(matplotlib.rcParams["font.family"])
        matplotlib.rcParams["font.family"] = family + [f for f in found if f not in family]
        _CJK_DONE = True
    return found


def _interactive_twin(static: Any, twin: Any) -> Any:
    import functools

    @functools.wraps(static)
    def draw(*args: Any, interactive: bool = False, **kwargs: Any) -> Any:
        if interactive:
            return twin(*args, **kwargs)
        return static(*args, **kwargs)

    draw.__doc__ = (static.__doc__ or "") + (
        "\n    ``interactive=True`` returns the interactive Altair chart instead (tooltips, zoom;\n"
        "    the dashboard's chart), for Jupyter; needs ``crmkit[dashboard]``.\n"
    )
    return draw


def _alt() -> Any:
    try:
        import altair as alt
    except ImportError as exc:
        raise CrmError("crmkit.plot(..., interactive=True) needs Altair: pip install 'crmkit[dashboard]'") from exc
    return alt


def _rows(df: pl.DataFrame) -> Any:
    from crmkit.dashboard._html import _values

    return _alt().Data(values=_values(df))
