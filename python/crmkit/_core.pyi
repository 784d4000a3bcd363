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
from typing import Optional
def check_phone_region(region: str) -> None: ...
def name_key(name: str) -> Optional[str]: ...
def dedupe_score(
    columns: list[pl.Series],
    names: list[str],
    kinds: list[str],
    tf: list[bool],
    left: pl.Series,
    right: pl.Series,
    n_train: int,
    n_left: Optional[int] = None,
    labelled_left: Optional[pl.Series] = None,
    labelled_right: Optional[pl.Series] = None,
    n_random: int = 300_000,
    seed: int = 42,
    max_iter: int = 200,
    tol: float = 1e-7,
) -> tuple[pl.DataFrame, str]: ...
def dedupe_cluster(
    n: int, left: pl.Series, right: pl.Series, prob: pl.Series, threshold: float, max_size: int
) -> tuple[pl.Series, pl.Series, int, int]: ...
def greedy_one_to_one(left: pl.Series, right: pl.Series) -> pl.Series: ...

# --- segmentation ---

# --- customer lifetime value ---

# --- behaviour and baskets ---
