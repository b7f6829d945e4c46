"""The second deploy path: a project copy for `chalice deploy` with every `${AWS::...}` filled in.

    python -m autoheal_ops.render --stage dev [--account 123456789012] [--region eu-west-1]
    export $(python -m autoheal_ops.render --stage dev --print-env)   # app.py reads the config
    cd dist/dev/project && chalice deploy --stage dev
    python -m autoheal_ops.render --stage dev --destinations   # on-failure queues, API throttling

Chalice's policy files and environment are static JSON, so the committed ones hold CloudFormation
pseudo parameters that only the packaged template resolves. This writes dist/<stage>/project/
(app.py, chalicelib/, requirements.txt and a .chalice/ of that stage alone) with them resolved
for one account and region; the committed files stay as generated. Keep dist/<stage>/project/
.chalice/deployed/ between deploys: it is how Chalice finds what it deployed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from autoheal_ops.stage import (
    ASYNC_FUNCTIONS,
    CHALICE_DIR,
    ROOT,
    Reservation,
    StageNames,
    chalice_config,
    functions,
    reservation,
)

DIST = ROOT / "dist"


def resolve(text: str, account: str, region: str, partition: str = "aws") -> str:
    for name, value in (("AccountId", account), ("Region", region), ("Partition", partition)):
        text = text.replace("${AWS::" + name + "}", value)
    if "${AWS::" in text:
        raise ValueError(f"an unknown pseudo parameter is left in {text[:120]!r}")
    return text


def render(
    stage: str, account: str, region: str, out: Path = DIST, reserved: Reservation | None = None
) -> Path:
    """`reserved`: the stage's own setting unless given (a test's opt-in)."""
    project = out / stage / "project"
    deployed = project / ".chalice" / "deployed"
    keep = deployed.exists()
    project.mkdir(parents=True, exist_ok=True)
    for name in ("app.py", "chalicelib", "requirements.txt"):
        target = project / name
        if target.is_dir():
            shutil.rmtree(target)
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(ROOT / name, target)
    (project / ".chalice").mkdir(parents=True, exist_ok=True)
    config = chalice_config()
    config["stages"] = {stage: config["stages"][stage]}
    for name, figure in (reserved or reservation(stage)).applied(functions()).items():  # opted in only
        config["stages"][stage]["lambda_functions"].setdefault(name, {})["reserved_concurrency"] = figure
    text = resolve(json.dumps(config, indent=2), account, region)
    (project / ".chalice" / "config.json").write_text(text + "\n")
    for settings in config["stages"][stage]["lambda_functions"].values():
        policy = (CHALICE_DIR / settings["iam_policy_file"]).read_text()
        (project / ".chalice" / settings["iam_policy_file"]).write_text(resolve(policy, account, region))
    assert keep == deployed.exists()  # Chalice's record of the deployment survives a re-render
    return project


def set_destinations(stage: str, account: str, region: str, client: Any = None) -> list[str]:
    """Lambda's OnFailure destination for each async function: its queue from the resources stack."""
    if client is None:
        import boto3

        client = boto3.client("lambda", region_name=region)
    names = StageNames(stage)
    done = []
    for function in ASYNC_FUNCTIONS:
        queue = f"arn:aws:sqs:{region}:{account}:{names.failure_queue(function)}"
        client.put_function_event_invoke_config(
            FunctionName=names.function(function),
            MaximumRetryAttempts=2,
            DestinationConfig={"OnFailure": {"Destination": queue}},
        )
        done.append(f"{names.function(function)} -> {queue}")
    return done


def deployed_rest_api(stage: str, out: Path = DIST) -> str | None:
    """The REST API's id in Chalice's record of the deploy (None: no route was deployed)."""
    record = out / stage / "project" / ".chalice" / "deployed" / f"{stage}.json"
    if not record.is_file():
        return None
    resources = json.loads(record.read_text()).get("resources", [])
    return next((r["rest_api_id"] for r in resources if r.get("resource_type") == "rest_api"), None)


def set_throttling(stage: str, rest_api_id: str, region: str, client: Any = None) -> str:
    """The stage throttling the packaged template gives the REST API (package.throttle): Chalice
    has no setting for it. A redeploy keeps it (it is the API stage's, not a deployment's)."""
    from autoheal_ops.package import API_BURST_LIMIT, API_RATE_LIMIT

    if client is None:
        import boto3

        client = boto3.client("apigateway", region_name=region)
    config = chalice_config()
    api_stage = config["stages"][stage].get("api_gateway_stage", config.get("api_gateway_stage", "api"))
    limits = {"rateLimit": API_RATE_LIMIT, "burstLimit": API_BURST_LIMIT}
    operations = [
        {"op": "replace", "path": f"/*/*/throttling/{key}", "value": str(value)}
        for key, value in limits.items()
    ]
    client.update_stage(restApiId=rest_api_id, stageName=api_stage, patchOperations=operations)
    return f"{rest_api_id}/{api_stage}: {API_RATE_LIMIT} requests a second, bursts of {API_BURST_LIMIT}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autoheal_ops.render", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--account", help="default: the account your credentials belong to")
    parser.add_argument("--region", help="default: your configured region")
    parser.add_argument(
        "--destinations",
        action="store_true",
        help="set the on-failure queues and the REST API's throttling instead",
    )
    parser.add_argument(
        "--print-env", action="store_true", help="the stage's environment, for `chalice deploy`"
    )
    args = parser.parse_args(argv)
    import boto3

    session = boto3.session.Session()
    region = args.region or session.region_name
    account = args.account or session.client("sts").get_caller_identity()["Account"]
    if not region:
        raise SystemExit("no region: pass --region or set AWS_REGION")
    if args.print_env:  # app.py reads the config at import: chalice deploy needs the stage's names
        from autoheal_ops.stage import stage_environment

        print(
            " ".join(f"{k}={resolve(v, account, region)}" for k, v in stage_environment(args.stage).items())
        )
    elif args.destinations:
        print("\n".join(set_destinations(args.stage, account, region)))
        api = deployed_rest_api(args.stage)
        print(set_throttling(args.stage, api, region) if api else "no REST API deployed: nothing to throttle")
    else:
        print(render(args.stage, account, region).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
