"""`python -m autoheal_ops.package --stage prod`: dist/sam.json and dist/deployment.zip.

Writes the stage's resources template (dist/<stage>/merge.json; dist/<stage>/resources.json is
the same as a stack of its own, for the path that ends in `chalice deploy`), runs `chalice
package --merge-template` with the stage's environment (app.py reads the config at import), then
lets CloudFormation pin the `${AWS::...}` that the policy files and the stage environment hold:
every such string becomes an Fn::Sub.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from autoheal_ops.iam import stage_config
from autoheal_ops.resources import stage_template
from autoheal_ops.stage import ROOT, Reservation, StageNames, functions, reservation, stage_environment
from chalicelib.subscriptions.route import PATH as SUBSCRIBE_PATH

DIST = ROOT / "dist"
PSEUDO = "${AWS::"
# Every route's API Gateway stage throttling (requests a second, and the bucket's size): POST
# /subscribe is public, and each request costs a Lambda run, a DynamoDB write and an SNS call.
API_RATE_LIMIT = 5  # requests a second, every route together (render sets the same for path 2)
API_BURST_LIMIT = 10


def substituted(node: Any) -> Any:
    """Wrap every string holding `${AWS::...}` in Fn::Sub (leaving existing intrinsics alone)."""
    if isinstance(node, str):
        return {"Fn::Sub": node} if PSEUDO in node else node
    if isinstance(node, list):
        return [substituted(item) for item in node]
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)).startswith("Fn::"):
            return node
        return {key: substituted(value) for key, value in node.items()}
    return node


def write_resources(stage: str, merged: bool, out: Path = DIST) -> Path:
    """dist/<stage>/merge.json (merged by chalice) or resources.json (a stack of its own)."""
    path = out / stage / ("merge.json" if merged else "resources.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    template = stage_template(stage, stage_config(stage), functions(), merged)
    path.write_text(json.dumps(substituted(template), indent=1) + "\n")
    return path


def chalice_env(stage: str) -> dict[str, str]:
    return {
        **os.environ,
        **stage_environment(stage),
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }


def package(stage: str, out: Path = DIST, reserved: Reservation | None = None) -> Path:
    """`reserved`: the stage's own setting unless given (a test's opt-in)."""
    write_resources(stage, merged=False, out=out)
    resources = write_resources(stage, merged=True, out=out)
    work = out / stage / "chalice"
    shutil.rmtree(work, ignore_errors=True)
    chalice = Path(sys.executable).parent / "chalice"
    command = [str(chalice), "package", "--stage", stage, "--merge-template", str(resources), str(work)]
    done = subprocess.run(
        command, cwd=ROOT, env=chalice_env(stage), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"chalice package failed:\n{done.stdout}{done.stderr}")
    template = substituted(json.loads((work / "sam.json").read_text()))
    # Chalice names the alarms topic by its ARN text; a Ref makes the subscription wait for it.
    # (Merging cannot do this: it would keep Chalice's Fn::Sub beside the Ref.)
    events = template["Resources"]["OnAlarm"]["Properties"]["Events"]
    events["OnAlarmSnsSubscription"]["Properties"]["Topic"] = {"Ref": "AlarmTopic"}
    # So too the shard queue: the worker's event source waits for it.
    shards = template["Resources"]["ProbeWorker"]["Properties"]["Events"]["ProbeWorkerSqsEventSource"]
    shards["Properties"]["Queue"] = {"Fn::GetAtt": ["ProbeShardQueue", "Arn"]}
    reserve(template, stage, reserved or reservation(stage))
    throttle(template)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sam.json").write_text(json.dumps(template, indent=1) + "\n")
    shutil.copyfile(work / "deployment.zip", out / "deployment.zip")
    return out / "sam.json"


def reserve(template: dict, stage: str, reserved: Reservation) -> None:
    """Reserved concurrency only for a stage that opted in (see stage.Reservation): a reservation
    the account's quota cannot hold fails the whole deploy."""
    figures = reserved.applied(functions())
    by_name = {StageNames(stage).function(name): figure for name, figure in figures.items()}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            properties = resource["Properties"]
            properties.pop("ReservedConcurrentExecutions", None)
            if properties.get("FunctionName") in by_name:
                properties["ReservedConcurrentExecutions"] = by_name[properties["FunctionName"]]


def throttle(template: dict) -> None:
    """Stage throttling on every method of Chalice's REST API: a burst of form posts is answered
    429 by API Gateway before any Lambda runs. The API's address, plus /subscribe, is an Output
    to copy into the config's settings.subscribe_url."""
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Api":
            resource["Properties"]["MethodSettings"] = [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": API_RATE_LIMIT,
                    "ThrottlingBurstLimit": API_BURST_LIMIT,
                }
            ]
            api_stage = resource["Properties"]["StageName"]  # Chalice's api_gateway_stage
            host = f"${{{logical}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
            url = f"https://{host}/{api_stage}{SUBSCRIBE_PATH}"
            template.setdefault("Outputs", {})["SubscribeURL"] = {
                "Description": "settings.subscribe_url: where the status page's subscribe form posts",
                "Value": {"Fn::Sub": url},
            }


def refusals(stage: str, allow_example: bool = False) -> list[str]:
    """What `check` (offline) refuses in the stage's config: names the stage neither creates nor
    grants, and monitors still probing the shipped example's endpoints. example.com never
    answers, so a stage deployed with them finds every monitor DOWN and restarts healthy
    instances; `allow_example` packages the shipped example anyway (a trial of the template)."""
    from autoheal_ops.check import name_errors, placeholder_errors

    config = stage_config(stage)
    return name_errors(stage, config) + ([] if allow_example else placeholder_errors(config))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autoheal_ops.package", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stage", default="dev")
    parser.add_argument(
        "--allow-example-endpoints",
        action="store_true",
        help="package a config still probing the shipped example.com endpoints (`make package EXAMPLE=1`)",
    )
    args = parser.parse_args(argv)
    refused = refusals(args.stage, args.allow_example_endpoints)
    if refused:
        print("\n".join(refused), file=sys.stderr)
        config = stage_environment(args.stage)["AUTOHEAL_CONFIG"]
        trial = "for a trial of the shipped example, make package EXAMPLE=1"
        print(f"not packaged: fix {config} (or, {trial})", file=sys.stderr)
        return 2
    sam = package(args.stage)
    size = (sam.parent / "deployment.zip").stat().st_size
    print(f"{sam.relative_to(ROOT)} and dist/deployment.zip ({size / 1e6:.2f} MB) for stage {args.stage}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
