"""The page's pieces: escaping, number formats, sortable tables, chart specs, the
inlined Vega bundle, the style sheet and the one script."""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import polars as pl

from crmkit.errors import CrmError

#: CJK-capable fonts first, so Chinese labels render wherever one is installed.
FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", system-ui, sans-serif'


@dataclass(frozen=True)
class Html:
    """An HTML fragment built with escaped data (never raw data)."""

    markup: str


def _alt() -> Any:
    try:
        import altair as alt
    except ImportError:
        raise CrmError(
            "crmkit.dashboard needs Altair and vl-convert: pip install 'crmkit[dashboard]'"
        ) from None
    return alt


def _values(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows for a Vega dataset: dates as ISO strings, non-finite floats as null."""
    conv: list[pl.Expr] = []
    for c, t in df.schema.items():
        if t == pl.Date or isinstance(t, pl.Datetime):
            conv.append(pl.col(c).cast(pl.String))
        elif isinstance(t, pl.Duration):
            conv.append((pl.col(c).dt.total_microseconds() / 86_400_000_000).alias(c))  # days
        elif t in (pl.Float32, pl.Float64):
            conv.append(pl.when(pl.col(c).is_finite()).then(pl.col(c)).otherwise(None).alias(c))
        elif isinstance(t, (pl.Categorical, pl.Enum)):
            conv.append(pl.col(c).cast(pl.String))
        elif isinstance(t, pl.Decimal):
            conv.append(pl.col(c).cast(pl.Float64))
        elif isinstance(t, (pl.List, pl.Array)):
            conv.append(pl.col(c).cast(pl.List(pl.String)).list.join(" + "))
        elif not (t.is_numeric() or t in (pl.String, pl.Boolean, pl.Null)):
            conv.append(pl.col(c).cast(pl.String))
    return df.with_columns(conv).to_dicts() if conv else df.to_dicts()


def _fmt(v: Optional[float], kind: str = "number") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if kind == "pct":
        return f"{v:+.1%}"
    if abs(v) >= 1e8:
        return f"{v / 1e6:,.1f}M"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def _esc(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _table(df: pl.DataFrame, headers: Sequence[str], *, sortable: bool = True, numeric: Sequence[str] = ()) -> Html:
    cls = "data sortable" if sortable else "data"
    head = "".join(f'<th data-col="{i}">{_esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in df.iter_rows():
        cells = []
        for c, v in zip(df.columns, row):
            if isinstance(v, float):
                text = f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"
                cells.append(f'<td class="num" data-v="{v!r}">{_esc(text)}</td>')
            elif isinstance(v, list):
                cells.append(f"<td>{_esc(' + '.join(map(str, v)))}</td>")
            else:
                cells.append(f'<td{" class=num" if c in numeric else ""}>{_esc(v)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return Html(f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


_STYLE = """
:root { --ink: #1f2a37; --muted: #6b7280; --line: #e5e7eb; --card: #fff; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font-family: FONT; }
header { padding: 18px 28px; background: #1f3a5f; color: #fff; }
header h1 { margin: 0; font-size: 22px; } header p { margin: 4px 0 0; color: #c9d6e8; font-size: 13px; }
nav { padding: 8px 28px; background: #fff; border-bottom: 1px solid var(--line); font-size: 13px; }
nav a { margin-right: 14px; color: #1f3a5f; text-decoration: none; }
main { padding: 16px 28px; max-width: 1280px; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px; margin: 0 0 16px; }
section.card h2 { margin: 0 0 8px; font-size: 17px; } h3 { font-size: 14px; margin: 14px 0 6px; }
.hint { color: var(--muted); font-size: 12px; margin: 0 0 6px; }
.callout { background: #fdecea; border-left: 4px solid #d9534f; padding: 6px 10px; font-size: 13px; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; }
.tile { flex: 1 1 220px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.tlabel { color: var(--muted); font-size: 13px; } .tvalue { font-size: 26px; font-weight: 650; margin: 2px 0; }
.chg { font-size: 12px; } .chg span { color: var(--muted); } .up { color: #2e7d32; } .down { color: #c62828; } .flat { color: var(--muted); }
.badge { margin-left: 6px; padding: 1px 6px; border-radius: 8px; background: #fff3cd; color: #8a6d00; font-size: 11px; }
.badge.critical { background: #fdecea; color: #c62828; font-weight: 600; } .callout.ok { background: #e8f5e9; border-left-color: #2e7d32; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
table.data { border-collapse: collapse; font-size: 12px; width: 100%; }
table.data th { text-align: left; border-bottom: 2px solid var(--line); padding: 4px 6px; cursor: pointer; white-space: nowrap; }
table.data td { border-bottom: 1px solid var(--line); padding: 3px 6px; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.failed { color: #c62828; font-size: 13px; } footer { color: var(--muted); font-size: 12px; padding: 0 28px 24px; }
.vega-embed summary { display: none; }
""".replace("FONT", FONT)

# Sorts tables on a header click; renders every chart. No network, no eval of data.
_SCRIPT = """
(function () {
  function cellValue(td) { var v = td.getAttribute('data-v'); return v === null ? td.textContent : parseFloat(v); }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('th').forEach(function (th, i) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var dir = th.getAttribute('data-dir') === 'desc' ? 1 : -1; th.setAttribute('data-dir', dir === 1 ? 'asc' : 'desc');
        rows.sort(function (a, b) { var x = cellValue(a.cells[i]), y = cellValue(b.cells[i]);
          return (x > y ? 1 : x < y ? -1 : 0) * dir; });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var opts = { actions: false, renderer: 'svg', tooltip: { theme: 'light' } };
  document.querySelectorAll('script[type="application/json"][data-chart]').forEach(function (node) {
    var target = document.getElementById(node.getAttribute('data-chart'));
    vegaEmbed(target, JSON.parse(node.textContent), opts).catch(function (err) {
      target.textContent = 'chart failed: ' + err; console.error(err);
    });
  });
})();
"""


def _json_for_script(obj: Any) -> str:
    """JSON that cannot close its <script> element or start markup."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


class RawChart:
    """A Vega-Lite specification written as a dict (for charts whose Altair construction
    costs a second or more of schema work); the page treats it like an Altair chart."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def to_dict(self, validate: bool = False) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(self.spec))
        return copy


def _chart_spec(chart: Any) -> dict[str, Any]:
    # The specs are fixed by crmkit and covered by its tests; schema validation of every
    # chart costs seconds.
    spec: dict[str, Any] = chart.to_dict(validate=False)
    spec.pop("$schema", None)
    config = spec.setdefault("config", {})
    config.setdefault("font", FONT)
    config.setdefault("view", {}).setdefault("stroke", None)
    config.setdefault("axis", {}).update({"labelFont": FONT, "titleFont": FONT})
    config.setdefault("legend", {}).update({"labelFont": FONT, "titleFont": FONT})
    config.setdefault("title", {}).update({"font": FONT})
    return spec


#: The inlined Vega bundle per (Vega-Lite version, vl-convert version), once per process.
_BUNDLES: dict[tuple[str, str], str] = {}


def _cache_dir() -> Optional[Path]:
    """Where the Vega bundle is kept between runs: ``$CRMKIT_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/crmkit`` or ``~/.cache/crmkit``; ``CRMKIT_CACHE_DIR=""`` turns it off."""
    env = os.environ.get("CRMKIT_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "crmkit"


def _bundle() -> tuple[str, str]:
    """Vega, Vega-Lite and vega-embed as one script from vl-convert-python, and the
    Vega-Lite version. vl-convert builds it in about 4-7 s on these machines, so it is
    kept in memory and in the user's cache directory (keyed by both versions; written
    atomically, rebuilt when unreadable)."""
    try:
        import vl_convert as vlc
    except ImportError:
        raise CrmError("crmkit.dashboard needs vl-convert-python: pip install 'crmkit[dashboard]'") from None
    alt = _alt()
    version = alt.SCHEMA_VERSION.lstrip("v")
    vl = ".".join(version.split(".")[:2])
    key = (vl, str(getattr(vlc, "__version__", "unknown")))
    if key in _BUNDLES:
        return _BUNDLES[key], vl
    folder = _cache_dir()
    path = None if folder is None else folder / f"vega-bundle-vl{key[0]}-vlc{key[1]}.js"
    text = None
    if path is not None:
        try:
            cached = path.read_text(encoding="utf-8")
            # A complete bundle ends with vega-embed's export; anything else is rebuilt.
            text = cached if len(cached) > 100_000 and "vegaEmbed" in cached[-20_000:] else None
        except OSError:
            text = None
    if text is None:
        # vl-convert's stub marks `snippet` required; at run time it defaults to the global-window snippet.
        text = vlc.javascript_bundle(vl_version=vl)  # type: ignore[call-arg]
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, path)
            except OSError:  # a read-only home: build it each time
                pass
    _BUNDLES[key] = text
    return text, vl
