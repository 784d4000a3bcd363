"""Plots of crmkit's tables, for the notebook: each takes the table a crmkit function
returned, draws it with matplotlib and returns the ``Axes``.

matplotlib is optional (``pip install 'crmkit[plot]'``); only this package needs it.
Every function accepts ``ax=`` to draw into an existing figure.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import crmkit
>>> from crmkit import plot
>>> world = crmkit.datasets.load_sample()
>>> table = crmkit.funnel(world.events, ["view", "cart", "checkout", "purchase"], window="7d")
>>> ax = plot.funnel(table)
>>> [t.get_text() for t in ax.get_yticklabels()]
['view', 'cart', 'checkout', 'purchase']

The charts are grouped by domain in private modules (behaviour, CLV, segments, churn,
forecast, KPIs, experiments, geography); their public names are all here, as
``crmkit.plot.<name>``. Functions with an interactive twin take ``interactive=True``
and then return the Altair chart the dashboard draws, for Jupyter.
"""

from __future__ import annotations

from crmkit.plot._base import CJK_FONTS, use_cjk_fonts
from crmkit.plot._behaviour import cohort_heatmap, funnel
from crmkit.plot._churn import calibration, feature_importance, gains, reasons
from crmkit.plot._clv import calibration_holdout, frequency_recency_matrix, period_transactions, probability_alive_matrix
from crmkit.plot._experiment import experiment, uplift
from crmkit.plot._forecast import forecast
from crmkit.plot._geo import province_map, sales_trend
from crmkit.plot._kpi import kpi, kpi_tiles
from crmkit.plot._segment import choose_k, rfm_grid, segments, value_concentration

__all__ = ["funnel", "cohort_heatmap", "calibration_holdout", "period_transactions", "probability_alive_matrix",
           "frequency_recency_matrix", "segments", "rfm_grid", "choose_k", "value_concentration", "kpi", "kpi_tiles"]
# --- churn ---
__all__ += ["gains", "calibration", "feature_importance", "reasons"]
# --- forecast ---
__all__ += ["forecast"]
# --- experiments ---
__all__ += ["experiment", "uplift"]
# --- dashboard and geography ---
__all__ += ["CJK_FONTS", "use_cjk_fonts", "province_map", "sales_trend"]
