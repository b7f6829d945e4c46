"""`python -m autoheal_ops`: the on-call command, the same against a deployed stage or the local world.

  status                          maintenance mode and every deployment's shift
  maintenance on|off [--message M] [--for 30m | --until ISO] [--components A,B]
  shift start|status|promote|abort --deployment NAME [--strategy S] [--reason R]
  incidents                       open incidents, from the stage's state table
  resolve INCIDENT --note TEXT    close one by hand, the note in its story
  notify-test                     one test message through every channel
  invoke EVENT_FILE               a sample from events/ (asks first when it acts in prod)
  check [--live]                  the config names only what the stage creates; --live: it exists

Deployed: your AWS credentials and region. Local: run `python -m sandbox` and pass `--config` the
world's config; its settings are read from `--env-file` (default `.autoheal-local.env`, the file
the sandbox writes, when present) for every variable not already in the environment.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from autoheal_ops import env_file, notes
from autoheal_ops.invoke import Functions, InvokeError, call_sample
from autoheal_ops.stage import ROOT
from chalicelib.maintenance.mode import DEFAULT_MESSAGE

EVENTS_INDEX = ROOT / "events" / "index.json"
# Acts on users' traffic or on an incident: asked first in prod.
CONFIRMED = {("maintenance", "on"), ("maintenance", "off"), ("shift", "start"), ("shift", "promote")}
CONFIRMED |= {("shift", "abort"), ("resolve", None)}


class Refused(Exception):
    """A request that did not go through: one line, exit 2."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m autoheal_ops", description=__doc__.splitlines()[0])
    top.add_argument("--stage", default="dev")
    top.add_argument("--config", help="the config file (default: the stage's)")
    top.add_argument("--yes", action="store_true", help="do not ask before acting in prod")
    top.add_argument(
        "--env-file", type=Path, help=f"the local world's exports (default: {env_file.DEFAULT} if present)"
    )
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("status")
    maintenance = commands.add_parser("maintenance")
    maintenance.add_argument("mode", choices=("on", "off"))
    maintenance.add_argument("--message", default=DEFAULT_MESSAGE)
    window = maintenance.add_mutually_exclusive_group()
    window.add_argument("--for", dest="duration", help="how long (default 30m)")
    window.add_argument("--until", help="when it ends, an ISO time with offset")
    maintenance.add_argument("--components", help="comma-separated components (default: all)")
    shift = commands.add_parser("shift")
    shift.add_argument("action", choices=("start", "status", "promote", "abort"))
    shift.add_argument("--deployment", required=True)
    shift.add_argument("--strategy")
    shift.add_argument("--reason")
    commands.add_parser("incidents")
    resolve = commands.add_parser("resolve")
    resolve.add_argument("incident")
    resolve.add_argument("--note", required=True)
    commands.add_parser("notify-test")
    invoke = commands.add_parser("invoke")
    invoke.add_argument("event", type=Path)
    invoke.add_argument("--yes", action="store_true", dest="yes_here", help="as --yes")
    check = commands.add_parser("check")
    check.add_argument("--live", action="store_true")
    return top


def load(args: argparse.Namespace) -> Any:
    from autoheal_ops.iam import stage_config
    from chalicelib.config import load_config

    return load_config(args.config) if args.config else stage_config(args.stage)


def status(args: argparse.Namespace, functions: Functions) -> Any:
    config = load(args)
    shifts = {
        name: functions.call("shift_traffic", {"action": "status", "deployment": name})
        for name in config.deployments
    }
    return {"maintenance": functions.call("maintenance", {"action": "status"}), "deployments": shifts}


def maintenance(args: argparse.Namespace, functions: Functions) -> Any:
    payload: dict[str, Any] = {"action": args.mode}
    if args.mode == "on":
        payload["message"] = args.message
        if args.until:
            payload["until"] = args.until
        else:
            payload["for"] = args.duration or "30m"
        if args.components:
            payload["components"] = [name.strip() for name in args.components.split(",") if name.strip()]
        before = functions.call("maintenance", {"action": "status"})
        answer = functions.call("maintenance", payload)
        tell(notes.shortened(before, answer))
        return answer
    return functions.call("maintenance", payload)


def tell(note: str | None) -> None:
    if note:
        print(note, file=sys.stderr)


def shift(args: argparse.Namespace, functions: Functions) -> Any:
    payload = {"action": args.action, "deployment": args.deployment}
    if args.strategy:
        payload["strategy"] = args.strategy
    if args.reason:
        payload["reason"] = args.reason
    if args.action != "abort":
        return functions.call("shift_traffic", payload)
    before = functions.call("shift_traffic", {"action": "status", "deployment": args.deployment})
    answer = functions.call("shift_traffic", payload)
    tell(notes.nothing_in_flight(args.deployment, before, answer))
    return answer


