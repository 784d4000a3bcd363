"""crmkit: fast, exact customer (CRM) analytics on polars, with a Rust core.

>>> import crmkit
>>> world = crmkit.datasets.generate(n_customers=200, seed=7)
>>> world.orders.columns
['order_id', 'customer_id', 'order_date', 'amount', 'channel', 'discount']
"""

from crmkit._core import __version__
from crmkit.errors import ConvergenceError, CrmError, SchemaError, TooLargeError
from crmkit import datasets, plot, report
from crmkit._export import spreadsheet_safe, write_csv

__all__ = [
    "__version__",
    "CrmError",
    "SchemaError",
    "TooLargeError",
    "ConvergenceError",
    "datasets",
    "plot",
    "report",
    "write_csv",
    "spreadsheet_safe",
]

# Each domain adds its public names in its own block below.

# --- cleaning and identity resolution ---
from crmkit import clean
from crmkit import _namespace  # noqa: F401  (registers the pl.col(...).crm namespace)
from crmkit.dedupe import dedupe, dedupe_pairs, golden_records, link

__all__ += ["clean", "dedupe", "dedupe_pairs", "link", "golden_records"]

# --- segmentation ---
from crmkit.segment import RFM_SEGMENT_PRESETS, Segmentation, rfm, rfm_summary, segment_customers
from crmkit.cluster import KChoice, KMeans, Scaler, choose_k, scale, silhouette_score
from crmkit.profiles import DEFAULT_TAG_RULES, default_tag_rules, profile, tags

__all__ += [
    "rfm", "rfm_summary", "RFM_SEGMENT_PRESETS", "segment_customers", "Segmentation",
    "KMeans", "Scaler", "scale", "choose_k", "KChoice", "silhouette_score",
    "profile", "tags", "DEFAULT_TAG_RULES", "default_tag_rules",
]

# --- customer lifetime value ---
from crmkit import clv  # noqa: E402

__all__ += ["clv"]

# --- behaviour and baskets ---
from crmkit import basket, behaviour
from crmkit.behaviour import *  # noqa: E402,F403  (funnel, paths, cohorts, ...)

__all__ += ["basket", "behaviour", *behaviour.__all__]

# --- ml ---
from crmkit import ml  # noqa: E402

__all__ += ["ml"]

# --- churn ---
from crmkit import churn, metrics  # noqa: E402

__all__ += ["churn", "metrics"]
# --- forecast ---
from crmkit import forecast  # noqa: E402

__all__ += ["forecast"]
# --- KPIs, alerts and sales performance ---
from crmkit import kpi  # noqa: E402

__all__ += ["kpi"]
# --- experiments ---
from crmkit import experiment  # noqa: E402

__all__ += ["experiment"]
# --- dashboard and geography ---
from crmkit import geo  # noqa: E402
from crmkit import dashboard  # noqa: E402  (a callable package: crmkit.dashboard(...), crmkit.dashboard.SECTIONS)
from crmkit.dashboard import demo_inputs as dashboard_demo_inputs  # noqa: E402

__all__ += ["geo", "dashboard", "dashboard_demo_inputs"]
