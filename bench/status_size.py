"""How big the status page is on the wire: index.html for 50 monitors with 90 days of history.

    python bench/status_size.py [--monitors 50] [--levels 6 9]

Builds status.json through the real pipeline for a calm, a moderate and a busy quarter
(tests/statuspage/samples.py says what each means), renders index.html, history.html and
feed.xml and prints each one's raw and gzip size: gzip is what the bucket stores and what
crosses the wire (objects are stored with Content-Encoding: gzip). `--levels` adds, for the busy
quarter, what each gzip level costs the probe's core and what it saves on the wire. Pure CPU,
no AWS.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.config.model import MaintenanceConfig, Settings  # noqa: E402
from chalicelib.statuspage.publish import GZIP_LEVEL, encoded  # noqa: E402
from chalicelib.statuspage.site import render_all  # noqa: E402
from tests.statuspage.samples import LEVELS, fleet_status  # noqa: E402

LIMIT = 50 * 1024  # index.html, gzip, busy history


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=50)
    parser.add_argument("--levels", type=int, nargs="*", default=[], help="gzip levels to compare")
    args = parser.parse_args()
    monitors = args.monitors
    print(f"{monitors} monitors x 90 days; sizes in bytes (raw -> gzip as stored and sent)")
    for level in LEVELS:
        pages = render_all(fleet_status(level, monitors), _Config())
        badges = [body for key, body in pages.items() if key.startswith("badges/")]
        sizes = ", ".join(
            f"{key} {len(body):,} -> {len(encoded(body)):,}"
            for key, body in sorted(pages.items())
            if not key.startswith("badges/")
        )
        sizes += f", {len(badges)} badges ~{max(len(encoded(b)) for b in badges)} each"
        index = len(encoded(pages["index.html"]))
        verdict = "within" if index <= LIMIT else "OVER"
        print(f"{level:>9}: {sizes}  [index.html {verdict} {LIMIT // 1024} KB]")
    if args.levels:
        compare_levels(render_all(fleet_status("busy", monitors), _Config(), badges=False), args.levels)
    return 0


def compare_levels(pages: dict[str, bytes], levels: list[int]) -> None:
    print(f"gzip levels, busy quarter (the site as written; the stage's is level {GZIP_LEVEL}):")
    for level in levels:
        started = time.process_time()
        size = sum(len(gzip.compress(body, compresslevel=level, mtime=0)) for body in pages.values())
        print(f"  level {level}: {(time.process_time() - started) * 1000:.0f} ms of CPU, {size:,} bytes")


class _Config:
    """What render_all reads of a config."""

    maintenance = MaintenanceConfig(health_paths=("/healthz",))
    settings = Settings("autoheal-state", "autoheal-alarms", "autoheal-notify", "autoheal-status")


if __name__ == "__main__":
    sys.exit(main())
