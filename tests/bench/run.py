"""Runs every tests/bench/bench_*.py and prints medians and peer ratios.

Usage: python tests/bench/run.py [--quick] [--only SUBSTRING] [--json FILE]
(`make bench` runs it in the project's .venv).
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
