"""RFM scoring and named customer segments, composed as one lazy polars query.

`rfm` turns an orders table into one row per customer with recency, frequency
and monetary value, 1..bins scores and a named segment; `rfm_summary` sums the
segments up. Clustering lives in :mod:`crmkit.cluster`, customer profiles and
tags in :mod:`crmkit.profiles`; `segment_customers` joins the three.

>>> import polars as pl, crmkit
>>> from datetime import date
>>> orders = pl.DataFrame({
...     "customer_id": [1, 1, 2, 3, 3, 3],
...     "order_date": [date(2024, 1, 5), date(2024, 3, 1), date(2024, 2, 10),
...                    date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 2)],
...     "amount": [20.0, 30.0, 15.0, 50.0, 40.0, 60.0],
... })
>>> crmkit.rfm(orders, bins=3, segments=None).select("customer_id", "recency_days", "frequency", "monetary", "rfm_score")
shape: (3, 5)
┌─────────────┬──────────────┬───────────┬──────────┬───────────┐
│ customer_id ┆ recency_days ┆ frequency ┆ monetary ┆ rfm_score │
│ ---         ┆ ---          ┆ ---       ┆ ---      ┆ ---       │
│ i64         ┆ i64          ┆ i64       ┆ f64      ┆ str       │
╞═════════════╪══════════════╪═══════════╪══════════╪═══════════╡
│ 1           ┆ 2            ┆ 2         ┆ 50.0     ┆ 222       │
│ 2           ┆ 22           ┆ 1         ┆ 15.0     ┆ 111       │
│ 3           ┆ 1            ┆ 3         ┆ 150.0    ┆ 333       │
└─────────────┴──────────────┴───────────┴──────────┴───────────┘
"""

from crmkit.segment._clusters import Segmentation, demo_step, segment_customers
from crmkit.segment._rfm import RFM_SEGMENT_PRESETS, rfm, rfm_summary

__all__ = [
    "rfm",
    "rfm_summary",
    "RFM_SEGMENT_PRESETS",
    "segment_customers",
    "Segmentation",
]
