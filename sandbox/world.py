"""The whole local world for one config: AWS (moto), the fleet, its SSM agents, a chat service,
the resources the config names, the front door (the ALB of each deployment) and the status
bucket's website, and the runtime that fires autoheal's functions.

>>> with World("chalicelib/configs/demo.yaml", broken={"v2": "error"}) as world:   # doctest: +SKIP
...     world.runtime.start()
...     world.urls()                  # {"web-alb:80": "http://127.0.0.1:...", "status site": ...}
...     world.front_door.served.counts()            # {"v1": 120, "v2": 3}
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Mapping, Optional

from chalicelib import wiring
from chalicelib.aws.clients import client
from sandbox.chat import ChatReceiver
from sandbox.fleet import Fleet
from sandbox.front_door import FrontDoor
from sandbox.lambda_api import LambdaApi
from sandbox.moto_server import MotoServer
from sandbox.pm2 import pm2_unavailable
from sandbox.ports import LOOPBACK, free_port
from sandbox.provision import Member, Provisioned, provision, provision_load_balancers
from sandbox.runtime import Runtime
from sandbox.s3_website import S3Website
from sandbox.ssm_agent import SsmAgent

FLEET = [("blue-1", "blue"), ("blue-2", "blue"), ("green-1", "green")]
FLEET_REFERENCE = re.compile(r"\$\{FLEET_[A-Z0-9_]+\}")
# ${ALB_WEB_ALB_80} is the front door's address for listener 80 of web-alb; ${STATUS_SITE} the
# status bucket's website. Their ports are reserved before the config is read, so monitors can
# go through the load balancer as users do.
ALB_REFERENCE = re.compile(r"\$\{(ALB_[A-Z0-9_]+_[0-9]+)\}")
STATUS_SITE = "STATUS_SITE"


def alb_variable(load_balancer: str, port: int) -> str:
    """web-alb, 80 -> ALB_WEB_ALB_80: how a config refers to a listener of the front door."""
    return "ALB_" + re.sub(r"[^A-Z0-9]", "_", load_balancer.upper()) + f"_{port}"


def fleet_variable(name: str) -> str:
    """blue-1 -> FLEET_BLUE_1: how a config refers to a fleet instance's host:port."""
    return "FLEET_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


class World:
    """``broken`` maps an app version to a fault its instances have from the start (sticky), e.g.
    ``{"v2": "error"}``: a green that fails whatever is done to it."""

    def __init__(
        self, config_path: str, tick_seconds: float = 60.0, broken: Optional[Mapping[str, str]] = None
    ) -> None:
        self.config_path = str(Path(config_path).resolve())
        self.tick_seconds = tick_seconds
        self.broken = dict(broken or {})
        self.moto = MotoServer()
        self.fleet: Optional[Fleet] = None
        self.front_door: Optional[FrontDoor] = None
        self.website: Optional[S3Website] = None
        self.agent: Optional[SsmAgent] = None
        self.lambda_api: Optional[LambdaApi] = None
        self.chat = ChatReceiver()
        self.instance_ids: dict[str, str] = {}
        self.reserved: dict[str, int] = {}  # ${ALB_*} / ${STATUS_SITE} -> local port
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
            self.fleet = Fleet(
                FLEET, broken=self.broken, pm2=pm2_unavailable() is None, nvm={"green-1"}
            ).start()
            for name, _ in FLEET:
                self.setenv(fleet_variable(name), self.fleet.url(name).split("://", 1)[1])
        self.reserve_addresses()
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
            self.start_front_door()
        site_port = self.reserved.get(STATUS_SITE, 0)
        self.website = S3Website(
            self.moto.client("s3"), self.config.settings.status_bucket, site_port
        ).start()
        self.app = load_app()
        self.runtime = Runtime(self.app.app.handler_map, self.resources.alarm_queue_url, self.tick_seconds)
        self.lambda_api = LambdaApi(self.runtime).start()
        self.setenv("AWS_ENDPOINT_URL_LAMBDA", self.lambda_api.url)

    def start_front_door(self) -> None:
        """The deployments' load balancers in moto, with the fleet behind them, and the door."""
        if not self.config.deployments or self.fleet is None:
            return
        fleet = self.fleet
        members = [Member(self.instance_ids[n], fleet.color(n), fleet.port(n)) for n in fleet.names]
        listeners = provision_load_balancers(self.config.deployments, members)
        balancers = sorted({listener.load_balancer for listener in listeners})
        ports = {
            (listener.load_balancer, listener.port): self.reserved[variable]
            for listener in listeners
            if (variable := alb_variable(listener.load_balancer, listener.port)) in self.reserved
        }
        self.front_door = FrontDoor(self.moto.client, balancers, ports=ports).start()

    def reserve_addresses(self) -> None:
        """Ports for the ${ALB_*} and ${STATUS_SITE} the config names, set before it is read."""
        text = Path(self.config_path).read_text()
        names = set(ALB_REFERENCE.findall(text))
        if "${" + STATUS_SITE + "}" in text:
            names.add(STATUS_SITE)
        for name in sorted(names):
            self.reserved[name] = free_port()
            self.setenv(name, f"{LOOPBACK}:{self.reserved[name]}")

    def stop(self) -> None:
        runtime = getattr(self, "runtime", None)
        if runtime is not None:
            runtime.stop()
        for server in (self.front_door, self.website, self.lambda_api):
            if server is not None:
                server.stop()
        self.front_door = self.website = self.lambda_api = None
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

    def exports(self) -> dict[str, str]:
        """What another shell needs to use this world: the AWS endpoints, region and dummy keys,
        every variable the config interpolates, and the fleet's control ports."""
        found = dict(self.moto.env())
        found.update({key: os.environ[key] for key in self.saved_env if key in os.environ})
        if self.fleet is not None:
            for name in self.fleet.names:
                port = self.fleet.instance(name).control_port
                found[fleet_variable(name) + "_CONTROL"] = f"{LOOPBACK}:{port}"
        return found

    def urls(self) -> dict[str, str]:
        found = {"AWS_ENDPOINT_URL": self.moto.endpoint_url, "chat webhook": self.chat.url}
        if self.lambda_api is not None:
            found["AWS_ENDPOINT_URL_LAMBDA"] = self.lambda_api.url
        if self.fleet is not None:
            found.update({name: self.fleet.url(name) for name, _ in FLEET})
        if self.front_door is not None:
            found.update(self.front_door.urls())
        if self.website is not None:
            found["status site"] = self.website.url
        return found


def export_lines(variables: Mapping[str, str]) -> str:
    """`export K=V` lines a POSIX shell can `source`, each value quoted."""
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in sorted(variables.items()))


def load_app() -> ModuleType:
    """Import (or re-import) app.py so it reads the current config, as a cold start does."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    if "app" in sys.modules:
        return importlib.reload(sys.modules["app"])
    return importlib.import_module("app")
