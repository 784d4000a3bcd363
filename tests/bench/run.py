"""Runs every tests/bench/bench_*.py and prints medians and peer ratios.

Usage: python tests/bench/run.py [--quick] [--only SUBSTRING] [--json FILE] [--record FILE]
(`make bench` runs it in the project's .venv and records into docs/bench_results.json,
which the documentation's migration guides quote).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _harness import format_table, run_case  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for checking the benchmarks run")
    parser.add_argument("--only", default="", help="run only cases whose module or name contains this")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--record", help="merge the results (with machine and date) into this JSON file, "
                        "replacing earlier results of the same cases (the docs quote docs/bench_results.json)")
    args = parser.parse_args()

    results = []
    paths = sorted(HERE.glob("bench_*.py"))
    # Building a module's cases makes its data (bench_ml makes a million rows), so when
    # --only names modules, the other modules are not even imported.
    by_module = [p for p in paths if args.only and args.only in p.stem]
    for path in by_module or paths:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            cases = module.cases(args.quick)
        except ImportError as e:
            print(f"{path.name}: skipped ({e})", file=sys.stderr)
            continue
        for case in cases:
            if args.only and not by_module and args.only not in case.name:
                continue
            print(f"running {path.stem}: {case.name} ...", file=sys.stderr, flush=True)
            results.append(run_case(case))
    print(format_table(results))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "case": r.case.name,
                        "crmkit_s": r.crmkit_median,
                        "peer": r.case.peer_name,
                        "peer_s": r.peer_median,
                        "ratio": r.ratio,
                        "target_ratio": r.case.target_ratio,
                        "note": r.case.note,
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    if args.record and not args.quick:
        record(Path(args.record), results)
    return 0


def machine() -> str:
    """CPU model, cores and load: what a reader needs to weigh the timings."""
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, load average {load:.1f}"


def record(path: Path, results) -> None:
    """Merge this run's results into `path`, one entry per case name."""
    import datetime as dt

    data = json.loads(path.read_text()) if path.exists() else {}
    by_case = {r["case"]: r for r in data.get("results", [])}
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    where = machine()
    for r in results:
        by_case[r.case.name] = {
            "case": r.case.name,
            "crmkit_s": r.crmkit_median,
            "peer": r.case.peer_name,
            "peer_s": r.peer_median,
            "ratio": r.ratio,
            "repeat": r.case.repeat,
            "note": r.case.note,
            "date": stamp,
            "machine": where,
        }
    data = {
        "about": "Medians of tests/bench cases (crmkit and its peer alternately, same process), "
        "written by `make bench` (tests/bench/run.py --record). The documentation quotes these numbers.",
        "results": sorted(by_case.values(), key=lambda r: r["case"]),
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
