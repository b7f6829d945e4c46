"""The whole local world for one config: AWS (moto), the fleet, its SSM agents, a chat service,
the resources the config names, and the runtime that fires autoheal's functions.

>>> with World("chalicelib/configs/demo.yaml") as world:   # doctest: +SKIP
...     world.runtime.start()
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional

from chalicelib import wiring
from chalicelib.aws.clients import client
from sandbox.chat import ChatReceiver
from sandbox.fleet import Fleet
from sandbox.moto_server import MotoServer
from sandbox.provision import Provisioned, provision
from sandbox.runtime import Runtime
from sandbox.ssm_agent import SsmAgent

FLEET = [("blue-1", "blue"), ("green-1", "green")]
FLEET_REFERENCE = re.compile(r"\$\{FLEET_[A-Z0-9_]+\}")


def fleet_variable(name: str) -> str:
    """blue-1 -> FLEET_BLUE_1: how a config refers to a fleet instance's host:port."""
    return "FLEET_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


class World:
    def __init__(self, config_path: str, tick_seconds: float = 60.0) -> None:
        self.config_path = str(Path(config_path).resolve())
        self.tick_seconds = tick_seconds
        self.moto = MotoServer()
        self.fleet: Optional[Fleet] = None
        self.agent: Optional[SsmAgent] = None
        self.chat = ChatReceiver()
        self.instance_ids: dict[str, str] = {}
        self.saved_env: dict[str, str | None] = {}  # what setenv replaced, put back on stop

    def __enter__(self) -> World:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self.moto.start()
        self.moto.apply_env()
        if FLEET_REFERENCE.search(Path(self.config_path).read_text()):
            self.fleet = Fleet(FLEET).start()
            for name, _ in FLEET:
                self.setenv(fleet_variable(name), self.fleet.url(name).split("://", 1)[1])
        self.chat.__enter__()
        self.setenv("AUTOHEAL_CONFIG", self.config_path)
        wiring.reset()
        self.config = wiring.config()
        self.resources: Provisioned = provision(self.config, self.chat.url)
        if self.fleet is not None:
            self.instance_ids = self.fleet.register_instances(client("ec2"))
            self.agent = SsmAgent(
                client("ssm"), self.fleet, self.instance_ids, self.config.settings.restart_document
            ).start()
        self.app = load_app()
        self.runtime = Runtime(self.app.app.handler_map, self.resources.alarm_queue_url, self.tick_seconds)

    def stop(self) -> None:
        runtime = getattr(self, "runtime", None)
        if runtime is not None:
            runtime.stop()
        if self.agent is not None:
            self.agent.stop()
        if self.fleet is not None:
            self.fleet.stop()
        self.chat.__exit__()
        self.moto.stop()
        for key, value in self.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self.saved_env.clear()
        wiring.reset()

    def setenv(self, key: str, value: str) -> None:
        self.saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def urls(self) -> dict[str, str]:
        found = {"AWS_ENDPOINT_URL": self.moto.endpoint_url, "chat webhook": self.chat.url}
        if self.fleet is not None:
            found.update({name: self.fleet.url(name) for name, _ in FLEET})
        return found


def load_app() -> ModuleType:
    """Import (or re-import) app.py so it reads the current config, as a cold start does."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    if "app" in sys.modules:
        return importlib.reload(sys.modules["app"])
    return importlib.import_module("app")
