"""mkdocs hooks for crmkit's documentation site (configured in mkdocs.yml).

- Guide pages import `crmkit_docs` (beside this file) in their executed code blocks.
- Notebook kernels start with the IPython profile beside this file: Altair charts
  render as PNG images (the default renderer would load Vega from a CDN).
- The site must work offline: script tags that load from another host (nbconvert's
  MathJax and Mermaid loaders in the notebook pages) are removed, and any other
  resource from another host (a <script>, <img>, <link>, <iframe> with an http(s)
  address) is a warning, which fails the strict build.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

HERE = Path(__file__).resolve().parent
log = logging.getLogger("mkdocs.hooks.crmkit")

_REMOTE_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']https?://[^\"']*[\"'][^>]*>\s*</script>", re.I)
# Elements whose src/href is fetched by the browser (plain <a href> links are not).
_REMOTE_RESOURCE = re.compile(
    r"<(script|img|link|iframe|source|video|audio|embed|object)\b[^>]*\b(?:src|href|data)=[\"'](?:https?:)?//[^\"']*", re.I
)


ROOT = HERE.parent.parent


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns .ipynb files into pages
def on_files(files, config, **kwargs):
    """The repository's notebooks/ (run by `make test` too) become pages under notebooks/."""
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        files.append(File(f"notebooks/{nb.name}", str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def on_config(config, **kwargs):
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    # Inherited by the notebook kernels that mkdocs-jupyter starts: a fresh IPython
    # directory (kernels write their history there) with the startup file beside this one.
    ipython = Path(tempfile.mkdtemp(prefix="crmkit-docs-ipython-"))
    shutil.copytree(HERE / "ipython", ipython, dirs_exist_ok=True)
    os.environ["IPYTHONDIR"] = str(ipython)
    return config


def on_post_build(config, **kwargs):
    ipython = os.environ.get("IPYTHONDIR", "")
    if Path(ipython).name.startswith("crmkit-docs-ipython-"):
        shutil.rmtree(ipython, ignore_errors=True)


def on_post_page(output, page, config, **kwargs):
    output = _REMOTE_SCRIPT.sub("", output)
    for match in _REMOTE_RESOURCE.finditer(output):
        log.warning("%s loads a resource from another host: %s", page.file.src_uri, match.group(0)[:160])
    return output


# --- API reference: every public name, from the modules' own __all__ at build time ----

_API_MARKER = re.compile(r"<!-- crmkit-api (crmkit[\w.]*) -->")
_API_TOP = "<!-- crmkit-api-top -->"


def on_page_markdown(markdown, page, config, files, **kwargs):
    if "<!-- crmkit-api" not in markdown:
        return markdown
    import crmkit_docs

    markdown = _API_MARKER.sub(lambda m: _directive(m.group(1), crmkit_docs.public_names(m.group(1))), markdown)
    if _API_TOP in markdown:
        markdown = markdown.replace(_API_TOP, crmkit_docs.top_level_table())
    return markdown


def _directive(module: str, names: list) -> str:
    members = ", ".join(f'"{n}"' for n in names)
    return (
        f"::: {module}\n"
        "    options:\n"
        "      heading_level: 1\n"
        f"      members: [{members}]\n"
    )
