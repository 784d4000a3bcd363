"""crmkit.dashboard (the HTML file, without a browser), its KPI tiles and trend tables,
PII masking and escaping, geo.summary against the generated truth, and the CLI."""

from __future__ import annotations

import datetime as dt
import html
import re
import sys

import polars as pl
import pytest

import crmkit
from crmkit import geo
from crmkit.cli import main

dashboard_mod = sys.modules["crmkit.dashboard"]

pytest.importorskip("altair", reason="the dashboard needs the crmkit[dashboard] extra (altair, vl-convert-python)")
pytest.importorskip("vl_convert", reason="the dashboard needs the crmkit[dashboard] extra (vl-convert-python)")
pytest.importorskip("cpca", reason="the map needs the division table from cpca (crmkit[address])")

LIMIT = 1_500_000


@pytest.fixture(scope="module")
def small_world():
    return crmkit.datasets.generate(n_customers=800, seed=11, campaigns=2)


@pytest.fixture(scope="module")
def page(small_world, tmp_path_factory):
    t = crmkit.dashboard_demo_inputs(small_world)
    surveys = dashboard_mod.demo_surveys_and_campaigns(small_world)["surveys"]
    path = crmkit.dashboard(t["orders"], customers=t["customers"], items=t["items"], events=t["events"],
                            surveys=surveys, campaigns=t["campaigns"], out=tmp_path_factory.mktemp("dash") / "dashboard.html")
    return path.read_text(encoding="utf-8")


def test_every_section_is_in_the_file(page):
    for section in dashboard_mod.SECTIONS:
        assert f'id="sec-{section.id}"' in page
    assert 'class="failed"' not in page
    assert "未显示" not in page  # nothing skipped when every table is given
    assert '<html lang="zh-CN">' in page  # Chinese data, Chinese labels
    assert "核心指标" in page and "客户地域分布" in page
    for new in ("指标预警", "流失风险", "实验结果"):
        assert new in page
    assert {"kpi", "alerts", "trend", "churn", "experiments"} <= {s.id for s in dashboard_mod.SECTIONS}


def test_public_names_of_the_package():
    # crmkit.dashboard is the function and the package at once.
    assert callable(crmkit.dashboard) and crmkit.dashboard is dashboard_mod
    assert crmkit.dashboard.SECTIONS is dashboard_mod.SECTIONS
    assert crmkit.dashboard.register_section is dashboard_mod.register_section
    import inspect

    assert "mask_pii" in inspect.signature(crmkit.dashboard).parameters
    for name in dashboard_mod.__all__:
        assert getattr(crmkit.dashboard, name) is not None


def test_self_contained_and_small(page):
    size = len(page.encode("utf-8"))
    assert size <= LIMIT, size
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"<iframe|<img[^>]+src\s*=\s*[\"']?https?:", page, re.I)
    assert "default-src 'none'" in page  # the browser refuses any request too


def test_no_unmasked_pii(page, small_world):
    truth = small_world.truth.customers
    phones = [p for p in truth["phone"].drop_nulls().to_list() if p]
    emails = [e for e in truth["email"].drop_nulls().to_list() if e]
    raw_phones = small_world.customers["phone"].drop_nulls().to_list()
    raw_emails = small_world.customers["email"].drop_nulls().to_list()
    body = page.split("</head><body><header>", 1)[1]
    for value in phones + raw_phones:
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 8:
            assert value.strip() not in body and digits not in body
    for value in emails + raw_emails:
        if "@" in value:
            assert value.strip() not in body and value.strip().lower() not in body
    assert "***@" in page  # masked e-mails are shown in the top-customers table


def hostile_scores(orders: pl.DataFrame, reason: str, n: int = 30) -> pl.DataFrame:
    """Churn scores whose reasons carry markup (the churn section shows reasons as text)."""
    ids = orders["customer_id"].unique().sort().head(n)
    return pl.DataFrame({"customer_id": ids, "churn_probability": 0.9, "risk_band": "very high",
                         "expected_future_spend": 0.0, "value_at_risk": 100.0 + pl.int_range(n, eager=True),
                         "top_reasons": reason})


