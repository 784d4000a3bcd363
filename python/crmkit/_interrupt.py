"""Ctrl-C during long polars phases.

Python runs signal handlers only on its main thread, between bytecodes: a main thread
blocked in a polars ``collect()``, join or group-by (which run in Rust with the GIL
released) sees a Ctrl-C only when that call returns, which for a million-row phase can
be a minute. crmkit's own Rust kernels poll for signals themselves (``run_detached`` in
the extension); this module does the same for the polars phases of long crmkit calls.

``run(fn, *args)`` runs ``fn`` on a worker thread while the main thread waits on it in
short slices, so KeyboardInterrupt is raised within a fraction of a second. polars work
cannot be cancelled from here: the abandoned phase finishes in the background (polars
stops some queries early on its own SIGINT flag; others keep their CPU threads busy
until done) and its result is discarded. Until it has ended, polars raises
KeyboardInterrupt for every new query (polars' own rule); crmkit's next long call first
waits for it (``settle``). Nothing is written: the phases
wrapped this way compute in memory only, and the call they belong to raises before any
output exists. Called from any thread other than the main one (where signals are never
delivered), ``run`` simply calls ``fn``.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

import polars as pl

T = TypeVar("T")

# How often the waiting main thread wakes to let Python run its signal handlers. A wait
# on a threading primitive is itself interrupted by a signal on POSIX; the slice bounds
# the latency where it is not.
_SLICE = 0.05
# How long an interrupted wait lets the abandoned phase end before raising.
_GRACE = 0.2
_abandoned: list[threading.Thread] = []


def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, interruptible by Ctrl-C while it runs (see the module docs).

    >>> from crmkit import _interrupt
    >>> _interrupt.run(sum, [1, 2, 3])
    6
    """
    if threading.current_thread() is not threading.main_thread():
        return fn(*args, **kwargs)
    # An interrupted phase still running would make polars refuse this call's queries.
    settle()
    done = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=work, name="crmkit-polars", daemon=True)
    worker.start()
    try:
        while not done.wait(_SLICE):
            pass
    except BaseException:
        # polars (since 1.2x) also sees SIGINT: it aborts a running query at its next
        # check, and until its last running query has ended every new polars call raises
        # KeyboardInterrupt. A short grace lets an abortable phase end first, so that the
        # caller's next polars call works.
        if not done.wait(_GRACE):
            _abandoned.append(worker)
        raise
    if "error" in box:
        error = box.pop("error")
        try:
            raise error
        finally:
            del error
    value: T = box.pop("value")
    return value


def settle() -> None:
    """Waits (interruptibly) until the phases abandoned by earlier interrupts have ended.

    polars raises KeyboardInterrupt for every new query while a query that was running
    when SIGINT arrived is still running (polars' own interrupt rule), so crmkit's next
    long call waits for them first; call this before plain polars work right after an
    interrupted crmkit call.

    >>> settle()
    """
    while _abandoned:
        worker = _abandoned[0]
        while worker.is_alive():
            worker.join(_SLICE)
        _abandoned.remove(worker)


def collect(query: pl.LazyFrame) -> pl.DataFrame:
    """``query.collect()``, interruptible by Ctrl-C.

    >>> import polars as pl
    >>> collect(pl.LazyFrame({"a": [1, 2]}).select(pl.col("a").sum())).item()
    3
    """
    def go() -> pl.DataFrame:
        return query.collect()

    return run(go)


def collect_all(queries: list[pl.LazyFrame]) -> list[pl.DataFrame]:
    """``pl.collect_all(queries)``, interruptible by Ctrl-C.

    >>> import polars as pl
    >>> [f.height for f in collect_all([pl.LazyFrame({"a": [1]}), pl.LazyFrame({"a": [1, 2]})])]
    [1, 2]
    """
    return run(pl.collect_all, queries)
