"""crmkit.plot draws exactly the numbers of the tables it is given."""

from __future__ import annotations

import sys

import matplotlib
import numpy as np
import polars as pl
import pytest

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

import crmkit  # noqa: E402
from crmkit import clv, plot  # noqa: E402
from crmkit.errors import CrmError, SchemaError  # noqa: E402

STEPS = ["view", "cart", "checkout", "purchase"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def world():
    return crmkit.datasets.load_sample()


def test_funnel_bars_are_the_users_and_the_bottleneck_is_red(world):
    table = crmkit.funnel(world.events, STEPS, user="session_id", window=None)
    ax = plot.funnel(table)
    assert [p.get_width() for p in ax.patches] == table["users"].to_list()
    red = [mcolors.to_hex(p.get_facecolor()) == "#c44e52" for p in ax.patches]
    assert red == table["is_bottleneck"].to_list()
    assert [t.get_text() for t in ax.get_yticklabels()] == STEPS


def test_funnel_by_group_draws_a_bar_per_group_and_step(world):
    events = world.events.join(world.orders.select("customer_id", "channel").unique("customer_id"),
                               on="customer_id", how="inner")
    table = crmkit.funnel(events, STEPS, window="7d", by="channel")
    ax = plot.funnel(table)
    assert sorted(p.get_width() for p in ax.patches) == sorted(table["users"].to_list())
    assert ax.get_legend() is not None


def test_cohort_heatmap_shows_the_matrix(world):
    matrix = crmkit.cohort_matrix(world.orders)
    ax = plot.cohort_heatmap(matrix, max_periods=12)
    shown = ax.images[0].get_array()
    expected = matrix.select([str(i) for i in range(12)]).to_numpy()
    np.testing.assert_allclose(shown.filled(np.nan), expected, equal_nan=True)
    assert shown.mask[np.isnan(expected)].all()


def test_calibration_holdout_lines_are_the_table(world):
    s = clv.summary(world.orders, calibration_end="2024-06-30")
    model = clv.BetaGeoFitter().fit(s)
    table = clv.calibration_holdout(s, model)
    ax = plot.calibration_holdout(table)
    actual, predicted = ax.get_lines()
    np.testing.assert_allclose(actual.get_ydata(), table["actual_holdout"].to_numpy())
    np.testing.assert_allclose(predicted.get_ydata(), table["predicted_holdout"].to_numpy())


def test_period_transaction_bars_are_the_table(world):
    s = clv.summary(world.orders)
    table = clv.period_transactions(s, clv.BetaGeoFitter().fit(s))
    bars = plot.period_transactions(table).patches
    heights = [b.get_height() for b in bars]
    np.testing.assert_allclose(heights[: table.height], table["actual"].to_numpy())
    np.testing.assert_allclose(heights[table.height:], table["model"].to_numpy())


def test_history_matrices_are_the_model_on_a_grid(world):
    s = clv.summary(world.orders)
    model = clv.BetaGeoFitter().fit(s)
    ax = plot.probability_alive_matrix(model, s, max_frequency=10)
    grid = ax.images[0].get_array()
    T = float(s["T"].max())
    recency = np.linspace(0.0, T, grid.shape[1])
    for f in (0, 3, 10):
        for k in (0, grid.shape[1] // 2, grid.shape[1] - 1):
            assert grid[f, k] == pytest.approx(float(model.conditional_probability_alive(f, recency[k], T)))
    # More recent last purchases mean more likely alive, for repeat buyers.
    assert (np.diff(grid[1:], axis=1) >= -1e-12).all()
    ax = plot.frequency_recency_matrix(model, s, t=30, max_frequency=5)
    grid = ax.images[0].get_array()
    assert grid[5, -1] == pytest.approx(
        float(model.conditional_expected_number_of_purchases_up_to_time(30, 5, T, T)))


def test_bad_tables_get_clear_errors(world):
    with pytest.raises(SchemaError, match="is_bottleneck"):
        plot.funnel(pl.DataFrame({"step": ["a"], "users": [1], "conversion": [1.0], "step_conversion": [1.0]}))
    with pytest.raises(CrmError, match="period columns"):
        plot.cohort_heatmap(pl.DataFrame({"cohort": ["2024-01"], "retention": [1.0]}))
    with pytest.raises(SchemaError, match="predicted_holdout"):
        plot.calibration_holdout(pl.DataFrame({"frequency": [0], "actual_holdout": [0.1]}))
    model = clv.BetaGeoFitter().fit(clv.summary(world.orders))
    with pytest.raises(CrmError, match="max_frequency and max_recency"):
        plot.probability_alive_matrix(model)
    with pytest.raises(CrmError, match="max_recency > 0"):
        plot.frequency_recency_matrix(model, max_frequency=3, max_recency=0)
    with pytest.raises(CrmError, match="empty"):
        plot.probability_alive_matrix(model, pl.DataFrame(schema={"frequency": pl.Int64, "T": pl.Float64}))


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(CrmError, match="pip install 'crmkit\\[plot\\]'"):
        plot.calibration_holdout(pl.DataFrame({"frequency": [0], "actual_holdout": [0.1], "predicted_holdout": [0.1]}))


def test_draws_into_a_given_axes():
    fig, (left, right) = plt.subplots(1, 2)
    t = pl.DataFrame({"frequency": [0, 1], "actual_holdout": [0.1, 0.5], "predicted_holdout": [0.1, 0.4]})
    assert plot.calibration_holdout(t, ax=right) is right
    assert not left.get_lines()


def _random_rfm(n=2_000, bins=5, seed=3):
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"customer_id": np.arange(n), "r_score": rng.integers(1, bins + 1, n),
                         "f_score": rng.integers(1, bins + 1, n), "monetary": rng.gamma(2.0, 50.0, n),
                         "segment": rng.choice(["Champions", "At Risk", "Lost"], n)})


