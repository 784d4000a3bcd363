"""The type stubs of the compiled module match it: every function the extension
exports has a stub with the same parameters in the same order (names, and which have
defaults), and no stub names a function the extension lacks."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import crmkit
from crmkit import _core

STUB = Path(crmkit.__file__).parent / "_core.pyi"


def _stub_functions() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _stub_params(fn: ast.FunctionDef) -> list[tuple[str, bool]]:
    a = fn.args
    positional = a.posonlyargs + a.args
    defaults = [False] * (len(positional) - len(a.defaults)) + [True] * len(a.defaults)
    out = [(p.arg, d) for p, d in zip(positional, defaults)]
    out += [(p.arg, d is not None) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    return out


def _compiled_functions() -> dict[str, object]:
    return {name: obj for name, obj in vars(_core).items()
            if callable(obj) and not isinstance(obj, type) and not name.startswith("__")}


def test_every_compiled_function_has_a_stub_and_back():
    stubs, compiled = _stub_functions(), _compiled_functions()
    assert sorted(set(compiled) - set(stubs)) == [], "compiled functions without a stub in _core.pyi"
    assert sorted(set(stubs) - set(compiled)) == [], "stubs for functions the extension does not export"


def test_stub_parameters_match_the_compiled_signatures():
    stubs = _stub_functions()
    wrong = {}
    for name, obj in _compiled_functions().items():
        sig = inspect.signature(obj)
        got = [(p.name, p.default is not inspect.Parameter.empty) for p in sig.parameters.values()]
        want = _stub_params(stubs[name])
        if got != want:
            wrong[name] = {"compiled": got, "stub": want}
    assert wrong == {}


def test_stub_classes_match_the_compiled_classes():
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    compiled = {name: obj for name, obj in vars(_core).items() if isinstance(obj, type)}
    assert sorted(set(compiled) - set(classes)) == [], "compiled classes without a stub"
    wrong = {}
    for name, node in classes.items():
        assert name in compiled, f"stub class {name} is not in the extension"
        cls = compiled[name]
        methods = {m.name: m for m in node.body if isinstance(m, ast.FunctionDef) and not m.name.startswith("__")}
        real = {m for m in dir(cls) if not m.startswith("_") and callable(getattr(cls, m))}
        if issubclass(cls, BaseException):
            continue
        if set(methods) != real:
            wrong[name] = {"missing stubs": sorted(real - set(methods)), "stubs only": sorted(set(methods) - real)}
            continue
        for m, fn in methods.items():
            try:
                sig = inspect.signature(getattr(cls, m))
            except (TypeError, ValueError):
                continue  # no text signature (a property or a builtin without one)
            got = [(p.name, p.default is not inspect.Parameter.empty) for p in sig.parameters.values()]
            want = [p for p in _stub_params(fn) if p[0] not in ("self", "cls")]
            got = [p for p in got if p[0] not in ("self", "cls", "$self", "$cls")]
            if got != want:
                wrong[f"{name}.{m}"] = {"compiled": got, "stub": want}
    assert wrong == {}
