# Type stubs for crmkit's compiled module. Each domain keeps its own section.
from typing import Any

import numpy as np
import numpy.typing as npt

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

# --- segmentation ---

def kmeans_fit(
    x: npt.NDArray[np.float64],
    n_clusters: int,
    init: str,
    n_init: int,
    max_iter: int,
    tol: float,
    seed: int,
    init_centers: npt.NDArray[np.float64] | None = None,
    sample_weight: npt.NDArray[np.float64] | None = None,
    bounded: bool = True,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32], float, int]: ...
def kmeans_predict(
    x: npt.NDArray[np.float64], centers: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...
def silhouette_samples(x: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]: ...
