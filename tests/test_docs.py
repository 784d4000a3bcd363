"""The documentation site: built (strict), complete, offline.

`make test-docs` builds the site with `mkdocs build --strict` (a warning, a broken link,
a missing reference, a failing notebook or guide block fails the build) and runs this
file with CRMKIT_DOCS_SITE pointing at it. Run alone, this file builds the site itself
into a temporary directory (a few minutes: every notebook and guide executes).

Checked here: the pages exist; every public name of every public crmkit module (found
by walking the package, not from the docs' own list) has its entry in the API
reference; no page loads anything from another host; every relative link and image
resolves; the migration guides quote the recorded benchmark; and, in headless Chromium
with every non-file request blocked, pages render with every image loaded.
"""

from __future__ import annotations

import base64
import html
import importlib
import importlib.util
import json
import os
import pkgutil
import re
import subprocess
import sys
import types
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip("mkdocs", reason="the docs requirements are not installed (make docs installs them)")

import crmkit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CRMKIT_CHROMIUM", "/usr/lib/chromium/chromium")
BENCH = ROOT / "docs" / "bench_results.json"

GUIDES = ["collect-clean", "identity", "segments", "behaviour", "clv", "churn", "forecasting", "kpis",
          "experiments", "dashboard", "airflow", "spark"]
MIGRATIONS = ["lifetimes", "mlxtend", "record-linkage", "sklearn-hgb", "statsforecast", "ab-tests", "pandas"]
HOW = ["identity", "btyd", "gbdt", "forecasting", "alerts", "fpgrowth"]
#: Guide pages whose charts must be on the page as images.
CHART_PAGES = ["guide/segments", "guide/behaviour", "guide/clv", "guide/churn", "guide/forecasting",
               "guide/kpis", "guide/experiments", "guide/dashboard"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    given = os.environ.get("CRMKIT_DOCS_SITE")
    if given:
        path = Path(given)
        assert (path / "index.html").exists(), f"CRMKIT_DOCS_SITE={given} holds no built site"
        return path
    path = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-5000:]
    return path


def _pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def public_modules() -> list[str]:
    """Every importable public module of crmkit (no leading underscore anywhere), except
    the command line, which the reference shows through its --help."""
    found = []
    for info in pkgutil.walk_packages(crmkit.__path__, "crmkit."):
        parts = info.name.split(".")[1:]
        if any(p.startswith("_") for p in parts) or parts[0] == "cli":
            continue
        found.append(info.name)
    return sorted(found)


def public_names(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if getattr(v, "__module__", None) == module.__name__]
    return [n for n in dict.fromkeys(names) if not n.startswith("_")]


def test_pages_exist(site):
    expected = (["index", "guide/index", "migrate/index", "how/index", "reference/index", "notebooks/index", "changelog"]
                + [f"guide/{g}" for g in GUIDES] + [f"migrate/{m}" for m in MIGRATIONS] + [f"how/{h}" for h in HOW]
                + [f"notebooks/{p.stem}" for p in (ROOT / "notebooks").glob("*.ipynb")])
    missing = [p for p in expected if not (site / f"{p}.html").exists()]
    assert not missing


def test_every_public_name_is_in_the_reference(site):
    modules = public_modules()
    assert {"crmkit.clean", "crmkit.clv", "crmkit.kpi.calendars", "crmkit.spark"} <= set(modules)
    missing = []
    for name in modules:
        page = site / "reference" / f"{name.removeprefix('crmkit.')}.html"
        if not page.exists():
            missing.append(f"{name}: no reference page")
            continue
        text = page.read_text(encoding="utf-8")
        mod = importlib.import_module(name)
        for n in public_names(mod):
            if isinstance(getattr(mod, n, None), types.ModuleType):
                sub = getattr(mod, n).__name__
                if not (site / "reference" / f"{sub.removeprefix('crmkit.')}.html").exists():
                    missing.append(f"{sub}: no reference page")
            elif f'id="{name}.{n}"' not in text:
                missing.append(f"{name}.{n}")
    top = (site / "reference" / "index.html").read_text(encoding="utf-8")
    missing += [f"crmkit.{n} (top level)" for n in crmkit.__all__ if f"crmkit.{n}" not in top]
    assert not missing, f"{len(missing)} public names lack a reference entry: {missing[:20]}"


def test_reference_shows_types_defaults_and_examples(site):
    page = (site / "reference" / "basket.html").read_text(encoding="utf-8")
    entry = page.split('id="crmkit.basket.frequent_itemsets"', 1)[1].split('id="crmkit.basket.association_rules"', 1)[0]
    text = html.unescape(re.sub(r"<[^>]+>", "", entry))
    assert "min_support: float = 0.01" in text.replace("\u200b", "")
    assert "TooLargeError" in text and ">>> " in text


_REMOTE = re.compile(r"<(script|img|link|iframe|source|video|audio|embed|object)\b[^>]*?\b(src|href|data)=[\"']"
                     r"((?:https?:)?//[^\"']*)", re.I)


def test_no_page_loads_from_another_host(site):
    offenders = []
    for page in _pages(site):
        for m in _REMOTE.finditer(page.read_text(encoding="utf-8")):
            offenders.append(f"{page.relative_to(site)}: <{m.group(1)} {m.group(2)}={m.group(3)}>")
    assert not offenders, offenders[:10]
    css = [p for p in site.rglob("*.css") if re.search(r"@import\s+url\(['\"]?https?:|fonts\.googleapis", p.read_text(encoding="utf-8", errors="ignore"))]
    assert not css


