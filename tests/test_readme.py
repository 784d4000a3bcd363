"""The README's ten-line example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_ten_line_example_runs():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Ten lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md: Ten lines", "exec"), scope)
    assert scope["people"]["entity_id"].n_unique() < scope["world"].customers.height
    assert {"p_alive", "clv"} <= set(scope["value"].columns)
    assert scope["steps"]["step"].to_list() == ["view", "cart", "checkout", "purchase"]
    assert scope["rules"].height > 0