def test_hostile_text_is_escaped(small_world, tmp_path):
    t = crmkit.dashboard_demo_inputs(small_world)
    hostile = '<script>alert("x")</script>'
    product = "</script><img src=x onerror=alert(1)>'\""
    reason = "no order for 90 days</script><script>alert(2)</script> onerror=alert(3) 'q\""
    customers = t["customers"].with_columns(name=pl.lit(hostile), address=pl.lit("<b>广东省深圳市</b>南山区"))
    items = t["items"].with_columns((pl.lit(product) + pl.col("product").cast(pl.String)).alias("product"))
    orders = t["orders"].with_columns((pl.lit(hostile) + pl.col("channel").cast(pl.String)).alias("channel"))
    campaigns = t["campaigns"].with_columns((pl.lit(product) + pl.col("campaign_id").cast(pl.String)).alias("campaign_id"))
    path = crmkit.dashboard(orders, customers=customers, items=items, campaigns=campaigns, mask_pii=False, lang="en",
                            out=tmp_path / "d.html", title='Shop "<b>"',
                            results={"churn_scores": hostile_scores(orders, reason)})
    text = path.read_text(encoding="utf-8")
    body = text.split("</head><body><header>", 1)[1]
    assert 'class="failed"' not in body
    for section in ("churn", "experiments", "alerts", "trend"):
        assert f'id="sec-{section}"' in body
    assert hostile not in body and product not in body and reason not in body and "<img" not in body
    assert html.escape(hostile) in body  # the name shows as text
    assert html.escape(product, quote=True) in body  # the product shows as text in the rules table
    churn = body.split('id="sec-churn"', 1)[1].split("</section>", 1)[0]
    assert html.escape(reason, quote=True) in churn and html.escape(hostile) in churn
    assert "<title>Shop &quot;&lt;b&gt;&quot;</title>" in text
    # Chart data lives in JSON that cannot close its script element.
    for spec in re.findall(r'<script type="application/json" data-chart="[^"]+">(.*?)</script>', body, re.S):
        assert "<" not in spec


def test_alerts_section_lists_what_kpi_alerts_flags(tmp_path):
    # Monthly revenue flat at 1,000 for three years, then a month at 5x: one critical row.
    months = pl.date_range(dt.date(2021, 1, 1), dt.date(2024, 1, 1), "1mo", eager=True)
    rows = pl.DataFrame({"order_date": months}).with_columns(
        amount=pl.when(pl.col("order_date") == dt.date(2024, 1, 1)).then(5000.0).otherwise(1000.0 + pl.int_range(37) % 3))
    orders = rows.with_columns(customer_id=pl.int_range(pl.len()), order_id=pl.int_range(pl.len()),
                               order_date=pl.col("order_date") + pl.duration(days=27))
    flagged = crmkit.kpi.alerts(crmkit.kpi.compute(orders, as_of=dt.date(2024, 2, 1)))
    latest = flagged.filter(pl.col("period_start") == dt.date(2024, 1, 1))
    assert "revenue" in latest["kpi"].to_list()
    text = crmkit.dashboard(orders, lang="en", as_of=dt.date(2024, 2, 1), out=tmp_path / "a.html").read_text(encoding="utf-8")
    section = text.split('id="sec-alerts"', 1)[1].split("</section>", 1)[0]
    rows_html = re.findall(r"<tr>(.*?)</tr>", section.split("<tbody>", 1)[1].split("</tbody>", 1)[0])
    assert len(rows_html) == latest.height
    revenue_reason = latest.filter(pl.col("kpi") == "revenue")["reason"][0]
    assert html.escape(revenue_reason) in section
    kpi_section = text.split('id="sec-kpi"', 1)[1].split("</section>", 1)[0]
    assert 'class="badge' in kpi_section and html.escape(revenue_reason, quote=True) in kpi_section


def test_sections_drop_out_with_their_inputs(small_world, tmp_path):
    path = crmkit.dashboard(small_world.orders, out=tmp_path / "o.html", lang="en")
    text = path.read_text(encoding="utf-8")
    for present in ("kpi", "alerts", "trend", "segments", "cohorts", "clv", "churn"):
        assert f'id="sec-{present}"' in text
    for absent in ("geo", "funnel", "rules", "surveys", "campaigns", "experiments"):
        assert f'id="sec-{absent}"' not in text
    assert "Not shown:" in text and "Key figures" in text


