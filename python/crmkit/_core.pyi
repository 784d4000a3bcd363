# Type stubs for crmkit's compiled module. Each domain keeps its own section.
from typing import Any

import polars as pl

__version__: str

class CrmError(ValueError): ...
class SchemaError(CrmError): ...
class TooLargeError(CrmError): ...
class ConvergenceError(CrmError): ...

def _raise_internal_panic() -> None: ...

# --- datasets ---

def generate_world(
    n_customers: int,
    seed: int,
    start_day: int,
    end_day: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float,
    q: float,
    gamma: float,
    records_per_person: list[float],
    event_days: int,
    funnel: list[float],
    n_products: int,
    bundle_rate: float,
    n_bundles: int,
) -> dict[str, Any]:
    """Tables (pl.DataFrame) by name plus 'bundles': list of (products, probability)."""
    ...

# --- cleaning and identity resolution ---

# --- segmentation ---

# --- customer lifetime value ---

# --- behaviour and baskets ---
