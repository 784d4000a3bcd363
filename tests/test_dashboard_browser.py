"""The dashboard in a real browser: headless Chromium (Debian's, installed by the
Makefile) driven by playwright, with every network request blocked. Every section
must render (a non-empty SVG per chart), without console errors or failed requests;
hostile customer and product names must execute nothing and show as text.

Skips only when Chromium or playwright is truly absent (a machine without root where
`make test` could not apt-get install it; see README)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import polars as pl
import pytest

import crmkit

CHROMIUM = os.environ.get("CRMKIT_CHROMIUM", "/usr/lib/chromium/chromium")

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium as root; see README)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
pytest.importorskip("altair", reason="the dashboard needs the crmkit[dashboard] extra")
pytest.importorskip("cpca", reason="the map needs the division table from cpca (crmkit[address])")

dashboard_mod = sys.modules["crmkit.dashboard"]

HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">"\'</script><script>window.__pwned=2</script>'
HOSTILE_PRODUCT = '</script><script>window.__pwned=3</script><svg onload="window.__pwned=4">'
HOSTILE_REASON = 'spend fell 80%</script><script>window.__pwned=5</script><img src=y onerror="window.__pwned=6">\'"'


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def world():
    return crmkit.datasets.generate(n_customers=800, seed=21, campaigns=2)


def _open(browser, path: Path, shots: Path):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    failed: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(r.url))

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    # Every chart container holds a drawn SVG with marks.
    page.wait_for_function(
        """() => { const c = document.querySelectorAll('div.chart');
                   return c.length > 0 && Array.from(c).every(d => d.querySelector('svg g.mark-group, svg path, svg rect')); }""",
        timeout=45_000,
    )
    page.screenshot(path=str(shots / f"{path.stem}.png"), full_page=True)
    return page, errors, failed, outside


def test_demo_dashboard_renders_offline(browser, world, tmp_path):
    t = crmkit.dashboard_demo_inputs(world)
    surveys = dashboard_mod.demo_surveys_and_campaigns(world)["surveys"]
    path = crmkit.dashboard(t["orders"], customers=t["customers"], items=t["items"], events=t["events"],
                            surveys=surveys, campaigns=t["campaigns"], out=tmp_path / "dashboard.html")
    page, errors, failed, outside = _open(browser, path, tmp_path)
    try:
        assert errors == [] and failed == [] and outside == []
        assert page.locator("section.card").count() == len(dashboard_mod.SECTIONS)
        assert page.locator(".failed").count() == 0
        for section in dashboard_mod.SECTIONS:
            el = page.query_selector(f"#sec-{section.id}")
            assert el is not None, section.id
            svgs = el.query_selector_all("svg")
            assert svgs, section.id  # every section draws at least one chart
            for svg in svgs:
                box = svg.bounding_box()
                assert box and box["width"] > 20 and box["height"] > 20, section.id
                assert svg.query_selector("path, rect, text, symbol") is not None, section.id
            el.screenshot(path=str(tmp_path / f"section-{section.id}.png"))
        # The map: 34 province tiles drawn; the KPI tiles: four values, each with a sparkline.
        assert page.locator("#sec-geo svg path[aria-roledescription='rect'], #sec-geo svg .mark-rect path").count() >= 34
        assert page.locator("#sec-kpi .tvalue").count() == 4
        assert page.locator("#sec-kpi .tile svg .mark-area path").count() == 4
        # The trend: lines per channel and region, each with its shaded forecast band.
        assert page.locator("#sec-trend svg").count() == 2
        assert page.locator("#sec-trend svg .mark-area path").count() >= 2
        assert "预测" in page.locator("#sec-trend").inner_text()
        # Churn: the at-risk customers, masked; experiments: one row per treatment.
        assert page.locator("#sec-churn tbody tr").count() > 0
        assert page.locator("#sec-experiments tbody tr").count() == 2
        # Sorting a table by clicking its header works client-side.
        header = page.locator("#sec-rules th").nth(4)
        header.click()
        lifts = [float(x) for x in page.locator("#sec-rules tbody td:nth-child(5)").evaluate_all(
            "els => els.map(e => e.getAttribute('data-v'))")]
        assert lifts == sorted(lifts) or lifts == sorted(lifts, reverse=True)
    finally:
        page.close()


def test_hostile_data_executes_nothing(browser, world, tmp_path):
    t = crmkit.dashboard_demo_inputs(world)
    customers = t["customers"].with_columns(name=pl.lit(HOSTILE_NAME))
    items = t["items"].with_columns((pl.lit(HOSTILE_PRODUCT) + pl.col("product").cast(pl.String)).alias("product"))
    orders = t["orders"].with_columns((pl.lit(HOSTILE_NAME) + pl.col("channel").cast(pl.String)).alias("channel"))
    campaigns = t["campaigns"].with_columns((pl.lit(HOSTILE_PRODUCT) + pl.col("campaign_id").cast(pl.String)).alias("campaign_id"))
    ids = orders["customer_id"].unique().sort().head(25)
    scores = pl.DataFrame({"customer_id": ids, "churn_probability": 0.9, "risk_band": "very high",
                           "expected_future_spend": 0.0, "value_at_risk": 100.0 + pl.int_range(25, eager=True),
                           "top_reasons": HOSTILE_REASON})
    path = crmkit.dashboard(orders, customers=customers, items=items, events=t["events"], campaigns=campaigns,
                            mask_pii=False, out=tmp_path / "hostile.html", title=HOSTILE_NAME,
                            results={"churn_scores": scores})
    page, errors, failed, outside = _open(browser, path, tmp_path)
    try:
        assert page.evaluate("() => window.__pwned") is None
        assert errors == [] and failed == [] and outside == []
        assert page.locator(".failed").count() == 0
        assert page.title() == HOSTILE_NAME
        names = page.locator("#sec-clv tbody tr td:nth-child(5)").all_inner_texts()
        assert names and all(n == HOSTILE_NAME for n in names)
        rules_text = page.locator("#sec-rules").inner_text()
        assert HOSTILE_PRODUCT in rules_text
        churn_rows = page.locator("#sec-churn tbody tr")
        assert churn_rows.count() > 0
        churn_text = page.locator("#sec-churn").inner_text()
        assert HOSTILE_REASON in churn_text and HOSTILE_NAME in churn_text
        assert HOSTILE_PRODUCT in page.locator("#sec-experiments").inner_text()
        # Chart labels (channels in the trend legend) are SVG text, never markup.
        legend = " ".join(page.locator("#sec-trend svg text").all_text_contents())
        assert "</script>" in legend or "<img" in legend
        assert page.locator("img[src='x'], img[src='y'], svg[onload]").count() == 0
    finally:
        page.close()


def test_hostile_data_in_the_run_report_executes_nothing(browser, tmp_path):
    """`crmkit run`'s HTML report shows tables of the results (names, products,
    channels, reasons): the same payloads must stay text there."""
    from crmkit import report
    from crmkit._pipeline import Context, run_steps

    small = crmkit.datasets.generate(n_customers=300, seed=5)
    customers = small.customers.with_columns(name=pl.lit(HOSTILE_NAME), address=pl.lit(HOSTILE_REASON))
    items = small.items.with_columns((pl.lit(HOSTILE_PRODUCT) + pl.col("product").cast(pl.String)).alias("product"))
    orders = small.orders.with_columns((pl.lit(HOSTILE_NAME) + pl.col("channel").cast(pl.String)).alias("channel"))
    ctx = Context(orders=orders, customers=customers, items=items, events=small.events)
    run_steps(ctx, tmp_path, progress=False)
    page_html = report.html_report(ctx, title=HOSTILE_NAME)
    body = page_html.split("<body", 1)[1]
    for payload in ("<script>window.__pwned", "<img src=", "<svg onload"):
        assert payload not in body
    path = tmp_path / "report.html"
    path.write_text(page_html, encoding="utf-8")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(f"dialog {d.message}"), d.dismiss()))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file://", "data:")) else r.abort())
    try:
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        assert page.evaluate("() => window.__pwned") is None
        assert errors == []
        assert page.title() == HOSTILE_NAME
        text = page.locator("body").inner_text()
        assert HOSTILE_NAME in text or HOSTILE_PRODUCT in text
        assert page.locator("img[src='x'], img[src='y'], svg[onload]").count() == 0
    finally:
        page.close()
