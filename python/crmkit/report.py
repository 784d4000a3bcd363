"""A self-contained HTML report of an analysis run (`crmkit demo` / `crmkit run`): each
step's summary, its tables (first rows) and, when matplotlib is installed, its charts
embedded as images — one file to attach to an e-mail or publish from Airflow.

>>> import tempfile, pathlib
>>> import crmkit
>>> from crmkit._pipeline import Context, run_steps
>>> world = crmkit.datasets.generate(n_customers=300, seed=1)
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> ctx = Context(orders=world.orders, events=world.events)
>>> _ = run_steps(ctx, out, progress=False)
>>> path = crmkit.report.write_report(ctx, out / "report.html")
>>> "<h2>lifetime_value</h2>" in path.read_text(encoding="utf-8")
True
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from pathlib import Path
from typing import Any, Callable, Optional, Union

import polars as pl

from crmkit.errors import CrmError

__all__ = ["html_report", "write_report"]

#: Rows of each table shown in the report (the parquet files hold them all).
MAX_ROWS = 15


def _cohort_heatmap(table: pl.DataFrame) -> Any:
    from crmkit import plot

    matrix = (
        table.pivot(on="period_index", index=["cohort", "cohort_size"], values="retention")
        .sort("cohort")
    )
    matrix = matrix.rename({c: str(c) for c in matrix.columns})
    return plot.cohort_heatmap(matrix, max_periods=24, annotate=False)


def _figures() -> dict[str, Callable[[pl.DataFrame], Any]]:
    from crmkit import plot

    return {
        "behaviour_funnel": plot.funnel,
        "behaviour_cohorts": _cohort_heatmap,
        "lifetime_value_customers": lambda t: plot.value_concentration(t["clv"], label="predicted CLV"),
        "segment_rfm_summary": plot.segments,
        "segment_rfm": plot.rfm_grid,
        "churn_scores": lambda t: plot.reasons(t.filter(pl.col("risk_band").cast(pl.String).is_in(["high", "very high"]))
                                               if t.height else t, title="Why the high-risk customers are at risk"),
        "forecast_chart": _forecast_chart,
        "kpi_values": lambda t: plot.kpi_tiles(t, kpis=[k for k in ("revenue", "orders", "aov", "active_customers",
                                                                    "new_customers", "churn_rate", "repeat_rate",
                                                                    "conversion_rate") if k in set(t["kpi"])]),
        "kpi_daily": lambda t: plot.kpi(t, kpi="revenue"),
        "experiments_campaigns": plot.uplift,
        "experiments_segments": plot.uplift,
    }


def _forecast_chart(table: pl.DataFrame) -> Any:
    from crmkit.forecast._demo import chart

    return chart(table)


def _png(draw: Callable[[pl.DataFrame], Any], table: pl.DataFrame) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ax = draw(table)
    fig = ax.figure
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=96)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
.meta, .skipped, .note { color: #666; } ul.summary li { font-family: ui-monospace, monospace; }
details { margin: .5rem 0; } summary { cursor: pointer; font-weight: 600; }
img { max-width: 100%; } table.dataframe { font-size: .8rem; border-collapse: collapse; }
table.dataframe td, table.dataframe th { padding: 2px 6px; border-bottom: 1px solid #eee; }
"""


