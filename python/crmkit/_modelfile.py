"""Checks of saved model documents (JSON) before a model is rebuilt from them.

A model file is data from outside: every value a loader uses is checked for its kind
and range here, so that a damaged or hostile document is refused with a CrmError that
says which field is wrong, instead of failing later (or worse, predicting nonsense).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal, Optional, Sequence, Union, overload

if TYPE_CHECKING:
    from typing import TypeGuard  # Python 3.10+; only read by type checkers

from crmkit.errors import CrmError

#: No saved crmkit model has lists longer than this (trees are checked by the Rust reader).
MAX_ITEMS = 10_000_000


class ModelDoc:
    """Typed access to a JSON document: ``doc.number("blend", lo=0, hi=1)`` returns the
    value or raises ``CrmError("<fn>: <source>: field 'blend' must be ...")``."""

    def __init__(self, doc: Any, fn: str, source: str) -> None:
        if not isinstance(doc, dict):
            raise CrmError(f"{fn}: {source} is not a model document (a JSON object was expected)")
        self.doc, self.fn, self.source = doc, fn, source

    def fail(self, key: str, expected: str) -> CrmError:
        value = repr(self.doc.get(key))
        value = value if len(value) <= 60 else value[:57] + "..."
        return CrmError(f"{self.fn}: {self.source}: field '{key}' must be {expected}, found {value}")

    def has(self, key: str) -> bool:
        return self.doc.get(key) is not None

    def get(self, key: str, kind: type, expected: str, optional: bool = False) -> Any:
        value = self.doc.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise self.fail(key, expected)
        return value

    # A required field is never None (integer=True gives an int at run time).
    @overload
    def number(self, key: str, *, lo: float = ..., hi: float = ..., optional: Literal[False] = ...,
               integer: bool = ...) -> float: ...

    @overload
    def number(self, key: str, *, lo: float = ..., hi: float = ..., optional: bool = ...,
               integer: bool = ...) -> Optional[float]: ...

    def number(self, key: str, *, lo: float = -math.inf, hi: float = math.inf, optional: bool = False,
               integer: bool = False) -> Optional[float]:
        value = self.doc.get(key)
        if value is None and optional:
            return None
        what = f"{'a whole' if integer else 'a finite'} number in [{lo}, {hi}]"
        if not is_number(value) or not lo <= value <= hi or (integer and float(value) != int(value)):
            raise self.fail(key, what)
        return int(value) if integer else float(value)

    @overload
    def numbers(self, key: str, *, length: Optional[int] = ..., optional: Literal[False] = ..., lo: float = ...,
                hi: float = ...) -> list[float]: ...

    @overload
    def numbers(self, key: str, *, length: Optional[int] = ..., optional: bool = ..., lo: float = ...,
                hi: float = ...) -> Optional[list[float]]: ...

    def numbers(self, key: str, *, length: Optional[int] = None, optional: bool = False, lo: float = -math.inf,
                hi: float = math.inf) -> Optional[list[float]]:
        value = self.doc.get(key)
        if value is None and optional:
            return None
        expected = f"a list of {length if length is not None else ''} finite numbers in [{lo}, {hi}]".replace("  ", " ")
        if not isinstance(value, list) or len(value) > MAX_ITEMS or (length is not None and len(value) != length):
            raise self.fail(key, expected)
        if not all(is_number(v) and lo <= v <= hi for v in value):
            raise self.fail(key, expected)
        return [float(v) for v in value]

    @overload
    def strings(self, key: str, *, optional: Literal[False] = ..., non_empty: bool = ...) -> list[str]: ...

    @overload
    def strings(self, key: str, *, optional: bool = ..., non_empty: bool = ...) -> Optional[list[str]]: ...

    def strings(self, key: str, *, optional: bool = False, non_empty: bool = False) -> Optional[list[str]]:
        value = self.doc.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, list) or len(value) > MAX_ITEMS or not all(isinstance(v, str) for v in value) \
                or (non_empty and not value):
            raise self.fail(key, "a list of strings")
        return list(value)

    @overload
    def sub(self, key: str, optional: Literal[False] = ...) -> "ModelDoc": ...

    @overload
    def sub(self, key: str, optional: bool = ...) -> Optional["ModelDoc"]: ...

    def sub(self, key: str, optional: bool = False) -> Optional["ModelDoc"]:
        value = self.doc.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, dict):
            raise self.fail(key, "a JSON object")
        return ModelDoc(value, self.fn, f"{self.source} [{key}]")


def read_json(text: Any, fn: str, model: str) -> dict[str, Any]:
    """The JSON object of a model of kind ``model`` (its "model" field), or a CrmError."""
    import json

    try:
        data = json.loads(text)
    except (TypeError, ValueError) as e:
        raise CrmError(f"{fn}: the text is not JSON ({e})") from None
    if not isinstance(data, dict) or data.get("model") != model:
        raise CrmError(f"{fn}: the JSON is not a {model} model")
    return data


def is_number(value: Any) -> TypeGuard[Union[int, float]]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def matrix(value: Any, rows: Optional[int], cols: Optional[int], what: str, fn: str) -> list[list[float]]:
    """A rectangular list of lists of finite numbers."""
    ok = isinstance(value, list) and 0 < len(value) <= MAX_ITEMS and all(isinstance(r, list) for r in value)
    if ok:
        width = len(value[0])
        ok = width > 0 and all(len(r) == width for r in value) and all(is_number(v) for r in value for v in r)
        ok = ok and (rows is None or len(value) == rows) and (cols is None or width == cols)
    if not ok:
        raise CrmError(f"{fn}: {what} must be a rectangular list of lists of finite numbers")
    checked: list[list[float]] = value
    return checked


def check_keys(params: Any, allowed: Sequence[str], fn: str, source: str) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise CrmError(f"{fn}: {source}: 'params' must be a JSON object")
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise CrmError(f"{fn}: {source}: unknown parameter(s) {unknown}")
    return params
