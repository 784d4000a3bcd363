"""crmkit: fast, exact customer (CRM) analytics on polars, with a Rust core.

>>> import crmkit
>>> world = crmkit.datasets.generate(n_customers=200, seed=7)
>>> world.orders.columns
['order_id', 'customer_id', 'order_date', 'amount', 'channel', 'discount']
"""

from crmkit._core import __version__
from crmkit.errors import ConvergenceError, CrmError, SchemaError, TooLargeError
from crmkit import datasets

__all__ = [
    "__version__",
    "CrmError",
    "SchemaError",
    "TooLargeError",
    "ConvergenceError",
    "datasets",
]

# Each domain adds its public names in its own block below.

# --- cleaning and identity resolution ---
from crmkit import clean
from crmkit import _namespace  # noqa: F401  (registers the pl.col(...).crm namespace)
from crmkit.dedupe import dedupe, dedupe_pairs, golden_records, link

__all__ += ["clean", "dedupe", "dedupe_pairs", "link", "golden_records"]

# --- segmentation ---

# --- customer lifetime value ---
from crmkit import clv  # noqa: E402

__all__ += ["clv"]

# --- behaviour and baskets ---
from crmkit import basket, behaviour
from crmkit.behaviour import (
    cohort_matrix,
    cohorts,
    funnel,
    funnel_levels,
    next_steps,
    paths,
    pipeline_funnel,
    transitions,
)

__all__ += [
    "basket",
    "behaviour",
    "funnel",
    "funnel_levels",
    "pipeline_funnel",
    "paths",
    "transitions",
    "next_steps",
    "cohorts",
    "cohort_matrix",
]
