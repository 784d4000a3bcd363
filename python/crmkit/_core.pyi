# Type stubs for crmkit's compiled module. Each domain keeps its own section.
from typing import Any, Optional

import numpy as np
import numpy.typing as npt
import polars as pl

__version__: str

class CrmError(ValueError): ...
class SchemaError(CrmError): ...
class TooLargeError(CrmError): ...
class ConvergenceError(CrmError): ...

def _raise_internal_panic() -> None: ...
def _interruptible_sleep(seconds: float) -> float: ...

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
    sessions: Optional[list[tuple[pl.Series, list[int]]]] = None,
) -> tuple[pl.DataFrame, str]: ...
def dedupe_cluster(
    n: int, left: pl.Series, right: pl.Series, prob: pl.Series, threshold: float, max_size: int, strong: float
) -> tuple[pl.Series, pl.Series, int, int, int]: ...
def greedy_one_to_one(left: pl.Series, right: pl.Series) -> pl.Series: ...

# --- segmentation ---

# --- customer lifetime value ---

def clv_fit(
    model: str,
    x: npt.NDArray[np.float64],
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    w: npt.NDArray[np.float64],
    penalizer: float,
    divisor: float,
    initial: Optional[list[float]] = None,
    max_iter: int = 500,
) -> dict: ...
def clv_predict(
    model: str,
    target: str,
    params: list[float],
    t: npt.NDArray[np.float64],
    x: npt.NDArray[np.float64],
    tx: npt.NDArray[np.float64],
    t_big: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def clv_value(
    model: str,
    params: list[float],
    months: int,
    factor: float,
    discount_rate: float,
    x: npt.NDArray[np.float64],
    tx: npt.NDArray[np.float64],
    t_big: npt.NDArray[np.float64],
    spend: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def clv_conditional_pmf(
    model: str,
    params: list[float],
    n: npt.NDArray[np.float64],
    t: npt.NDArray[np.float64],
    x: npt.NDArray[np.float64],
    tx: npt.NDArray[np.float64],
    t_big: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def clv_bgbb_counts(params: list[float], n: int) -> npt.NDArray[np.float64]: ...
def clv_count_pmf(
    model: str, params: list[float], n: npt.NDArray[np.float64], t: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]: ...
def clv_period_summary(
    customer: npt.NDArray[np.int64],
    period: npt.NDArray[np.int64],
    amount: npt.NDArray[np.float64],
) -> Optional[dict]: ...

# --- behaviour and baskets ---

BASKET_METRICS: list[str]

def basket_fpgrowth(
    basket: npt.NDArray[np.uint32],
    item: npt.NDArray[np.uint32],
    n_slots: int,
    n_items: int,
    min_support: float,
    max_len: int,
    max_itemsets: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32], npt.NDArray[np.uint64], int]: ...
def basket_min_count(min_support: float, n_baskets: int) -> int: ...
def basket_rules(
    offsets: npt.NDArray[np.int64],
    items: npt.NDArray[np.uint32],
    support: npt.NDArray[np.float64],
    metric: str,
    min_threshold: float,
    max_rules: int,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.uint32],
    npt.NDArray[np.int64],
    npt.NDArray[np.uint32],
    list[npt.NDArray[np.float64]],
]: ...
def behaviour_funnel(
    offsets: npt.NDArray[np.int64],
    ts: npt.NDArray[np.int64],
    step: npt.NDArray[np.uint32],
    n_steps: int,
    window: int,
    mode: str,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]: ...

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
def rfm_dense(
    customer: npt.NDArray[np.int64],
    date: npt.NDArray[np.int64],
    amount: npt.NDArray[np.float64],
    net: bool,
    max_range: int,
) -> Optional[
    tuple[
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
        npt.NDArray[np.int64],
    ]
]: ...

# --- ml (gradient-boosted trees, logistic regression) ---

class GbdtModel:
    n_iter: int
    n_features: int
    baseline: float
    loss: str
    feature_importances: npt.NDArray[np.float64]
    train_score: npt.NDArray[np.float64]
    validation_score: npt.NDArray[np.float64]
    def predict_raw(
        self, columns: list[npt.NDArray[np.float64]], start: int = 0, end: Optional[int] = None
    ) -> npt.NDArray[np.float64]: ...
    def contributions(self, columns: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> GbdtModel: ...
    def tree_shapes(self) -> list[tuple[int, int]]: ...

def gbdt_fit(
    columns: list[npt.NDArray[np.float64]],
    y: npt.NDArray[np.float64],
    sample_weight: Optional[npt.NDArray[np.float64]],
    categorical: list[bool],
    loss: str,
    tweedie_power: float,
    learning_rate: float,
    max_iter: int,
    max_leaf_nodes: int,
    max_depth: Optional[int],
    min_samples_leaf: int,
    l2_regularization: float,
    max_bins: int,
    early_stopping: bool,
    validation_fraction: Optional[float],
    n_iter_no_change: int,
    tol: float,
    seed: int,
) -> GbdtModel: ...

class LogisticModel:
    coef: npt.NDArray[np.float64]
    intercept: float
    coef_standardized: npt.NDArray[np.float64]
    intercept_standardized: float
    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    n_iter: int
    converged: bool
    def decision_function(self, columns: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> LogisticModel: ...

def logistic_fit(
    columns: list[npt.NDArray[np.float64]],
    y: npt.NDArray[np.float64],
    sample_weight: Optional[npt.NDArray[np.float64]],
    c: float,
    fit_intercept: bool,
    max_iter: int,
    tol: float,
) -> LogisticModel: ...
# --- forecast ---
def forecast_run(
    values: npt.NDArray[np.float64],
    offsets: npt.NDArray[np.int64],
    task_series: npt.NDArray[np.int64],
    task_len: npt.NDArray[np.int64],
    models: list[tuple[str, str]],
    h: int,
    levels: list[float],
) -> dict[str, Any]: ...
def forecast_trend_stats(
    values: npt.NDArray[np.float64], offsets: npt.NDArray[np.int64], m: int
) -> dict[str, npt.NDArray[np.float64]]: ...
# --- kpi ---
def kpi_cell_sums(
    keys: npt.NDArray[np.int64],
    amount: npt.NDArray[np.float64],
    discounted: npt.NDArray[np.bool_],
    n_groups: int,
    n_periods: int,
) -> dict[str, npt.NDArray[Any]]: ...
def kpi_bands(
    offsets: npt.NDArray[np.uint64],
    y: npt.NDArray[np.float64],
    den: npt.NDArray[np.float64],
    eligible: npt.NDArray[np.bool_],
    holiday: npt.NDArray[np.int32],
    kind: npt.NDArray[np.uint8],
    offset: npt.NDArray[np.float64],
    season: npt.NDArray[np.uint64],
    *,
    method: str,
    sensitivity: float,
    min_history: int,
    level_window: int,
    season_cycles: int,
    error_window: int,
    shift_run: int,
    critical: float,
    models: int,
    zscore_window: int,
    drift_run: int = 0,
    drift_z: float = 0.5,
    holiday_widen: float = 1.5,
    no_effect_widen: float = 1.25,
    tail_quantile: float = 0.9,
    learn_after: int = 0,
    cusum_k: float = 0.0,
    cusum_h: float = 0.0,
    count_lambda: float = 0.0,
    amount_lambda: float = 0.0,
    level_trim: float = 0.5,
    burn_in: int = 0,
    event_scale_widen: float = 0.0,
    level_noise: bool = False,
    choice_clip: float = 0.0,
) -> dict[str, npt.NDArray[Any]]: ...
def generate_surveys(
    seed: int,
    customers: npt.NDArray[np.int64],
    order_us: npt.NDArray[np.int64],
    response_rate: float,
    end_us: int,
) -> tuple[pl.DataFrame, pl.DataFrame]: ...
def generate_opportunities(
    seed: int, n_customers: int, start_day: int, end_day: int, n_reps: int, per_day: float
) -> tuple[pl.DataFrame, pl.DataFrame]: ...
# --- spark (pair-batch entry points of identity resolution) ---

def dedupe_prepared_text(kind: str, values: pl.Series) -> pl.Series: ...
def dedupe_score_pairs(
    model_json: str,
    kinds: list[str],
    left: list[pl.Series],
    right: list[pl.Series],
    tf_left: list[Optional[pl.Series]],
) -> pl.DataFrame: ...
# --- experiments ---

def experiment_summarize(keys: list[pl.Series], values: list[pl.Series], pairs: list[tuple[int, int]]) -> pl.DataFrame: ...
def experiment_compare(
    table: pl.DataFrame,
    alpha: float,
    alternative: str,
    test: str,
    mode: str,
    relative: bool = True,
    prior_mean: float = 0.0,
    prior_var: float | None = None,
    tuning: float = 5000.0,
) -> pl.DataFrame: ...
def experiment_mann_whitney(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], alternative: str) -> tuple[float, float]: ...
def experiment_fisher(a: int, b: int, c: int, d: int, alternative: str) -> tuple[float, float]: ...
def experiment_adjust(p: npt.NDArray[np.float64], group: npt.NDArray[np.int64], method: str) -> npt.NDArray[np.float64]: ...
def experiment_heterogeneity(
    est: list[float], var: list[float], group: list[int]
) -> tuple[list[int], list[float], list[float], list[float], list[float]]: ...
def experiment_power(test: str, effect_size: float, nobs1: float, alpha: float, ratio: float, alternative: str) -> float: ...
def experiment_solve_power(
    test: str, unknown: str, effect_size: float, nobs1: float, alpha: float, power_target: float, ratio: float, alternative: str
) -> float | None: ...
def stats_dist(name: str, x: npt.NDArray[np.float64], a: float = ..., b: float = ...) -> npt.NDArray[np.float64]: ...
def generate_campaigns(
    customer_id: npt.NDArray[np.int64],
    spend_rate: npt.NDArray[np.float64],
    first_us: npt.NDArray[np.int64],
    order_customer: npt.NDArray[np.int64],
    order_us: npt.NDArray[np.int64],
    seed: int,
    n_campaigns: int,
    first_send_day: int,
    last_send_day: int,
    window_days: float,
    audience_share: float,
    treatment_share: float,
    spend_shape: float,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]: ...

# --- forecast (ARIMA / CES kernels, tests and benchmark) ---
def _forecast_arima_run(
    model: str,
    params_json: str,
    values: npt.NDArray[np.float64],
    lengths: list[int],
    h: int,
    levels: list[float],
) -> dict[str, Any]: ...

# --- churn (per-customer order features of churn.features) ---
def churn_order_features(
    key: npt.NDArray[np.int64],
    key_offset: int,
    n_codes: int,
    us: npt.NDArray[np.int64],
    amount: npt.NDArray[np.float64],
    discount: Optional[npt.NDArray[np.float64]],
    discount_valid: Optional[npt.NDArray[np.bool_]],
    channel: Optional[npt.NDArray[np.int32]],
    channel_map: Optional[npt.NDArray[np.int32]],
    n_channels: int,
    cutoff_us: int,
    windows: list[int],
    with_time: bool,
) -> pl.DataFrame: ...
