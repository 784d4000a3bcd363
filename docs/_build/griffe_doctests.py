"""A griffe extension for the API reference: crmkit's docstrings in Markdown.

crmkit's docstrings use numpydoc section headers (``Parameters`` over dashes) with
free-form entries (``name : what it is, in words``, not ``name : type``) and put their
runnable examples (``>>>`` lines, run by pytest as doctests) anywhere in the text. A
numpydoc parser would take the words after the colon for a type, and Markdown would
render ``>>>`` lines as nested quotes. So the reference renders the docstring as
written (mkdocs.yml: ``docstring_style: null``), after this extension has turned

- each section header into a bold label, each ``name : text`` entry of a parameter
  section into a list item that keeps its continuation lines;
- each run of doctest lines (``>>>``/``...`` and the expected output up to a blank
  line) into a ``pycon`` code block.

Types and defaults come from the signatures (annotations; the compiled module's from
python/crmkit/_core.pyi). The docstrings themselves are unchanged.
"""

from __future__ import annotations

import re

import griffe

_ENTRY = re.compile(r"^([A-Za-z_*][\w*]*(?:\s*,\s*[A-Za-z_*][\w*]*)*)\s*:\s*(.*)$")
_ENTRY_SECTIONS = {"parameters", "other parameters", "attributes", "raises", "warns", "yields", "returns"}


def markdown_docstring(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and not line.startswith(" ") and re.fullmatch(r"-{3,}", nxt.strip()) and len(nxt.strip()) >= len(line.strip()) - 1:
            section = line.strip().lower()
            if out and out[-1].strip():
                out.append("")
            out.append(f"**{line.strip()}**")
            out.append("")
            i += 2
            continue
        if line.startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            if out and out[-1].strip():
                out.append("")
            out += ["```pycon", *block, "```", ""]
            continue
        m = _ENTRY.match(line) if section in _ENTRY_SECTIONS else None
        if m and not line.startswith(" "):
            names = ", ".join(f"`{n.strip()}`" for n in m.group(1).split(","))
            out.append(f"- {names}: {m.group(2)}".rstrip())
        elif section in _ENTRY_SECTIONS and line.startswith(" ") and out and out[-1].startswith(("- ", "  ")):
            out.append("  " + line.strip())
        else:
            out.append(line)
        i += 1
    return "\n".join(out)


class DoctestExamples(griffe.Extension):
    def on_object(self, *, obj, **kwargs) -> None:
        doc = obj.docstring
        if doc is not None and doc.value:
            doc.value = markdown_docstring(doc.value)