def test_rfm_grid_counts_every_customer_in_its_cell():
    t = _random_rfm()
    ax = plot.rfm_grid(t)
    grid = ax.images[0].get_array()
    for r in range(1, 6):
        for f in range(1, 6):
            assert grid[f - 1, r - 1] == t.filter((pl.col("r_score") == r) & (pl.col("f_score") == f)).height
    assert grid.sum() == t.height


def test_segments_shares_add_up():
    t = _random_rfm()
    summary = t.group_by("segment").agg(pl.len().alias("customers"), pl.col("monetary").sum().alias("revenue"))
    ax = plot.segments(summary)
    widths = np.array([p.get_width() for p in ax.patches])
    k = summary.height
    np.testing.assert_allclose(widths[:k], summary["customers"] / t.height)
    np.testing.assert_allclose(widths[k:], summary["revenue"] / summary["revenue"].sum())
    assert [x.get_text() for x in ax.get_yticklabels()] == summary["segment"].to_list()


def test_choose_k_marks_the_choice():
    scores = pl.DataFrame({"k": [2, 3, 4, 5], "inertia": [90.0, 40.0, 35.0, 33.0], "silhouette": [0.5, 0.7, 0.6, 0.55]})
    ax = plot.choose_k(scores, chosen=3)
    inertia, marker = ax.get_lines()
    np.testing.assert_allclose(inertia.get_ydata(), scores["inertia"].to_numpy())
    assert list(marker.get_xdata()) == [3, 3]


def test_bad_segment_tables_get_clear_errors():
    with pytest.raises(SchemaError, match="f_score"):
        plot.rfm_grid(pl.DataFrame({"r_score": [1], "monetary": [1.0]}))
    with pytest.raises(CrmError, match="no customer"):
        plot.rfm_grid(pl.DataFrame({"r_score": [None], "f_score": [1], "monetary": [1.0]},
                                   schema={"r_score": pl.Int64, "f_score": pl.Int64, "monetary": pl.Float64}))
    with pytest.raises(CrmError, match="sums to 0"):
        plot.segments(pl.DataFrame({"segment": ["a"], "customers": [0], "revenue": [0.0]}))
    with pytest.raises(SchemaError, match="inertia"):
        plot.choose_k(pl.DataFrame({"k": [2]}))
