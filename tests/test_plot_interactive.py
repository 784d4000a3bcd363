"""crmkit.plot draws Chinese text with a CJK font, and every plot function has an
interactive (Altair) twin that draws the same numbers."""

from __future__ import annotations

import warnings

import matplotlib
import polars as pl
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import crmkit  # noqa: E402
from crmkit import clv, plot  # noqa: E402

alt = pytest.importorskip("altair", reason="interactive twins need the crmkit[dashboard] extra")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def world():
    return crmkit.datasets.generate(n_customers=600, seed=4)


def _data(chart) -> list[dict]:
    spec = chart.to_dict()
    if "data" in spec and "values" in spec["data"]:
        return spec["data"]["values"]
    layers = spec.get("layer") or []
    return layers[0]["data"]["values"] if layers and "data" in layers[0] else spec["datasets"][next(iter(spec["datasets"]))]


def test_chinese_labels_have_glyphs():
    fonts = plot.use_cjk_fonts()
    if not fonts:
        pytest.skip("no CJK font installed (make test installs fonts-wqy-microhei as root)")
    seg = pl.DataFrame({"segment": ["高价值客户", "流失客户"], "customers": [20, 80], "revenue": [900.0, 100.0]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ax = plot.segments(seg, title="客户分群：人数与销售额")
        ax.figure.canvas.draw()
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message).lower() or "Glyph" in str(w.message)]
    assert missing == []
    assert "WenQuanYi Micro Hei" in plot.CJK_FONTS


def test_twins_return_altair_charts_with_the_same_numbers(world):
    f = crmkit.funnel(world.events, ["view", "cart", "checkout", "purchase"], window="7d")
    chart = plot.funnel(f, interactive=True)
    assert isinstance(chart, alt.TopLevelMixin)
    assert [r["users"] for r in _data(chart)] == f["users"].to_list()
    scores = crmkit.rfm(world.orders)
    grid = plot.rfm_grid(scores, interactive=True)
    assert sum(r["customers"] for r in _data(grid)) == scores.drop_nulls(["r_score", "f_score"]).height
    summary = crmkit.rfm_summary(scores)
    seg = plot.segments(summary, interactive=True)
    shares = [r["share"] for r in _data(seg) if r["measure"] == "customers"]
    assert sum(shares) == pytest.approx(1.0)
    m = crmkit.cohort_matrix(world.orders, period="1mo")
    heat = plot.cohort_heatmap(m, interactive=True, max_periods=6)
    assert {r["period"] for r in _data(heat)} <= set(range(6))
    conc = plot.value_concentration([1.0, 1.0, 8.0], interactive=True)
    assert [round(r["share"], 2) for r in _data(conc)] == [0.0, 0.8, 0.9, 1.0]
    # static versions still return Axes
    assert hasattr(plot.funnel(f), "get_title")


def test_model_twins(world):
    s = clv.summary(world.orders, amount="amount", freq="D")
    m = clv.BetaGeoFitter(penalizer_coef=0.001).fit(s)
    chart = plot.probability_alive_matrix(m, max_frequency=3, max_recency=50.0, interactive=True)
    values = _data(chart)
    assert all(0.0 <= r["p_alive"] <= 1.0 for r in values) and len(values) == 4 * 51
    t = pl.DataFrame({"k": [2, 3, 4], "inertia": [90.0, 40.0, 35.0], "silhouette": [0.5, 0.7, 0.6]})
    assert plot.choose_k(t, interactive=True).to_dict()
    ch = pl.DataFrame({"frequency": [0, 1], "actual_holdout": [0.2, 0.9], "predicted_holdout": [0.25, 0.8]})
    assert len(_data(plot.calibration_holdout(ch, interactive=True))) == 4
    pt = pl.DataFrame({"label": ["0", "1+"], "actual": [5, 2], "model": [4.5, 2.5]})
    assert len(_data(plot.period_transactions(pt, interactive=True))) == 4


def test_province_map_and_trend(world):
    pytest.importorskip("cpca")
    s = crmkit.geo.summary(world.customers, city="city")
    ax = plot.province_map(s)
    assert len(ax.patches) == 34
    chart = plot.province_map(s, interactive=True, lang="en")
    labels = {r["label"] for r in _data(chart)}
    assert "Guangdong" in labels and len(labels) == 34
    t = crmkit.dashboard_demo_inputs(world)["orders"]
    from crmkit.dashboard import sales_trend

    trend = sales_trend(t)
    assert len(plot.sales_trend(trend).get_lines()) == trend["group"].n_unique()
    assert plot.sales_trend(trend, interactive=True).to_dict()["mark"]["type"] == "line"


