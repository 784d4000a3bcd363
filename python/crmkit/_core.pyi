# Type stubs for crmkit's compiled module. Each domain keeps its own section.

import numpy as np
import numpy.typing as npt

__version__: str

class CrmError(ValueError): ...
class SchemaError(CrmError): ...
class TooLargeError(CrmError): ...
class ConvergenceError(CrmError): ...

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