_LINK = re.compile(r"<(?:a|link)\b[^>]*?\bhref=\"([^\"]+)\"|<(?:img|script)\b[^>]*?\bsrc=\"([^\"]+)\"", re.I)


def test_relative_links_and_images_resolve(site):
    broken = []
    # 404.html is for web servers: its links are absolute from the site root by design.
    for page in (p for p in _pages(site) if p.name != "404.html"):
        for m in _LINK.finditer(page.read_text(encoding="utf-8")):
            url = html.unescape(m.group(1) or m.group(2))
            parts = urlsplit(url)
            if parts.scheme or url.startswith(("#", "//")) or not parts.path:
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)} -> {url}")
    assert not broken, broken[:10]


def test_charts_are_images_on_the_guide_pages(site):
    for name in CHART_PAGES:
        text = (site / f"{name}.html").read_text(encoding="utf-8")
        images = re.findall(r'<img class="crmkit-chart" alt="[^"]*" src="data:image/png;base64,([^"]+)"', text)
        assert images, f"{name}: no chart"
        for data in images:
            assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_executed_output_is_on_the_pages(site):
    text = (site / "guide" / "identity.html").read_text(encoding="utf-8")
    assert re.search(r"precision 0\.\d+, recall 0\.\d+", text)
    nb = (site / "notebooks" / "04_lifetime_value.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in nb  # the notebook's charts, drawn at build time
    assert "Traceback" not in nb


def test_migration_guides_quote_the_recorded_benchmark(site):
    results = json.loads(BENCH.read_text(encoding="utf-8"))["results"]
    for name in MIGRATIONS:
        text = html.unescape(re.sub(r"<[^>]+>", "", (site / "migrate" / f"{name}.html").read_text(encoding="utf-8")))
        quoted = re.findall(r"Case (.+?) of make bench", text)
        assert quoted, f"{name}: no measured speed-up"
        for case in quoted:
            r = next(r for r in results if r["case"] == case)
            assert f"{r['ratio']:.1f}× faster" in text or f"{1 / r['ratio']:.1f}× slower" in text


def test_pages_render_offline_in_chromium(site):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium as root; see README)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
    pages = ["index", "guide/segments", "guide/clv", "guide/dashboard", "migrate/lifetimes",
             "notebooks/04_lifetime_value", "reference/clv", "how/btyd"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True)
        try:
            for name in pages:
                page = browser.new_page()
                outside: list[str] = []
                failed: list[str] = []
                errors: list[str] = []
                page.on("requestfailed", lambda r: failed.append(r.url))
                page.on("pageerror", lambda e: errors.append(str(e)))

                def route(r):
                    if r.request.url.startswith(("file://", "data:")):
                        r.continue_()
                    else:
                        outside.append(r.request.url)
                        r.abort()

                page.route("**/*", route)
                page.goto((site / f"{name}.html").as_uri(), wait_until="load")
                images = page.evaluate(
                    "() => Array.from(document.images).map(i => [i.currentSrc.slice(0, 60), i.complete && i.naturalWidth > 0])")
                assert all(ok for _, ok in images), (name, [s for s, ok in images if not ok])
                assert not outside, (name, outside)
                assert not failed, (name, failed)
                assert not errors, (name, errors)
                assert page.title()
                page.close()
        finally:
            browser.close()


def test_bench_record_merges_cases_with_machine_and_date(tmp_path):
    sys.path.insert(0, str(ROOT / "tests" / "bench"))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", ROOT / "tests" / "bench" / "run.py")
        run = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(run)
        from _harness import Case, Result
    finally:
        sys.path.pop(0)
    path = tmp_path / "bench.json"
    first = [Result(Case("a", crmkit=None, peer_name="p"), [1.0, 3.0, 2.0], [8.0, 4.0, 6.0]),
             Result(Case("b", crmkit=None), [1.0], [])]
    run.record(path, first)
    run.record(path, [Result(Case("a", crmkit=None, peer_name="p"), [2.0], [10.0])])
    data = json.loads(path.read_text())
    by = {r["case"]: r for r in data["results"]}
    assert set(by) == {"a", "b"}
    assert by["a"]["crmkit_s"] == 2.0 and by["a"]["peer_s"] == 10.0 and by["a"]["ratio"] == 5.0
    assert by["b"]["ratio"] is None and by["b"]["peer_s"] is None
    assert by["a"]["machine"] and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", by["a"]["date"])


def test_recorded_benchmarks_name_each_guide_case_once():
    """Each speed-up a guide asks for names at most one recorded case, and every guide
    has at least one recorded (a case `make bench` has not run yet shows as a note)."""
    results = [r for r in json.loads(BENCH.read_text(encoding="utf-8"))["results"] if r.get("peer_s")]
    assert all(r["machine"] and r["date"] for r in results)
    for m in MIGRATIONS:
        cases = re.findall(r'speedup\("([^"]+)"', (ROOT / "docs" / "migrate" / f"{m}.md").read_text(encoding="utf-8"))
        counts = [sum(r["case"].startswith(c) for r in results) for c in cases]
        assert all(n <= 1 for n in counts), (m, cases, counts)
        assert any(n == 1 for n in counts), f"{m}: no recorded speed-up"