def incidents(args: argparse.Namespace, functions: Functions) -> Any:
    from chalicelib.runbooks.incident_store import IncidentStore

    found = IncidentStore(load(args).settings.state_table).needing_follow_up()
    return [{"incident": i.key, "title": i.title, "status": i.status, "story": i.story[-5:]} for i in found]


def resolve_incident(args: argparse.Namespace, functions: Functions) -> Any:
    """Close an open incident; the version check refuses it if autoheal changed it meanwhile."""
    import time

    from chalicelib.runbooks.engine import resolve
    from chalicelib.runbooks.incident import OPEN
    from chalicelib.runbooks.incident_store import IncidentStore

    store = IncidentStore(load(args).settings.state_table)
    incident = store.get(args.incident)
    if incident is None or incident.status != OPEN:
        raise SystemExit(f"{args.incident}: no open incident by that name")
    now = time.time()
    incident.tell(now, f"resolved by hand: {args.note}")
    resolve(incident, now)
    store.save(incident)
    return {"incident": incident.key, "status": incident.status, "story": incident.story[-3:]}


def notify_test(args: argparse.Namespace, functions: Functions) -> Any:
    """ "autoheal test" through every channel of the stage's `settings.notify`."""
    from chalicelib.notify.channels import fan_out
    from chalicelib.notify.test_message import send_test_message

    return send_test_message(fan_out(load(args).settings))


def invoke(args: argparse.Namespace, functions: Functions, ask: Callable[[str], str] = input) -> Any:
    index = json.loads(EVENTS_INDEX.read_text())
    sample = index.get(args.event.name)
    if sample is None:
        raise SystemExit(f"{args.event}: not a sample listed in events/index.json")
    if sample["acts"]:
        confirm(args, f"{args.event.name} will {sample['does']}", ask)
    payload, table = json.loads(args.event.read_text()), lambda: load(args).settings.state_table
    answer, note = call_sample(functions, sample["function"], payload, table)
    tell(note)  # a replayed answer says so
    return answer


def confirm(args: argparse.Namespace, what: str, ask: Callable[[str], str] | None = None) -> None:
    """In prod, go on only when the operator types the stage name; EOF or anything else refuses."""
    if args.stage != "prod" or args.yes or getattr(args, "yes_here", False):
        return
    try:
        answer = (ask or input)(f"{what} in prod. Type the stage name to go on: ")
    except EOFError:
        answer = ""
    if answer.strip() != "prod":
        raise Refused("not confirmed: nothing changed")


def action_of(args: argparse.Namespace) -> tuple[str, str | None]:
    return args.command, getattr(args, "mode", None) or getattr(args, "action", None)


def refusal(command: str, result: Any) -> str | None:
    """The one line to exit 2 with when the answer says the request did not go through."""
    if isinstance(result, dict) and result.get("error"):
        return f"{command}: {result['error']}"
    if command == "notify-test" and isinstance(result, dict) and result.get("failed"):
        return f"notify-test: failed channels: {', '.join(result['failed'])}"
    return None


def check(args: argparse.Namespace, functions: Functions) -> Any:
    from autoheal_ops.check import live_errors, name_errors, placeholder_errors

    config = load(args)
    errors = ([] if args.config else name_errors(args.stage, config)) + placeholder_errors(config)
    if args.live:
        errors += live_errors(config)
    if errors:
        raise SystemExit("\n".join(errors))
    return {"ok": True, "monitors": len(config.monitors), "live": args.live}


COMMANDS = {
    "status": status,
    "maintenance": maintenance,
    "shift": shift,
    "incidents": incidents,
    "resolve": resolve_incident,
    "notify-test": notify_test,
    "invoke": invoke,
    "check": check,
}


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    path = args.env_file or (env_file.DEFAULT if env_file.DEFAULT.is_file() else None)
    if path is not None:
        if not path.is_file():
            print(f"{path}: no such env file", file=sys.stderr)
            return 2
        env_file.apply(path)
    from botocore.exceptions import NoCredentialsError, NoRegionError

    from chalicelib.config import ConfigError

    try:
        if action_of(args) in CONFIRMED:
            confirm(args, " ".join(filter(None, (args.command, *action_of(args)[1:]))))
        result = COMMANDS[args.command](args, Functions(args.stage))
    except InvokeError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (Refused, ConfigError, NoRegionError, NoCredentialsError) as exc:
        print("; ".join(line.strip() for line in str(exc).splitlines() if line.strip()), file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str))
    line = refusal(args.command, result)
    if line is not None:
        print(line, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
