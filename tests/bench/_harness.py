"""Benchmark harness: times crmkit against the tool users would otherwise use.

Each `bench_*.py` module defines `cases(quick: bool) -> list[Case]`. Every case
runs crmkit and its peer alternately in the same process and run, `repeat` times
each, and reports medians and the peer/crmkit ratio (higher is better for
crmkit). Shared, noisy machines make single timings meaningless: only ratios of
medians from the same run are reported.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional


@dataclass
class Case:
    name: str
    crmkit: Callable[[], Any]
    peer: Optional[Callable[[], Any]] = None
    peer_name: str = ""
    repeat: int = 3
    #: Free-form facts about the case (data size, settings) printed with it.
    note: str = ""
    #: A bar from an issue, as the minimum peer/crmkit ratio (e.g. 20.0 for "20x faster").
    target_ratio: Optional[float] = None
    setup: Optional[Callable[[], Any]] = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    case: Case
    crmkit_times: list[float]
    peer_times: list[float]

    @property
    def crmkit_median(self) -> float:
        return statistics.median(self.crmkit_times)

    @property
    def peer_median(self) -> Optional[float]:
        return statistics.median(self.peer_times) if self.peer_times else None

    @property
    def ratio(self) -> Optional[float]:
        peer = self.peer_median
        return None if peer is None else peer / self.crmkit_median


def _time(fn: Callable[[], Any]) -> float:
    gc.collect()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run_case(case: Case) -> Result:
    if case.setup is not None:
        case.setup()
    ours: list[float] = []
    theirs: list[float] = []
    # Alternate so drift in machine load hits both sides alike.
    for _ in range(case.repeat):
        ours.append(_time(case.crmkit))
        if case.peer is not None:
            theirs.append(_time(case.peer))
    return Result(case, ours, theirs)


def format_table(results: list[Result]) -> str:
    header = f"{'case':<44} {'crmkit (s)':>11} {'peer':<24} {'peer (s)':>10} {'ratio':>8} {'bar':>6}"
    lines = [header, "-" * len(header)]
    for r in results:
        peer = f"{r.peer_median:.3f}" if r.peer_median is not None else "-"
        ratio = f"{r.ratio:.1f}x" if r.ratio is not None else "-"
        bar = f"{r.case.target_ratio:g}x" if r.case.target_ratio else ""
        lines.append(
            f"{r.case.name:<44} {r.crmkit_median:>11.3f} {r.case.peer_name[:24]:<24} {peer:>10} {ratio:>8} {bar:>6}"
        )
        if r.case.note:
            lines.append(f"    {r.case.note}")
    return "\n".join(lines)
