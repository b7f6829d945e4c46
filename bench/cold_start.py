"""Cold start: the median time to import app.py in fresh processes, against importing boto3 alone.

The Lambda runtime pays for boto3 whenever a function uses AWS, so boto3's import is the yardstick:
target app.py <= 1.5x boto3 and the probe's path (its handler and engine) <= 1.2x.
Also shown: what the first probe invocation adds (its lazy imports).

    python bench/cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBJECTS = {
    "boto3": "import boto3",
    "app.py": "import app",
    "app.py + probe path": "import app, chalicelib.monitoring.probe_run, chalicelib.probe.engine",
    "probe path alone": "import chalicelib.monitoring.probe_run, chalicelib.probe.engine",
}
TIMER = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


def import_seconds(statement: str) -> float:
    env = {**os.environ, "AUTOHEAL_CONFIG": "chalicelib/configs/example.yaml", "PYTHONDONTWRITEBYTECODE": "0"}
    done = subprocess.run(
        [sys.executable, "-c", TIMER.format(statement=statement)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    for statement in SUBJECTS.values():
        import_seconds(statement)  # warm the bytecode cache, as a deployed package ships .pyc-ready code
    medians = {}
    for _ in range(args.runs):  # interleaved, so machine noise hits every subject alike
        for name, statement in SUBJECTS.items():
            medians.setdefault(name, []).append(import_seconds(statement))
    medians = {name: statistics.median(times) for name, times in medians.items()}
    base = medians["boto3"]
    print(f"median import time over {args.runs} fresh processes each")
    for name, seconds in medians.items():
        print(f"  {name:<22} {seconds * 1000:7.1f} ms   {seconds / base:4.2f}x boto3")
    verdict = "meets" if medians["app.py"] <= 1.5 * base else "MISSES"
    print(f"target app.py <= 1.5x boto3: {verdict}")
    verdict = "meets" if medians["probe path alone"] <= 1.2 * base else "MISSES"
    print(f"target probe path <= 1.2x boto3: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
