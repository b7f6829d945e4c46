"""Check config files without deploying: `python -m chalicelib.config FILE [FILE ...]`.

Exits 0 when every file is valid, 1 with every error listed by key path otherwise.
"""

from __future__ import annotations

import sys

import chalicelib.plugins  # noqa: F401 - the entry point registers the built-in kinds
from chalicelib.config import ConfigError, load_config


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: python -m chalicelib.config FILE [FILE ...]", file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        try:
            config = load_config(path)
        except ConfigError as exc:
            failed += 1
            print(f"{path}: {exc}", file=sys.stderr)
            continue
        print(
            f"{path}: ok ({len(config.monitors)} monitors, {len(config.runbooks)} runbooks, "
            f"{len(config.alarms)} alarm routes, {len(config.deployments)} deployments)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