def html_report(ctx: Any, *, title: str = "crmkit report", charts: bool = True, dashboard: Optional[str] = None) -> str:
    """The report of a finished pipeline run (its `Context`) as one HTML string.

    Charts need matplotlib; without it the report says so and shows the tables. A
    chart that cannot be drawn is named in the report, never silently dropped.
    ``dashboard``: the address of the interactive dashboard, linked at the top.

    >>> import tempfile, crmkit
    >>> from crmkit._pipeline import Context, run_steps
    >>> ctx = Context(orders=crmkit.datasets.generate(n_customers=200, seed=3).orders)
    >>> _ = run_steps(ctx, crmkit.report.Path(tempfile.mkdtemp()), progress=False)
    >>> page = crmkit.report.html_report(ctx, title="Weekly customers")
    >>> page.startswith("<!DOCTYPE html>"), "Skipped: no items table given." in page
    (True, True)
    """
    log = getattr(ctx, "log", None)
    if not log:
        raise CrmError("crmkit.report: the context has no finished steps; run the pipeline first")
    figures: dict[str, Callable[[pl.DataFrame], Any]] = {}
    chart_note: Optional[str] = None
    if charts:
        try:
            import matplotlib  # noqa: F401

            figures = _figures()
        except ImportError:
            chart_note = "Charts are left out: matplotlib is not installed (pip install 'crmkit[plot]')."
    from crmkit import __version__

    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">crmkit {html.escape(__version__)} · {now} · input: '
        + ", ".join(
            f"{name} {getattr(ctx, name).height:,} rows"
            for name in ("orders", "customers", "items", "events")
            if getattr(ctx, name, None) is not None
        )
        + "</p>",
    ]
    if dashboard:
        parts.append(f'<p class="note">Interactive version: <a href="{html.escape(dashboard, quote=True)}">'
                     f"{html.escape(dashboard)}</a></p>")
    if chart_note:
        parts.append(f'<p class="note">{html.escape(chart_note)}</p>')
    if getattr(ctx, "accounting", None):
        from crmkit._pipeline import accounting_table

        rows = accounting_table(ctx)
        lost = rows.filter(pl.col("what").str.starts_with("dropped"))["rows"].sum()
        parts.append("<h2>rows</h2>")
        parts.append(f'<p class="meta">{"no input row dropped" if not lost else f"{lost:,} input rows dropped"}'
                     " (row_accounting: rows read, dropped, left out and used per table and step)</p>")
        parts.append(f"<details{' open' if lost else ''}><summary>row_accounting — {rows.height:,} rows</summary>"
                     f"{rows._repr_html_()}</details>")
    for entry in log:
        parts.append(f"<h2>{html.escape(entry.name)}</h2>")
        if entry.skipped:
            parts.append(f'<p class="skipped">Skipped: {html.escape(entry.skipped)}.</p>')
            continue
        parts.append(f'<p class="meta">{entry.seconds:.2f} s</p>')
        if entry.summary:
            parts.append('<ul class="summary">' + "".join(f"<li>{html.escape(line)}</li>" for line in entry.summary)
                         + "</ul>")
        for key in entry.tables:
            table = ctx.results[key]
            draw = figures.get(key)
            if draw is not None:
                try:
                    png = _png(draw, table)
                    parts.append(f'<img alt="{html.escape(key)}" src="data:image/png;base64,{png}">')
                except Exception as exc:  # a chart must not cost the report
                    parts.append(f'<p class="note">Chart for {html.escape(key)} not drawn: '
                                 f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</p>")
            shown = min(table.height, MAX_ROWS)
            parts.append(
                f"<details><summary>{html.escape(key)} — {table.height:,} rows × {table.width} columns"
                f"{' (first ' + str(shown) + ')' if shown < table.height else ''}</summary>"
                f"{table.head(MAX_ROWS)._repr_html_()}</details>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(ctx: Any, path: Union[str, Path], *, title: str = "crmkit report", charts: bool = True) -> Path:
    """Writes `html_report` to ``path`` (UTF-8), creating its folder, and returns the path.

    >>> import tempfile, pathlib, crmkit
    >>> from crmkit._pipeline import Context, run_steps
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> ctx = Context(orders=crmkit.datasets.generate(n_customers=200, seed=3).orders)
    >>> _ = run_steps(ctx, out, progress=False)
    >>> crmkit.report.write_report(ctx, out / "reports" / "weekly.html").name
    'weekly.html'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The interactive dashboard written beside the report (crmkit demo/run) is linked.
    board = "dashboard.html" if (path.parent / "dashboard.html").exists() else None
    path.write_text(html_report(ctx, title=title, charts=charts, dashboard=board), encoding="utf-8")
    return path
