"""What each Lambda builds once per cold start: the validated config and the long-lived objects.

`AUTOHEAL_CONFIG` names the stage's YAML, relative to the deployed app (Chalice ships only
app.py, chalicelib/ and vendor/, so configs live in chalicelib/configs/).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from chalicelib.config import Config, load_config

APP_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = "chalicelib/configs/example.yaml"


def config_path() -> Path:
    path = Path(os.environ.get("AUTOHEAL_CONFIG", DEFAULT_CONFIG))
    return path if path.is_absolute() else APP_ROOT / path


@functools.lru_cache(maxsize=1)
def config() -> Config:
    """The config, loaded and validated once; a bad file fails the cold start with every error."""
    return load_config(str(config_path()))


@functools.lru_cache(maxsize=1)
def probe_engine():  # -> ProbeEngine (imported lazily: requests is not needed to import app.py)
    from chalicelib.probe.engine import ProbeEngine

    return ProbeEngine(workers=config().settings.probe_workers)


def reset() -> None:
    """Forget what was built (tests switch configs and endpoints)."""
    from chalicelib.aws import clients

    config.cache_clear()
    probe_engine.cache_clear()
    clients.reset()
