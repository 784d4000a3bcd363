"""Helpers for the code blocks that the documentation build executes (markdown-exec).

`show(x)` prints what a notebook would display: a polars DataFrame as a Markdown
table, a matplotlib figure/axes as an inline PNG image. `speedup(case)` prints the
measured peer/crmkit ratio of a `make bench` case from docs/bench_results.json, the
file `make bench` writes, so the guides and the benchmark never disagree.
"""

from __future__ import annotations

import base64
import builtins
import io
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

BENCH_RESULTS = Path(__file__).resolve().parent.parent / "bench_results.json"


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_cell(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {_cell(v)}" for k, v in value.items()) + "}"
    else:
        text = str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "…"


def table(df: pl.DataFrame, n: int = 10) -> str:
    """A DataFrame's first `n` rows as a Markdown table, with its shape."""
    head = df.head(n)
    header = "| " + " | ".join(f"{c}<br><small>{t}</small>" for c, t in zip(head.columns, map(str, head.dtypes))) + " |"
    rule = "|" + "---|" * head.width
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in head.iter_rows()]
    more = f" (first {n} shown)" if df.height > n else ""
    return "\n".join([header, rule, *rows, "", f"*{df.height:,} rows × {df.width} columns{more}*", ""])


def image(fig: Any, alt: str = "chart") -> str:
    """A matplotlib figure (or axes) as an inline PNG <img> (no file, no request)."""
    if hasattr(fig, "get_figure") and not isinstance(fig, plt.Figure):
        fig = fig.get_figure()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="crmkit-chart" alt="{alt}" src="data:image/png;base64,{data}">\n'


def _out():
    """The `print` of the executing code block: markdown-exec captures a block's output
    through the `print` it puts in the block's globals, not through sys.stdout."""
    return sys._getframe(2).f_globals.get("print", builtins.print)


def show(obj: Any, n: int = 10, alt: str = "chart") -> None:
    """Print `obj` as the page shows it: tables as Markdown, charts as images."""
    print = _out()  # noqa: A001
    if isinstance(obj, pl.LazyFrame):
        obj = obj.collect()
    if isinstance(obj, pl.DataFrame):
        print(table(obj, n))
    elif isinstance(obj, pl.Series):
        print(table(obj.to_frame(), n))
    elif hasattr(obj, "savefig") or hasattr(obj, "get_figure"):
        print(image(obj, alt))
    else:
        print(f"```\n{obj}\n```\n")


def bench_results() -> dict:
    if not BENCH_RESULTS.exists():
        return {"results": []}
    return json.loads(BENCH_RESULTS.read_text(encoding="utf-8"))


def bench_case(case: str):
    """The recorded result of the `make bench` case whose name starts with `case`
    (None when `make bench` has not recorded it; an error when the prefix is ambiguous)."""
    found = [r for r in bench_results()["results"] if r["case"].startswith(case) and r.get("peer_s")]
    if len(found) > 1:
        raise KeyError(f"{len(found)} bench results start with {case!r} in {BENCH_RESULTS.name}")
    return found[0] if found else None


def speedup(case: str, what: str = "") -> None:
    """Print one admonition with the measured medians and ratio of a bench case."""
    print = _out()  # noqa: A001
    r = bench_case(case)
    if r is None:
        print(f'!!! note "Not measured yet: {what or case}"')
        print(f"    `docs/bench_results.json` holds no result of the `make bench` case `{case}…`; "
              "`make bench` records it.\n")
        return
    data = bench_results()
    machine = r.get("machine") or data.get("machine", "")
    date = r.get("date") or data.get("date", "")
    ratio = r["ratio"]
    verdict = f"**{ratio:.1f}× faster**" if ratio >= 1 else f"**{1 / ratio:.1f}× slower**"
    title = what or r["case"]
    print(f'!!! tip "Measured: crmkit is {verdict.strip("*")} than {r["peer"]}"')
    print(
        f"    {title}: crmkit {r['crmkit_s']:.3g} s, {r['peer']} {r['peer_s']:.3g} s "
        f"(medians, same process, alternating runs) — {verdict}.\n"
        f"    Case `{r['case']}` of `make bench` (tests/bench), {date}, {machine}.\n"
    )


# --- the API reference ------------------------------------------------------------------

#: The public modules, each with a page docs/reference/<name>.md.
PUBLIC_MODULES = [
    "datasets", "clean", "dedupe", "segment", "cluster", "profiles", "clv", "basket", "behaviour",
    "ml", "churn", "metrics", "forecast", "kpi", "kpi.calendars", "experiment", "geo", "dashboard",
    "plot", "report", "spark", "errors",
]


def public_names(module: str) -> list:
    """A module's public names: its __all__ (without submodules, which have their own
    page, and without underscore names), else what it defines without a leading underscore."""
    import importlib
    import types

    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n, v in vars(mod).items() if getattr(v, "__module__", None) == module]
    return [n for n in dict.fromkeys(names)
            if not n.startswith("_") and not isinstance(getattr(mod, n, None), types.ModuleType)]


def top_level_table() -> str:
    """crmkit's top-level names, each linked to where the reference documents it."""
    import importlib
    import types

    import crmkit

    owners = {}
    for m in PUBLIC_MODULES:
        mod = importlib.import_module(f"crmkit.{m}")
        for n in public_names(f"crmkit.{m}"):
            owners.setdefault(id(getattr(mod, n)), f"crmkit.{m}.{n}")
    rows = ["| `crmkit.` name | documented at |", "|---|---|"]
    others = []
    for n in crmkit.__all__:
        obj = getattr(crmkit, n)
        if n == "__version__":
            rows.append(f"| `crmkit.__version__` | the package version, `{obj}` at this build |")
        elif isinstance(obj, types.ModuleType):
            rows.append(f"| `crmkit.{n}` | [module `{obj.__name__}`]({obj.__name__.removeprefix('crmkit.')}.md) |")
        else:
            target = owners.get(id(obj))
            if target is None:
                # A top-level alias of a name its module does not export: documented here.
                target = f"{obj.__module__}.{obj.__qualname__}"
                others.append(f"::: {target}\n    options:\n      heading_level: 3\n")
            rows.append(f"| `crmkit.{n}` | [`{target}`][{target}] |")
    text = "\n".join(rows) + "\n"
    if others:
        text += "\n### Top-level names documented here\n\n" + "\n".join(others)
    return text
