"""The HTML report: every step, its tables and charts, and what could not be drawn."""

from __future__ import annotations

import html
import re
import sys

import polars as pl
import pytest

import crmkit
from crmkit import report
from crmkit._pipeline import Context, run_steps
from crmkit.cli import main
from crmkit.errors import CrmError


@pytest.fixture(scope="module")
def world():
    return crmkit.datasets.generate(n_customers=400, seed=2)


def _run(world, tmp_path, **tables):
    ctx = Context(orders=world.orders, **tables)
    run_steps(ctx, tmp_path, progress=False)
    return ctx


def test_every_step_with_its_tables_and_charts(world, tmp_path):
    ctx = _run(world, tmp_path, customers=world.customers, items=world.items, events=world.events)
    page = report.html_report(ctx, title="Shop <A>")
    assert "<title>Shop &lt;A&gt;</title>" in page
    for entry in ctx.log:
        assert f"<h2>{entry.name}</h2>" in page
        for line in entry.summary:
            assert f"<li>{html.escape(line)}</li>" in page
    for key, table in ctx.results.items():
        assert f"{key} — {table.height:,} rows × {table.width} columns" in page
    charted = [k for k in ctx.results if k in report._figures()]
    assert charted, "the demo steps should produce chartable tables"
    assert len(re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)) == len(charted)
    assert "not drawn" not in page


def test_skipped_steps_are_listed(world, tmp_path):
    ctx = _run(world, tmp_path)
    page = report.html_report(ctx)
    assert "Skipped: no items table given." in page


def test_without_matplotlib_the_report_says_so(world, tmp_path, monkeypatch):
    ctx = _run(world, tmp_path, events=world.events)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = report.html_report(ctx)
    assert "<img" not in page and "matplotlib is not installed" in page
    assert "behaviour_funnel" in page


def test_a_chart_that_fails_is_named(world, tmp_path, monkeypatch):
    ctx = _run(world, tmp_path, events=world.events)

    def broken(table):
        raise CrmError("no way")

    monkeypatch.setattr(report, "_figures", lambda: {"behaviour_funnel": broken})
    page = report.html_report(ctx)
    assert "Chart for behaviour_funnel not drawn: CrmError: no way" in page


def test_no_finished_steps_is_an_error():
    with pytest.raises(CrmError, match="no finished steps"):
        report.html_report(Context(orders=pl.DataFrame()))


def test_cli_writes_the_report_unless_told_not_to(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "a"), "--customers", "300", "--quiet"]) == 0
    assert (tmp_path / "a" / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "report:" in capsys.readouterr().out
    assert main(["demo", "--out", str(tmp_path / "b"), "--customers", "300", "--quiet", "--no-report"]) == 0
    assert not (tmp_path / "b" / "report.html").exists()