def test_trend_with_forecast_band(world):
    from crmkit.dashboard import sales_forecast

    f = sales_forecast(world.orders, h=3)
    ax = plot.sales_trend(f)
    groups = f["group"].n_unique()
    assert len(ax.get_lines()) == 2 * groups and len(ax.collections) == groups  # a shaded band per group
    spec = plot.sales_trend(f, interactive=True).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["area", "line", "line"]
    rows = _data(plot.sales_trend(f, interactive=True))
    assert sum(r["part"] == "forecast" for r in rows) == f.filter(pl.col("part") == "forecast").height


def test_forecast_twin_draws_the_same_numbers():
    from crmkit import forecast as fc

    hist = pl.DataFrame({"unique_id": "a", "ds": list(range(24)), "y": [float(t % 6) for t in range(24)]})
    out = fc.forecast(hist, models=[fc.SeasonalNaive(6)], h=6, level=[80])
    chart = plot.forecast(hist, out, interactive=True)
    rows = _data(chart)
    ahead = [r for r in rows if r["series"] == "SeasonalNaive"]
    assert [r["value"] for r in ahead] == out["SeasonalNaive"].to_list()
    assert [r["lower"] for r in ahead] == out["SeasonalNaive-lo-80"].to_list()
    assert sum(r["series"] == "history" for r in rows) == 24


def test_churn_chart_twins_carry_the_static_numbers():
    from crmkit import metrics

    y = [1, 0, 1, 0, 0, 1, 0, 0, 0, 0]
    p = [.9, .8, .7, .6, .5, .4, .3, .2, .1, 0]
    g = metrics.gains_table(y, p, n_bins=5)
    static = plot.gains(g).get_lines()[0].get_ydata().tolist()
    rows = [r for r in _data(plot.gains(g, interactive=True)) if r["line"] == "model"]
    assert [round(r["reached"], 6) for r in rows] == [round(v, 6) for v in static]
    c = metrics.calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], n_bins=2)
    chart = plot.calibration(c, interactive=True).to_dict()
    assert chart["layer"] and [round(r["observed_rate"], 6) for r in _layer_data(chart)] == [0.0, 1.0]
    fi = _data(plot.feature_importance([0.1, 0.6, 0.3], names=["a", "b", "c"], top=2, interactive=True))
    assert [(r["name"], r["value"]) for r in fi] == [("b", 0.6), ("c", 0.3)]
    s = pl.DataFrame({"top_reasons": ["no order for 94 days; 1 order(s) in total", "no order for 12 days"]})
    assert [(r["name"], r["value"]) for r in _data(plot.reasons(s, interactive=True))] == [
        ("no order for # days", 2.0), ("# order(s) in total", 1.0)]
    with pytest.raises(crmkit.CrmError, match="top_reasons"):
        plot.reasons(pl.DataFrame({"x": [1]}), interactive=True)


def _layer_data(spec: dict) -> list:
    """The rows of the layer that carries observed_rate (Altair may move data to the top)."""
    datasets = spec.get("datasets", {})
    for layer in spec["layer"]:
        data = layer.get("data", {})
        rows = data.get("values") or datasets.get(data.get("name"), [])
        if rows and "observed_rate" in rows[0]:
            return rows
    raise AssertionError("no layer with the calibration points")


def test_kpi_and_experiment_twins(world):
    from crmkit import experiment as ex

    k = crmkit.kpi.compute(world.orders, freq="1w", kpis=["revenue", "orders", "aov"])
    chart = plot.kpi(k, kpi="revenue", holidays="none", interactive=True).to_dict()
    assert len(chart["layer"]) >= 3
    static = plot.kpi(k, kpi="revenue", holidays="none")
    tiles = plot.kpi_tiles(k, kpis=["revenue", "orders", "aov"], interactive=True).to_dict()
    titles = [c["title"] for c in tiles["hconcat"]]
    assert [t.split(":")[0] for t in titles] == ["revenue", "orders", "aov"]
    assert static.get_title() == "revenue"
    agg = pl.DataFrame({"variant": ["control", "b", "c"], "n": [1000, 1000, 1000], "sum": [100, 160, 95]})
    res = ex.ab_test(agg)
    spec = plot.experiment(res, interactive=True).to_dict()
    rows = spec["data"]["values"]  # the layers share the forest's rows (the zero line has its own)
    assert [r["row"] for r in rows] == [t.get_text() for t in plot.experiment(res).get_yticklabels()]
    w = crmkit.datasets.generate(n_customers=1_000, seed=1, campaigns=2)
    assert plot.uplift(crmkit.experiment.campaign(w.campaigns, w.orders), interactive=True).to_dict()["layer"]


def test_every_chart_has_an_interactive_twin():
    import inspect

    charts = [n for n in plot.__all__ if n != "use_cjk_fonts" and callable(getattr(plot, n))]
    lacking = []
    for name in charts:
        fn = getattr(plot, name)
        params = inspect.signature(fn).parameters
        if "interactive" not in params and "interactive=True" not in (fn.__doc__ or ""):
            lacking.append(name)
    assert lacking == []