def test_kpi_tiles_against_hand_computation():
    d = dt.date
    orders = pl.DataFrame({
        "customer_id": [1, 2, 1, 3, 1, 2, 4],
        "order_id": [1, 2, 3, 4, 5, 6, 7],
        "amount": [100.0, 50.0, 30.0, 20.0, 60.0, 40.0, 10.0],
        "order_date": [d(2023, 2, 3), d(2023, 2, 20), d(2024, 1, 5), d(2024, 1, 9), d(2024, 2, 1), d(2024, 2, 29),
                       d(2024, 3, 2)],
    })
    tiles, series = dashboard_mod.kpi_tiles(orders)
    t = {r["metric"]: r for r in tiles.iter_rows(named=True)}
    # March 2024 is incomplete (data ends on the 2nd): February 2024 is the last complete month.
    assert t["revenue"]["period"] == d(2024, 2, 1)
    assert t["revenue"]["value"] == 100.0 and t["revenue"]["previous"] == 50.0
    assert t["revenue"]["change_prev"] == pytest.approx(1.0)
    assert t["revenue"]["year_ago"] == 150.0 and t["revenue"]["change_year"] == pytest.approx(100 / 150 - 1)
    assert t["active_customers"]["value"] == 2.0 and t["orders"]["value"] == 2.0 and t["aov"]["value"] == 50.0
    assert series.filter(pl.col("metric") == "revenue")["period"].max() == d(2024, 2, 1)


