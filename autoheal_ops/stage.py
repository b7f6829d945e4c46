"""What a stage is called in AWS: every resource name derives from the app and the stage.

Dev and prod therefore live side by side in one account. The S3 bucket also carries the account
and region, since bucket names are global. `${AWS::...}` in a value is filled in by CloudFormation
(the packaged template wraps such strings in Fn::Sub) or by `render` for `chalice deploy`.

>>> StageNames("dev").state_table
'autoheal-dev-state'
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / ".chalice"
APP_NAME = "autoheal"
PARTITION = "arn:${AWS::Partition}"
REGION_ACCOUNT = "${AWS::Region}:${AWS::AccountId}"
# Functions Lambda invokes asynchronously (schedules, SNS): each gets an on-failure queue.
ASYNC_FUNCTIONS = ("probe", "on_alarm", "follow_up", "advance")
SCHEDULED_FUNCTIONS = ("probe", "follow_up", "advance")
# The one function Chalice makes for every route (API Gateway's REST API in front of it).
API_HANDLER = "api_handler"


@dataclass(frozen=True)
class StageNames:
    stage: str

    @property
    def prefix(self) -> str:
        return f"{APP_NAME}-{self.stage}"

    @property
    def state_table(self) -> str:
        return f"{self.prefix}-state"

    @property
    def alarm_topic(self) -> str:
        return f"{self.prefix}-alarms"

    @property
    def notify_topic(self) -> str:
        return f"{self.prefix}-notify"

    @property
    def status_bucket(self) -> str:
        return f"{self.prefix}-status-${{AWS::AccountId}}-${{AWS::Region}}"

    @property
    def diagnostics_bucket(self) -> str:
        """Private: where diagnoses before a restart are kept (never the public status bucket)."""
        return f"{self.prefix}-diagnostics-${{AWS::AccountId}}-${{AWS::Region}}"

    @property
    def restart_document(self) -> str:
        return f"{self.prefix}-restart"

    @property
    def diagnose_document(self) -> str:
        return f"{self.prefix}-diagnose"

    @property
    def chat_webhook_parameter(self) -> str:
        return f"/{APP_NAME}/{self.stage}/chat-webhook"

    @property
    def metrics_namespace(self) -> str:
        return f"Autoheal/{self.stage}"  # two stages' metrics never mix

    def function(self, name: str) -> str:
        """The Lambda function's name as Chalice creates it (its API handler is <app>-<stage>)."""
        return self.prefix if name == API_HANDLER else f"{self.prefix}-{name}"

    def role(self, function: str) -> str:
        """The function's role's name as Chalice creates it (the API handler's too)."""
        return f"{self.prefix}-{function}"

    def failure_queue(self, function: str) -> str:
        return f"{self.prefix}-{function.replace('_', '-')}-failed"

    @property
    def probe_queue(self) -> str:
        """The shard messages `probe` sends and `probe_worker` reads (chalicelib.fanout.setup)."""
        return f"{self.prefix}-probe-shards"

    @property
    def probe_dead_letters(self) -> str:
        return f"{self.prefix}-probe-shards-dead"

    def environment(self) -> dict[str, str]:
        """The stage's environment: what its config refers to as `${AUTOHEAL_...}`."""
        return {
            "AUTOHEAL_STATE_TABLE": self.state_table,
            "AUTOHEAL_ALARM_TOPIC": self.alarm_topic,
            "AUTOHEAL_NOTIFY_TOPIC": self.notify_topic,
            "AUTOHEAL_STATUS_BUCKET": self.status_bucket,
            "AUTOHEAL_DIAGNOSTICS_BUCKET": self.diagnostics_bucket,
            "AUTOHEAL_RESTART_DOCUMENT": self.restart_document,
            "AUTOHEAL_DIAGNOSE_DOCUMENT": self.diagnose_document,
            "AUTOHEAL_CHAT_WEBHOOK_PARAMETER": self.chat_webhook_parameter,
            "AUTOHEAL_METRICS_NAMESPACE": self.metrics_namespace,
        }


def fill_account_region(value: str, account: str, region: str) -> str:
    """What CloudFormation makes of ${AWS::AccountId} and ${AWS::Region} in a deployed name."""
    return value.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)


def chalice_config() -> dict:
    return json.loads((CHALICE_DIR / "config.json").read_text())


def stages() -> list[str]:
    return sorted(chalice_config()["stages"])


def stage_environment(stage: str) -> dict[str, str]:
    """The environment Chalice gives the stage's functions (top level, then the stage's own)."""
    config = chalice_config()
    return {
        **config.get("environment_variables", {}),
        **config["stages"][stage].get("environment_variables", {}),
    }


def functions() -> list[str]:
    """Every Lambda function app.py declares, by its Chalice name."""
    names = []
    for node in ast.walk(ast.parse((ROOT / "app.py").read_text())):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call):
                    names += [k.value.value for k in decorator.keywords if k.arg == "name"]
        if isinstance(node, ast.Call) and adds_routes(node) and API_HANDLER not in names:
            names.append(API_HANDLER)
    return sorted(names)


def adds_routes(call: ast.Call) -> bool:
    """`@app.route(...)`, or `<module>.register(app, ...)` adding a module's routes to the app."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    first = call.args[0] if call.args else None
    return func.attr == "route" or (
        func.attr == "register" and isinstance(first, ast.Name) and first.id == "app"
    )


# Lambda keeps this many of an account's concurrent executions unreserved and refuses any deploy
# whose reservations would leave fewer. A new account's quota is often exactly 10.
UNRESERVED_MINIMUM = 10
RESERVATION_KEY = "reserved_concurrency_opt_in"  # a stage's key in .chalice/config.json


@dataclass(frozen=True)
class Reservation:
    """A stage's reserved concurrency: figures kept beside the stage, applied only when enabled.

    Chalice never reads RESERVATION_KEY, so `chalice deploy` and `chalice package` reserve
    nothing; `autoheal_ops.package` and `autoheal_ops.render` apply the figures when `enabled`.
    """

    enabled: bool
    default: int | None  # a function without its own figure
    functions: dict[str, int]

    def planned(self, names: list[str]) -> dict[str, int]:
        """What each function would reserve if enabled (functions with no figure omitted)."""
        figures = {name: self.functions.get(name, self.default) for name in names}
        return {name: figure for name, figure in figures.items() if figure is not None}

    def applied(self, names: list[str]) -> dict[str, int]:
        """What the stage reserves as deployed: nothing unless opted in."""
        return self.planned(names) if self.enabled else {}


def reservation(stage: str) -> Reservation:
    setting = chalice_config()["stages"][stage].get(RESERVATION_KEY, {})
    return Reservation(
        enabled=setting.get("enabled", False) is True,
        default=setting.get("default"),
        functions=dict(setting.get("functions", {})),
    )
