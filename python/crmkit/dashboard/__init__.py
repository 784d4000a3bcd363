"""One self-contained, interactive HTML dashboard of a CRM analysis: KPI tiles and
alerts (crmkit.kpi), sales trends with their forecast (crmkit.forecast), where
customers are (a province tile map, city bubbles, province bars), segments, funnel,
cohorts, lifetime value, churn risk (crmkit.churn), cross-sell rules, surveys,
campaigns and experiment results (crmkit.experiment) — a file to e-mail that opens
offline.

Charts are Vega-Lite specifications made with Altair; the Vega JavaScript is inlined
once from the ``vl-convert-python`` package (the pinned ``crmkit[dashboard]`` extra), so
the file makes no request of any kind. Only aggregates and a bounded number of
customer rows are embedded, with names, phones and e-mails masked unless
``mask_pii=False``. Everything from the data is escaped: a customer called
``<script>…`` shows as that text.

The page is built from a *section registry* (:data:`SECTIONS`): each section names
the inputs or results it needs and a function that returns its charts and HTML;
sections whose inputs are absent are listed as not shown. A new analysis adds one
:func:`register_section` call. ``crmkit.dashboard`` is both this package and its
function: ``crmkit.dashboard(orders, ...)`` writes the page.

>>> import tempfile, pathlib, crmkit
>>> world = crmkit.datasets.generate(n_customers=300, seed=2)
>>> path = crmkit.dashboard(world.orders, out=pathlib.Path(tempfile.mkdtemp()) / "d.html", lang="en")
>>> page = path.read_text(encoding="utf-8")
>>> "<script src" in page, 'id="sec-kpi"' in page, 'id="sec-trend"' in page
(False, True, True)
"""

from __future__ import annotations

import sys as _sys
import types as _types
from typing import TYPE_CHECKING as _TYPE_CHECKING

if _TYPE_CHECKING:  # annotation-only names, kept out of the module's public namespace
    from pathlib import Path
    from typing import Any

from crmkit.dashboard._board import MAX_CUSTOMER_ROWS, PROVIDERS, SECTIONS, Board, Section, dashboard, register_section  # noqa: F401
from crmkit.dashboard._html import FONT, Html  # noqa: F401
from crmkit.dashboard._labels import LABELS, TITLES  # noqa: F401
from crmkit.dashboard._mask import mask_email, mask_name, mask_phone
from crmkit.dashboard._tables import kpi_tiles, sales_forecast, sales_trend
from crmkit.dashboard import _sections  # noqa: F401  (registers the built-in sections)
from crmkit.dashboard._demo import demo_inputs as demo_inputs  # noqa: F401
from crmkit.dashboard._demo import demo_surveys_and_campaigns as demo_surveys_and_campaigns  # noqa: F401
from crmkit.dashboard._html import _values  # noqa: F401  (crmkit.plot's interactive twins use it)

__all__ = [
    "dashboard", "Section", "SECTIONS", "register_section", "kpi_tiles", "sales_trend", "mask_name", "mask_phone",
    "mask_email", "MAX_CUSTOMER_ROWS", "sales_forecast",
]


class _CallableModule(_types.ModuleType):
    """``crmkit.dashboard`` is this package and the function at once:
    ``crmkit.dashboard(orders, ...)`` writes the page, ``crmkit.dashboard.SECTIONS`` and
    ``crmkit.dashboard.register_section`` reach the registry."""

    def __call__(self, *args: Any, **kwargs: Any) -> Path:
        return dashboard(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
#: inspect.signature(crmkit.dashboard) and help() show the function's.
__wrapped__ = dashboard