def test_kpi_alert_flags_an_outlier():
    # Two years of one order of about 100 a month, then a month of two orders of 400.
    dates = [dt.date(2022 + m // 12, m % 12 + 1, 10) for m in range(24)] + [dt.date(2024, 1, 10), dt.date(2024, 1, 31)]
    amounts = [100.0 + (m % 3) for m in range(24)] + [400.0, 400.0]
    orders = pl.DataFrame({"customer_id": list(range(26)), "order_id": list(range(26)), "amount": amounts,
                           "order_date": dates})
    tiles, _ = dashboard_mod.kpi_tiles(orders)
    revenue = tiles.filter(pl.col("metric") == "revenue").row(0, named=True)
    assert revenue["period"] == dt.date(2024, 1, 1) and revenue["value"] == 800.0
    assert revenue["alert"] == 1 and revenue["reason"] and revenue["severity"] in ("warning", "critical")
    # The badges are crmkit.kpi.alerts' verdicts on the latest complete month, nothing else.
    values = crmkit.kpi.compute(orders, kpis=["revenue", "orders", "active_customers", "aov"])
    flagged = crmkit.kpi.alerts(values).filter(pl.col("period_start") == dt.date(2024, 1, 1))
    expected = {r["kpi"]: (1 if r["direction"] == "up" else -1) for r in flagged.iter_rows(named=True)}
    assert {r["metric"]: r["alert"] for r in tiles.iter_rows(named=True) if r["alert"]} == expected
    # Two customers after one a month is within Poisson noise: no badge on the counts.
    assert expected == {"revenue": 1, "aov": 1}


def test_kpi_tiles_are_kpi_compute(small_world):
    o = small_world.orders
    tiles, series = dashboard_mod.kpi_tiles(o)
    values = crmkit.kpi.compute(o, kpis=["revenue", "orders", "active_customers", "aov"])
    last = values.filter(pl.col("is_complete"))["period_start"].max()
    for r in tiles.iter_rows(named=True):
        v = values.filter((pl.col("kpi") == r["metric"]) & (pl.col("period_start") == last)).row(0, named=True)
        assert r["period"] == last and r["value"] == pytest.approx(v["value"])
        assert r["change_prev"] == pytest.approx(v["change_pct"]) and r["change_year"] == pytest.approx(v["yoy_pct"])
    # Independent: the last complete month's revenue by a plain group-by.
    month = o.filter(pl.col("order_date").cast(pl.Date).dt.truncate("1mo") == last)
    assert tiles.filter(pl.col("metric") == "revenue")["value"][0] == pytest.approx(month["amount"].sum())
    assert tiles.filter(pl.col("metric") == "active_customers")["value"][0] == month["customer_id"].n_unique()
    assert series.group_by("metric").len()["len"].max() <= 24


def test_sales_forecast_band_and_history(small_world):
    o = small_world.orders
    f = dashboard_mod.sales_forecast(o, h=3)
    actual = f.filter(pl.col("part") == "actual")
    trend = dashboard_mod.sales_trend(o).rename({"revenue": "r"})
    both = actual.join(trend, on=["period", "group"], how="left")
    assert both["r"].fill_null(0.0).to_list() == pytest.approx(both["revenue"].to_list())
    last = o["order_date"].max()
    assert actual["period"].max() < dt.date(last.year, last.month, 1) or last.day == 31  # the running month is out
    ahead = f.filter(pl.col("part") == "forecast")
    for g in set(actual["group"]):
        a = ahead.filter(pl.col("group") == g).sort("period")
        assert a.height == 4  # the joint point and 3 periods
        assert a["revenue"][0] == actual.filter(pl.col("group") == g).sort("period")["revenue"][-1]
        assert (a["lower"] <= a["revenue"] + 1e-9).all() and (a["revenue"] <= a["upper"] + 1e-9).all()
        assert (a["upper"] - a["lower"])[1:].min() > 0


def test_sales_forecast_of_a_steady_series():
    months = pl.date_range(dt.date(2022, 1, 1), dt.date(2024, 12, 1), "1mo", eager=True)
    o = pl.DataFrame({"customer_id": 1, "order_date": months, "amount": 100.0})
    f = dashboard_mod.sales_forecast(o, h=2, as_of=dt.date(2025, 1, 1))
    ahead = f.filter(pl.col("part") == "forecast").sort("period")
    assert ahead["period"].to_list() == [dt.date(2024, 12, 1), dt.date(2025, 1, 1), dt.date(2025, 2, 1)]
    assert ahead["revenue"].to_list() == pytest.approx([100.0] * 3, rel=1e-3)


def test_sales_trend_matches_group_by(small_world):
    t = dashboard_mod.sales_trend(small_world.orders, freq="1mo")
    o = small_world.orders
    assert t["revenue"].sum() == pytest.approx(o["amount"].sum())
    assert t["orders"].sum() == o.height
    assert set(t["group"]) == set(o["channel"].cast(pl.String))


def test_masking():
    df = pl.DataFrame({"n": ["张伟", "欧阳娜娜", "John Smith"], "p": ["+8613812345678", "010-62345678", "5678"],
                       "e": ["li.na@qq.com", "A@B.CN", "none"]})
    out = df.select(dashboard_mod.mask_name("n"), dashboard_mod.mask_phone("p"), dashboard_mod.mask_email("e"))
    assert out.rows() == [("张*", "+*********5678", "l***@qq.com"), ("欧***", "***-****5678", "A***@B.CN"),
                          ("J*** S****", "5678", "***")]


def test_geo_summary_against_generated_cities(small_world):
    c = small_world.customers
    parsed = geo.parse(c, city="city")
    # A generated Chinese address starts with its city (or a district of it): every
    # parsed city must be the record's true city.
    truth = small_world.truth.records.join(small_world.truth.customers.select("customer_id"), on="customer_id")
    assert truth.height == c.height
    cn = parsed.filter(pl.col("address").str.contains(r"[\u4e00-\u9fff]") & pl.col("city").is_not_null())
    assert cn.height > 0.6 * c.height
    from_text = cn.filter(pl.col("address").str.contains("市"))
    starts = from_text.select(pl.col("address").str.extract(r"^\s*([^\s市]+)市", 1).alias("c"), "city")
    starts = starts.filter(pl.col("c").is_not_null())
    assert (starts["c"] + "市" == starts["city"]).all()
    summary = geo.summary(c, city="city")
    assert summary["customers"].sum() == c.height
    known = summary.filter(pl.col("province").is_not_null())
    assert known["row"].null_count() == 0 and known["longitude"].null_count() == 0
    cities = geo.summary(c, level="city", city="city")
    assert cities["customers"].sum() == c.height


def test_geo_summary_measures_and_errors():
    df = pl.DataFrame({"customer_id": [1, 2, 3], "order_id": [1, 2, 3], "amount": [1.0, 2.0, 4.0],
                       "clv": [10.0, 20.0, 30.0], "address": ["广州市天河区", "广州市越秀区", "北京市"]})
    s = geo.summary(df, measures=("customers", "revenue", "aov", "clv"))
    assert s.select("province", "customers", "revenue", "aov", "clv").rows() == [
        ("广东省", 2, 3.0, 1.5, 15.0), ("北京市", 1, 4.0, 4.0, 30.0)]
    with pytest.raises(crmkit.CrmError, match="level"):
        geo.summary(df, level="street")
    with pytest.raises(crmkit.SchemaError, match="address"):
        geo.summary(df.drop("address"))
    with pytest.raises(crmkit.CrmError, match="unknown measure"):
        geo.summary(df, measures=("nope",))


def test_tile_grid_places_every_province_once():
    t = geo.province_tiles("zh")
    assert t.height == 34
    assert t.select("row", "col").unique().height == 34
    assert t.filter(pl.col("adcode") == "650000")["col"][0] < t.filter(pl.col("adcode") == "310000")["col"][0]


def test_cli_dashboard(small_world, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    t = crmkit.dashboard_demo_inputs(small_world)
    t["orders"].write_parquet(data / "orders.parquet")
    t["customers"].write_parquet(data / "customers.parquet")
    out = tmp_path / "board.html"
    code = main(["dashboard", "--orders", str(data / "orders.parquet"), "--customers", str(data / "customers.parquet"),
                 "--out", str(out), "--lang", "en", "--title", "Weekly"])
    assert code == 0 and out.exists()
    text = out.read_text(encoding="utf-8")
    assert "<title>Weekly</title>" in text and 'id="sec-geo"' in text


def test_bad_arguments(small_world, tmp_path):
    with pytest.raises(crmkit.CrmError, match="lang"):
        crmkit.dashboard(small_world.orders, lang="fr", out=tmp_path / "x.html")
    with pytest.raises(crmkit.CrmError, match="freq"):
        crmkit.dashboard(small_world.orders, freq="monthly", out=tmp_path / "x.html")
    with pytest.raises(crmkit.SchemaError, match="amount"):
        crmkit.dashboard(small_world.orders.drop("amount"), out=tmp_path / "x.html")


def test_demo_writes_the_dashboard_beside_the_report(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--customers", "300", "--seed", "5", "--quiet"]) == 0
    board = tmp_path / "dashboard.html"
    assert board.exists() and board.stat().st_size <= LIMIT
    assert '<a href="dashboard.html">' in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert (tmp_path / "geo_province.parquet").exists()
    text = board.read_text(encoding="utf-8")
    for section in dashboard_mod.SECTIONS:
        assert f'id="sec-{section.id}"' in text
    assert 'class="failed"' not in text
    assert "dashboard:" in capsys.readouterr().out


def test_nps_and_campaign_sections_against_hand_computation(tmp_path):
    surveys = pl.DataFrame({"customer_id": [1, 2, 3, 4, 5], "score": [10, 9, 8, 3, 6],
                            "date": [dt.date(2024, 1, 3)] * 5})
    campaigns = pl.DataFrame({"campaign": ["a", "a"], "group": ["treatment", "control"], "customers": [1000, 1000],
                              "conversions": [120, 100]})
    orders = pl.DataFrame({"customer_id": [1], "order_id": [1], "amount": [1.0], "order_date": [dt.date(2024, 1, 3)]})
    text = crmkit.dashboard(orders, surveys=surveys, campaigns=campaigns, lang="en", out=tmp_path / "n.html").read_text(
        encoding="utf-8")
    assert '<div class="tlabel">NPS</div><div class="tvalue">0.00</div>' in text  # 2 promoters - 2 detractors of 5
    # Treatment 12% vs control 10%: lift +20%; Wilson interval of 100/1000 is [0.0829, 0.1203].
    assert 'data-v="0.2"' in text or 'data-v="0.19999999999999996"' in text
    import json

    from scipy.stats import binomtest

    spec = json.loads("[" + re.search(r'"values":\[(\{"campaign".*?)\]', text).group(1) + "]")
    for row in spec:
        ci = binomtest(int(row["k"]), row["n"]).proportion_ci(method="wilson")
        assert row["lo"] == pytest.approx(ci.low, abs=1e-9) and row["hi"] == pytest.approx(ci.high, abs=1e-9)
    assert {r["group"]: round(r["lift"], 9) for r in spec} == {"control": 0.0, "treatment": 0.2}


def test_customers_without_addresses_leave_the_map_out(small_world, tmp_path):
    t = crmkit.dashboard_demo_inputs(small_world)
    text = crmkit.dashboard(t["orders"], customers=t["customers"].drop("address"), lang="en",
                            out=tmp_path / "n.html").read_text(encoding="utf-8")
    assert 'id="sec-geo"' not in text and 'class="failed"' not in text
    assert "Where customers are (geo_province)" in text  # listed as not shown, with what it lacks
    trend = text.split('id="sec-trend"', 1)[1].split("</section>", 1)[0]
    assert trend.count('class="chart"') == 1  # by channel only: no provinces to split by
