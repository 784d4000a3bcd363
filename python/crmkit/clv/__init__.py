"""Customer lifetime value: the buy-till-you-die model family, lifetimes-compatible.

``summary`` turns a transaction log into per-customer (frequency, recency, T)
statistics with exactly the semantics of lifetimes'
``summary_data_from_transaction_data`` / ``calibration_and_holdout_data``. The
fitters carry lifetimes' class, method and parameter names, so moving over is a
change of import; they fit by maximum likelihood in Rust with analytic
gradients, after compressing identical customer histories into weights.

Coming from lifetimes: ``summary_data_from_transaction_data`` and
``calibration_and_holdout_data`` exist under those names with lifetimes'
arguments and columns (``*_cal`` included), and both are ``clv.summary``
underneath (whose calibration columns keep the names frequency/recency/T so a
fitter takes the frame as is); ``save_model``/``load_model`` write and read JSON,
never pickles; ``summary``,
``params_`` and the prediction methods keep their names; ``clv.predict`` scores a
whole frame (lazily too) and ``clv.calibration_holdout`` gives the numbers behind
lifetimes' calibration/holdout plot.

>>> import polars as pl
>>> from crmkit import clv
>>> orders = pl.DataFrame({
...     "customer_id": [1, 1, 1, 2, 3, 3],
...     "order_date": pl.Series(["2024-01-01", "2024-01-05", "2024-02-01", "2024-01-10",
...                              "2024-01-03", "2024-01-20"]).str.to_datetime(),
...     "amount": [10.0, 20.0, 30.0, 5.0, 8.0, 12.0]})
>>> clv.summary(orders, amount="amount")
shape: (3, 5)
┌─────────────┬───────────┬─────────┬──────┬────────────────┐
│ customer_id ┆ frequency ┆ recency ┆ T    ┆ monetary_value │
│ ---         ┆ ---       ┆ ---     ┆ ---  ┆ ---            │
│ i64         ┆ i64       ┆ f64     ┆ f64  ┆ f64            │
╞═════════════╪═══════════╪═════════╪══════╪════════════════╡
│ 1           ┆ 2         ┆ 31.0    ┆ 31.0 ┆ 25.0           │
│ 2           ┆ 0         ┆ 0.0     ┆ 22.0 ┆ 0.0            │
│ 3           ┆ 1         ┆ 17.0    ┆ 29.0 ┆ 12.0           │
└─────────────┴───────────┴─────────┴──────┴────────────────┘
"""

from crmkit.clv._fitters import (
    BetaGeoBetaBinomFitter,
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
    load,
)
from crmkit.clv._predict import calibration_holdout, demo_step, period_transactions, predict
from crmkit.clv._summary import calibration_and_holdout_data, summary, summary_data_from_transaction_data

__all__ = [
    "summary",
    "summary_data_from_transaction_data",
    "calibration_and_holdout_data",
    "predict",
    "calibration_holdout",
    "period_transactions",
    "BetaGeoFitter",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
    "BetaGeoBetaBinomFitter",
    "GammaGammaFitter",
    "load",
]
