"""How big the status page is on the wire: index.html for 50 monitors with 90 days of history.

    python bench/status_size.py [--monitors 50]

Builds status.json through the real pipeline for a calm, a moderate and a busy quarter
(tests/statuspage/samples.py says what each means), renders index.html, history.html and
feed.xml and prints each one's raw and gzip size: gzip is what the bucket stores and what
crosses the wire (objects are stored with Content-Encoding: gzip). Pure CPU, no AWS.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.config.model import MaintenanceConfig  # noqa: E402
from chalicelib.statuspage.publish import encoded  # noqa: E402
from chalicelib.statuspage.site import render_all  # noqa: E402
from tests.statuspage.samples import LEVELS, fleet_status  # noqa: E402

LIMIT = 50 * 1024  # index.html, gzip, busy history


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=50)
    monitors = parser.parse_args().monitors
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
    return 0


class _Config:
    """What render_all reads of a config."""

    maintenance = MaintenanceConfig(health_paths=("/healthz",))


if __name__ == "__main__":
    sys.exit(main())
