"""Churn prediction: leakage-free features, labels, and a calibrated, explained model.

The path from an orders table to a ranked list of customers at risk:

- ``features(orders, cutoff=...)``: one row per customer with an order before the
  cutoff, computed only from rows strictly before it (RFM, purchase rhythm and how
  overdue the next order is, per-window activity and trends, discounts, channels,
  timing, items, web events, and BG/NBD churn scores); ``FEATURES`` defines them.
- ``labels(orders, cutoff=..., horizon=180)``: ``churned`` (no order in the next
  ``horizon`` days), ``future_orders``, ``future_spend``.
- ``training_set(orders, cutoffs=[...])``: both, stacked over several cutoffs.
- ``ChurnModel``: gradient-boosted trees and logistic regression (``crmkit.ml``)
  chosen or blended out of time, calibrated on an out-of-time fold, with expected
  future spend, value at risk and the reasons per customer in words; ``evaluate``
  compares it with the rules users would otherwise use.

>>> from crmkit import churn, datasets
>>> world = datasets.generate(n_customers=400, seed=7)
>>> f = churn.features(world.orders, cutoff="2025-06-01")
>>> y = churn.labels(world.orders, cutoff="2025-06-01", horizon=180)
>>> f.height == y.height
True
"""

from crmkit.churn._features import FEATURES, feature_table, features, labels, training_set
from crmkit.churn._model import ChurnModel, demo_step, load

__all__ = ["features", "labels", "training_set", "FEATURES", "feature_table", "ChurnModel", "load"]
