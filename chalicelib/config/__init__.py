"""The autoheal config: one YAML file, validated once per cold start.

>>> from chalicelib.config import load_config
>>> config = load_config("autoheal.yaml")  # doctest: +SKIP
"""

from chalicelib.config.errors import ConfigError
from chalicelib.config.loader import load_config, parse_config
from chalicelib.config.model import Config, Monitor, Runbook, Settings

__all__ = ["Config", "ConfigError", "Monitor", "Runbook", "Settings", "load_config", "parse_config"]
