"""moto in server mode, in a subprocess, on 127.0.0.1: the sandbox's AWS.

Every boto3 client honours ``AWS_ENDPOINT_URL``, so code under test needs no local
mode: point the environment at the server and it talks to "AWS".

Usage::

    from sandbox.moto_server import MotoServer

    with MotoServer() as aws:
        aws.apply_env()                    # this process's boto3 clients use moto
        subprocess.run(cmd, env={**os.environ, **aws.env()})   # and child processes
        boto3.client("sns").create_topic(Name="autoheal-alarms")

Run directly, ``python -m sandbox.moto_server -H 127.0.0.1 -p 5000`` is
``python -m moto.server`` with the fixes in :func:`patch_moto` applied.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from sandbox import ssm_invocations
from sandbox.ports import LOOPBACK, free_port
from sandbox.processes import http_status, terminate

REGION = "us-east-1"
_START_ATTEMPTS = 3  # a free port can be taken between free_port() and moto's bind
_PROFILE_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


class MotoServerError(RuntimeError):
    """moto did not come up (its log file path is in the message)."""


class MotoServer:
    """A moto server subprocess; a context manager that always stops it.

    ``port=None`` picks a free port. ``log_path`` receives moto's output (a temp
    file by default, so the console stays clean).
    """

    def __init__(
        self,
        port: int | None = None,
        log_path: str | Path | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self._wanted_port = port
        self.port = port or 0
        self._owns_log = log_path is None  # a temp log is removed after a clean stop
        self.log_path = Path(log_path) if log_path else _temp_log("moto-")
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._saved_env: dict[str, str | None] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment a boto3 process needs to use this server as AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            # A session token from the real environment must not pair with these keys.
            "AWS_SESSION_TOKEN": "testing",
        }

    def apply_env(self) -> None:
        """Set :meth:`env` in ``os.environ``; :meth:`stop` puts the old values back."""
        if self._saved_env is None:
            keys = [*self.env(), *_PROFILE_VARS]
            self._saved_env = {key: os.environ.get(key) for key in keys}
        for key in _PROFILE_VARS:  # a named profile that is absent here breaks boto3
            os.environ.pop(key, None)
        os.environ.update(self.env())

    def client(self, service: str) -> Any:
        """A boto3 client of its own on this server (os.environ neither read nor changed)."""
        from chalicelib.aws.clients import new_session

        session = new_session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        return session.client(service, endpoint_url=self.endpoint_url)

    def reset(self) -> None:
        """Forget every resource (moto's own reset endpoint); the server keeps running."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> MotoServer:
        """Spawn moto and return once it answers HTTP; raise MotoServerError if not."""
        if self.is_running():
            return self
        attempts = 1 if self._wanted_port else _START_ATTEMPTS
        for _ in range(attempts):
            self.port = self._wanted_port or free_port()
            self._process = self._spawn()
            if self._wait_ready():
                return self
            self._terminate()
        self._owns_log = False  # keep the evidence
        raise MotoServerError(f"moto server did not start; see {self.log_path}")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (terminate, then kill) and restore the environment."""
        self._terminate(timeout)
        if self._owns_log:
            self.log_path.unlink(missing_ok=True)
        if self._saved_env is not None:
            _restore_env(self._saved_env)
            self._saved_env = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self) -> subprocess.Popen[bytes]:
        # Run this module rather than moto.server, so the child applies patch_moto().
        command = [sys.executable, "-m", "sandbox.moto_server", "-H", LOOPBACK]
        command += ["-p", str(self.port)]
        env = {k: v for k, v in os.environ.items() if k not in _PROFILE_VARS}
        env.update(self.env(), PYTHONPATH=_python_path())
        with open(self.log_path, "ab") as log:
            # The child keeps its own copy of the log descriptor.
            return subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                return False  # exited: most likely the port was taken
            if (http_status(f"{self.endpoint_url}/moto-api/") or 500) < 500:
                return True
            time.sleep(0.1)
        return False

    def _terminate(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        terminate(process, timeout)


def _temp_log(prefix: str) -> Path:
    handle, path = tempfile.mkstemp(prefix=prefix, suffix=".log")
    os.close(handle)
    return Path(path)


def _restore_env(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _python_path() -> str:
    """PYTHONPATH for a child that must import ``sandbox`` from any working dir."""
    root = str(Path(__file__).resolve().parent.parent)
    return os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)


DYNAMODB_WRITE_LOCK = threading.RLock()  # see _patch_dynamodb_atomic_writes


def patch_moto() -> None:
    """Make moto 5.2.5 as strict as AWS where autoheal depends on it (each fix says why)."""
    _patch_send_command_targets()
    _patch_send_command_document()
    _patch_elbv2_actions()
    _patch_elbv2_rule_order()
    _patch_elbv2_target_health()
    _patch_dynamodb_atomic_writes()
    _patch_cloudwatch_dimension_order()
    _patch_cloudwatch_percentiles()
    _patch_cloudformation_document_content()
    _patch_cloudformation_bucket_public_access_block()
    _patch_cloudformation_template_url()
    _patch_cloudformation_sam_transform()
    _patch_account_settings_apis()
    _patch_apigateway_swagger_import()
    _patch_batch_actions_authorised_as_their_single()
    ssm_invocations.patch_moto()


# AWS authorises a batch call with its single call's action: "sns:Publish grants permission to
# both publish and publish batch", and SQS's batch calls take the permission of the call they
# batch. IAM has no sns:PublishBatch or sqs:SendMessageBatch action to grant.
BATCH_ACTIONS = {
    "sns:PublishBatch": "sns:Publish",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


def _patch_batch_actions_authorised_as_their_single() -> None:
    """moto's access control checks a batch call as an action of its own name (sns:PublishBatch),
    so with IAM enforced a role holding sns:Publish, which AWS lets publish a batch, was refused."""
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.__init__

    def init(self: IAMRequestBase, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._action = BATCH_ACTIONS.get(self._action, self._action)

    IAMRequestBase.__init__ = init


def _patch_cloudformation_document_content() -> None:
    """CloudFormation: an AWS::SSM::Document's Content may be an object, as AWS accepts it.

    moto 5.2.5 keeps the object as the document's content, and every later DescribeDocument then
    fails (it hashes the content as text). The sandbox deploys the shipped template, whose
    documents are objects, so the content becomes text in the document's own format first.
    """
    import yaml
    from moto.ssm.models import Document

    original = Document.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any) -> Any:
        properties = cloudformation_json["Properties"]
        content = properties.get("Content")
        if isinstance(content, dict):
            as_yaml = properties.get("DocumentFormat") == "YAML"
            text = yaml.safe_dump(content, sort_keys=False) if as_yaml else json.dumps(content)
            cloudformation_json = {**cloudformation_json, "Properties": {**properties, "Content": text}}
        return original(cls, resource_name, cloudformation_json, *args, **kwargs)

    Document.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]


def _patch_cloudformation_bucket_public_access_block() -> None:
    """CloudFormation: an AWS::S3::Bucket's PublicAccessBlockConfiguration is applied, as AWS does.

    moto 5.2.5 creates the bucket and drops the property, so GetPublicAccessBlock answers
    NoSuchPublicAccessBlockConfiguration and `check --live` (rightly) refuses the private
    diagnostics bucket of a stack deployed exactly as the docs say.
    """
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    original = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(
        cls: Any,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        bucket = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        block = cloudformation_json.get("Properties", {}).get("PublicAccessBlockConfiguration")
        if block:
            backend = s3_backends[account_id][get_partition(region_name)]
            backend.put_public_access_block(bucket.name, dict(block))
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]


def _patch_apigateway_swagger_import() -> None:
    """API Gateway: a REST API defined in Swagger 2.0 is imported, as AWS imports it.

    moto 5.2.5 imports OpenAPI 3 only (ImportRestApi and PutRestApi refuse `swagger: "2.0"`),
    and builds a CloudFormation RestApi from its Name alone, ignoring its Body. Chalice defines
    the app's routes in Swagger 2.0, imported by `chalice deploy` and the Body of the packaged
    template's RestApi (named by its title). Their paths, methods and integrations read as
    OpenAPI 3's do, which moto builds.
    """
    from moto.apigateway.models import APIGatewayBackend, RestAPI, apigateway_backends

    def as_openapi(doc: Any) -> tuple[Any, bool]:
        if not isinstance(doc, dict) or "swagger" not in doc:
            return doc, False
        info = {"description": "", **doc.get("info", {})}
        return {**{k: v for k, v in doc.items() if k != "swagger"}, "openapi": "3.0.1", "info": info}, True

    moto_import, moto_put = APIGatewayBackend.import_rest_api, APIGatewayBackend.put_rest_api
    moto_from_template = RestAPI.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def import_rest_api(self: APIGatewayBackend, api_doc: Any, fail_on_warnings: bool) -> Any:
        doc, swagger = as_openapi(api_doc)  # not validated as OpenAPI 3: it is not
        return moto_import(self, doc, fail_on_warnings and not swagger)

    def put_rest_api(
        self: APIGatewayBackend, function_id: str, api_doc: Any, fail_on_warnings: bool, mode: str = "merge"
    ) -> Any:
        doc, swagger = as_openapi(api_doc)
        return moto_put(self, function_id, doc, fail_on_warnings and not swagger, mode)

    def from_template(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        if not isinstance(properties.get("Body"), dict):
            return moto_from_template(cls, resource_name, cloudformation_json, *args, **kwargs)
        account_id, region_name = (
            args[:2] if len(args) >= 2 else (kwargs["account_id"], kwargs["region_name"])
        )
        api = apigateway_backends[account_id][region_name].import_rest_api(properties["Body"], False)
        api.name = properties.get("Name") or api.name
        return api

    APIGatewayBackend.import_rest_api = import_rest_api  # type: ignore[method-assign]
    APIGatewayBackend.put_rest_api = put_rest_api  # type: ignore[method-assign]
    RestAPI.create_from_cloudformation_json = classmethod(from_template)  # type: ignore[method-assign,assignment]


SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


def _patch_cloudformation_template_url() -> None:
    """CloudFormation: a TemplateURL on this server's own address names a bucket in its path.

    `aws cloudformation deploy --s3-bucket` uploads the template (the packaged stack is over the
    51,200 bytes a TemplateBody may hold) and passes its path-style URL, here
    ``http://127.0.0.1:<port>/<bucket>/<key>``. moto reads the bucket from the path only for
    ``localhost`` and otherwise takes the host's first label (``127``) as the bucket.
    """
    from urllib.parse import urlparse

    from moto.cloudformation import responses, utils

    moto_get = utils.get_stack_from_s3_url

    def from_url(template_url: str, account_id: str, partition: str) -> str:
        if urlparse(template_url).hostname == LOOPBACK:
            template_url = template_url.replace(f"//{LOOPBACK}", "//localhost", 1)
        return moto_get(template_url, account_id=account_id, partition=partition)

    responses.get_stack_from_s3_url = from_url  # imported by name there


def _patch_cloudformation_sam_transform() -> None:
    """CloudFormation: a template with ``Transform: AWS::Serverless-2016-10-31`` is expanded.

    moto 5.2.5 has no SAM transform: it would skip every ``AWS::Serverless::Function`` (no
    functions, schedules or SNS subscriptions) and still report CREATE_COMPLETE. Path 1 of the
    operating guide deploys the Chalice-packaged SAM template with the unchanged
    `aws cloudformation deploy`, so the template is translated here with aws-sam-translator, the
    library AWS's transform runs, before moto parses it (stacks and change sets alike).
    """
    from moto.cloudformation.models import CloudFormationBackend, Stack

    moto_create_stack = CloudFormationBackend.create_stack
    moto_create_change_set = CloudFormationBackend.create_change_set

    def create_stack(
        self: CloudFormationBackend, name: str, template: str, parameters: dict, **kw: Any
    ) -> Any:
        return moto_create_stack(self, name, sam_expanded(self, template, parameters), parameters, **kw)

    def create_change_set(
        self: CloudFormationBackend,
        stack_name: str,
        change_set_name: str,
        template: str,
        parameters: dict,
        *args: Any,
        **kw: Any,
    ) -> Any:
        expanded = sam_expanded(self, template, parameters)
        return moto_create_change_set(self, stack_name, change_set_name, expanded, parameters, *args, **kw)

    def sam_expanded(backend: CloudFormationBackend, template: str, parameters: dict) -> str:
        parsed = Stack.parse_template(template) if template else None
        if not isinstance(parsed, dict) or parsed.get("Transform") != SAM_TRANSFORM:
            return template
        return json.dumps(sam_translate(parsed, parameters, backend.region_name))

    CloudFormationBackend.create_stack = create_stack  # type: ignore[method-assign]
    CloudFormationBackend.create_change_set = create_change_set  # type: ignore[method-assign]


def sam_translate(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    """The plain CloudFormation a SAM template stands for (no managed-policy names to look up:
    Chalice gives each function its own role)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    session = boto3.session.Session(region_name=region)  # the transform's AWS::Region
    translator = Translator(None, Parser(), boto_session=session)
    return translator.translate(template, dict(parameters), get_managed_policy_map=dict)


def _patch_dynamodb_atomic_writes() -> None:
    """DynamoDB: a conditional write is atomic.

    moto's server answers requests on many threads, and its DynamoDB backend checks a write's
    condition and then writes, with no lock between: two concurrent PutItems conditioned on
    `attribute_not_exists(pk)` can both succeed. autoheal's leases, idempotency records and
    incident versions rely on DynamoDB's guarantee that one of them fails, so every write here
    takes one lock, as DynamoDB serialises writes to an item.

    TransactWriteItems is all or nothing in moto by deep-copying every table it writes to before
    it starts (its rollback): a cost that grows with the table, so a run of transactions grows
    with its square (a thousand monitors' vantage votes took moto to 5 GB). Here only the items
    the transaction names are copied, and put back if it fails.
    """
    import functools

    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend

    def serialised(method: Any) -> Any:
        @functools.wraps(method)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with DYNAMODB_WRITE_LOCK:
                return method(*args, **kwargs)

        return locked

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        method = getattr(DynamoDBBackend, name)
        if not getattr(method, "serialised", False):
            if name == "transact_write_items":
                method = _rolled_back_by_item(method)
            wrapped = serialised(method)
            wrapped.serialised = True  # type: ignore[attr-defined]
            setattr(DynamoDBBackend, name, wrapped)
    models.copy = _TablesUncopied  # type: ignore[attr-defined]


class _TablesUncopied:
    """The `copy` module as moto's DynamoDB backend sees it: a table is not copied (its
    transactions are rolled back item by item, `_rolled_back_by_item`), anything else is."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        import copy

        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _rolled_back_by_item(transact: Any) -> Any:
    """moto's TransactWriteItems, with a copy of each item it names taken first and put back
    when it raises (a condition failed, a bad request): all or nothing, at the transaction's
    own size."""
    import copy
    import functools

    @functools.wraps(transact)
    def transact_write_items(
        self: Any, transact_items: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> Any:
        saved = [_item_before(self, op) for item in transact_items for op in item.values()]
        try:
            return transact(self, transact_items, *args, **kwargs)
        except Exception:
            for table, hash_key, range_key, before in reversed([s for s in saved if s is not None]):
                _restore(table, hash_key, range_key, copy.deepcopy(before))
            raise

    return transact_write_items


def _item_before(backend: Any, op: Any) -> Any:
    """(table, hash key, range key, a copy of the item or None) for one write; None when the
    write names no table or key moto would accept (it fails, and writes nothing)."""
    import copy

    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        table = backend.tables[op["TableName"]]
        attrs = op["Item"] if "Item" in op else op["Key"]
        hash_key = DynamoType(attrs[table.hash_key_attr])
        range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    except (KeyError, TypeError, AttributeError):
        return None
    return table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))


def _restore(table: Any, hash_key: Any, range_key: Any, before: Any) -> None:
    """Put an item back as it was (absent when `before` is None), with no stream record: the
    failed transaction wrote nothing."""
    if range_key is None:
        if before is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = before
        return
    if before is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = before


def _patch_send_command_document() -> None:
    """SSM send_command: the document must exist.

    moto records a command for any document name, so a deployment hook or runbook naming a
    document the stack never created would "succeed" locally and fail on AWS with
    InvalidDocument. AWS-owned documents (AWS-*) are taken as existing, as they do in an account.
    """
    from moto.ssm.models import SimpleSystemManagerBackend

    original = SimpleSystemManagerBackend.send_command

    def send_command(self: SimpleSystemManagerBackend, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("document_name") or ""
        if not name.startswith("AWS-"):
            self._get_documents(name)  # raises InvalidDocument, as SSM does
        return original(self, *args, **kwargs)

    SimpleSystemManagerBackend.send_command = send_command  # type: ignore[method-assign]


def _patch_send_command_targets() -> None:
    """SSM send_command: commands reach only their targets.

    moto adds the instances matched by ``Targets`` to ``InstanceIds``, but with no
    ``Targets`` it filters EC2 with no filter: *every* instance in the region lands
    in the command, and the sandbox agent would restart the whole fleet. Here, no
    Targets means none, and the real ``InstanceIds`` target key is understood.
    """
    from moto.ec2.models import ec2_backends
    from moto.ssm.models import Command

    def instance_ids_from_targets(self: Command) -> list[str]:
        if not self.targets:
            return []
        filters = {t["Key"]: t["Values"] for t in self.targets}
        ids = filters.pop("InstanceIds", [])
        if filters:
            backend = ec2_backends[self.account_id][self.backend_region]
            for reservation in backend.all_reservations(filters=filters):
                ids += [instance.id for instance in reservation.instances]
        return list(ids)

    Command._get_instance_ids_from_targets = instance_ids_from_targets  # type: ignore[method-assign]


def _patch_elbv2_actions() -> None:
    """CreateListener, CreateRule, ModifyRule and ModifyListener validate their actions as AWS does.

    moto checks only that forward target groups exist, and ModifyListener checks nothing: weights
    of 5000 or all zero, a 50 KB fixed-response body or a redirect without a status code are
    stored, and a blue/green shift or a maintenance page that AWS would refuse passes every local
    test. See :func:`sandbox.alb_actions.validate_actions` for the rules.
    """
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend, FakeAction

    from sandbox.alb_actions import ActionError, validate_actions

    moto_validate = ELBv2Backend._validate_actions
    moto_modify_listener = ELBv2Backend.modify_listener

    def strict_validate(self: ELBv2Backend, actions: list[FakeAction]) -> None:
        moto_validate(self, actions)
        try:
            validate_actions([a.data for a in actions], set(self.target_groups))
        except ActionError as err:
            raise ELBClientError(err.code, err.message) from None

    def strict_modify_listener(self: ELBv2Backend, arn: str, *args: object, **kwargs: object) -> object:
        actions = kwargs.get("actions", args[4] if len(args) > 4 else None)
        if actions:  # validated before anything on the listener changes
            strict_validate(self, [FakeAction(dict(a)) for a in actions])  # type: ignore[attr-defined]
        return moto_modify_listener(self, arn, *args, **kwargs)

    ELBv2Backend._validate_actions = strict_validate  # type: ignore[method-assign]
    ELBv2Backend.modify_listener = strict_modify_listener  # type: ignore[method-assign]


def _patch_elbv2_rule_order() -> None:
    """DescribeRules returns rules by priority, the default rule last, as AWS does.

    moto returns them in creation order, so a reader that evaluates rules in the order given
    (the front door, the maintenance step restoring rules) would let a later, lower-priority
    rule win.
    """
    from moto.elbv2.models import ELBv2Backend

    moto_describe_rules = ELBv2Backend.describe_rules

    def sorted_rules(self: ELBv2Backend, *args: object, **kwargs: object) -> list:
        rules = moto_describe_rules(self, *args, **kwargs)  # type: ignore[arg-type]
        return sorted(rules, key=rule_order)

    ELBv2Backend.describe_rules = sorted_rules  # type: ignore[method-assign]


def rule_order(rule: object) -> tuple[int, int]:
    priority = getattr(rule, "priority", "default")
    if priority == "default" or getattr(rule, "is_default", False):
        return (1, 0)
    return (0, int(priority))


def _patch_elbv2_target_health() -> None:
    """DescribeTargetHealth answers from a live check of the group's health-check path.

    moto calls every registered, running instance healthy, so no gate that waits for healthy
    targets, and no runbook that acts on a group's unhealthy targets, could ever be exercised.
    An instance tagged with its local address (``sandbox.fleet.ADDRESS_TAG``) is checked for
    real (see :mod:`sandbox.target_health`); other targets keep moto's answer.
    """
    from moto.elbv2.models import ELBv2Backend

    from sandbox.fleet import ADDRESS_TAG
    from sandbox.target_health import HealthCache

    cache = HealthCache()
    moto_describe = ELBv2Backend.describe_target_health

    def live_health(self: ELBv2Backend, target_group_arn: str, targets: list) -> list:
        statuses = moto_describe(self, target_group_arn, targets)
        group = self.target_groups[target_group_arn]
        if not group.health_check_enabled:
            return statuses
        checked = [
            (s, _local_address(self, s.instance_id, ADDRESS_TAG)) for s in statuses if s.status == "healthy"
        ]
        checked = [(s, address) for s, address in checked if address]
        matcher = (getattr(group, "matcher", None) or {}).get("HttpCode", "200")
        path = group.health_check_path or "/"
        timeout = float(group.health_check_timeout_seconds)
        answers = cache.check_all([(address, path, matcher, timeout) for _, address in checked])
        for (status, _), health in zip(checked, answers, strict=True):
            status.status, status.reason, status.description = health.state, health.reason, health.description
        return statuses

    ELBv2Backend.describe_target_health = live_health  # type: ignore[method-assign]


def _local_address(backend: object, instance_id: str, tag: str) -> str | None:
    if not str(instance_id).startswith("i-"):
        return None
    ec2 = backend.ec2_backend  # type: ignore[attr-defined]
    for item in ec2.describe_tags(filters={"resource-id": [instance_id], "key": [tag]}):
        return item.get("value") or item.get("Value")
    return None


def _patch_cloudwatch_dimension_order() -> None:
    """GetMetricData matches a metric's dimensions whatever order they were written in.

    moto sorts both lists with a ``Dimension.__lt__`` that compares one's value with the other's
    name, so ``[TargetGroup, LoadBalancer]`` (how the ALB, and the front door, write them) never
    equals ``[LoadBalancer, TargetGroup]`` (how a gate may ask): the compare gate saw no traffic.
    """
    from moto.cloudwatch.models import Dimension

    def by_name_then_value(self: Dimension, other: Dimension) -> bool:
        return (self.name or "", self.value or "") < (other.name or "", other.value or "")

    Dimension.__lt__ = by_name_then_value  # type: ignore[method-assign]


def _patch_cloudwatch_percentiles() -> None:
    """GetMetricData answers percentile statistics (``p95``, ``p99.9``) from the stored values.

    moto computes Sum, Average, Minimum, Maximum and SampleCount only: any other ``Stat`` comes
    back as a null value, so the compare gate (p95 of ``TargetResponseTime``) could never decide
    locally. The front door sends every response time (``Values``), so the percentile is exact
    here, by nearest rank; a period holding only ``StatisticValues`` has none, and returns no
    datapoint for it, as CloudWatch does.
    """
    from moto.cloudwatch.models import CloudWatchBackend, Statistics

    moto_statistic = Statistics.get_statistics_for_type
    moto_get_metric_data = CloudWatchBackend.get_metric_data

    def with_percentiles(self: Statistics, stat: str) -> Any:
        rank = percentile_of(stat)
        if rank is None:
            return moto_statistic(self, stat)
        return nearest_rank(self.metric_single_values_list, rank)

    def without_nulls(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        results = moto_get_metric_data(self, *args, **kwargs)
        for result in results:
            kept = [
                (t, v) for t, v in zip(result["timestamps"], result["values"], strict=True) if v is not None
            ]
            result["timestamps"], result["values"] = [t for t, _ in kept], [v for _, v in kept]
        return results

    Statistics.get_statistics_for_type = with_percentiles  # type: ignore[method-assign]
    CloudWatchBackend.get_metric_data = without_nulls  # type: ignore[method-assign]


def percentile_of(stat: str) -> float | None:
    """``p95`` -> 95.0; anything else (``Sum``, ``tm99``) -> None."""
    if not stat.startswith("p"):
        return None
    try:
        rank = float(stat[1:])
    except ValueError:
        return None
    return rank if 0 < rank <= 100 else None


def nearest_rank(values: list[float], rank: float) -> float | None:
    """The smallest value at or above `rank` percent of `values` (None for no values).

    >>> nearest_rank([0.1, 0.2, 0.3, 0.4], 95)
    0.4
    """
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, math.ceil(rank / 100 * len(ordered)) - 1)
    return ordered[index]


# --- Fresh-account look-ups (`check --live`, autoheal_ops.account_checks) -------------------------


def _patch_account_settings_apis() -> None:
    """Lambda GetAccountSettings, SNS GetSMSSandboxAccountStatus and the SMS sandbox's numbers.

    moto 5.2.5 implements none of them (the request fails as not implemented), and `check --live`
    asks them of every account: what the concurrency quota leaves unreserved, and whether SMS
    reaches unverified numbers. Here, as in a new account:

    - GetAccountSettings: a quota of MOTO_LAMBDA_CONCURRENCY_QUOTA (moto's own variable for
      PutFunctionConcurrency; default 1000), unreserved = quota minus every function's reservation;
    - the SMS sandbox is on; CreateSMSSandboxPhoneNumber adds a Pending number and
      VerifySMSSandboxPhoneNumber, with any one-time password, makes it Verified (no SMS is sent);
      ListSMSSandboxPhoneNumbers lists them.

    (s3control GetPublicAccessBlock is moto's own.)
    """
    from moto.awslambda import urls as lambda_urls
    from moto.awslambda.responses import LambdaResponse
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sns.responses import SNSResponse

    def get_account_settings(self: LambdaResponse) -> tuple[int, dict, str]:
        import json

        quota = int(os.environ.get("MOTO_LAMBDA_CONCURRENCY_QUOTA", "1000"))
        reserved = sum(int(fn.reserved_concurrency or 0) for fn in self.backend.list_functions())
        limit = {"ConcurrentExecutions": quota, "UnreservedConcurrentExecutions": quota - reserved}
        return 200, {}, json.dumps({"AccountLimit": limit, "AccountUsage": {"FunctionCount": 0}})

    def sandbox_numbers(self: SNSResponse) -> dict[str, str]:
        backend = self.backend
        if not hasattr(backend, "sms_sandbox_numbers"):
            backend.sms_sandbox_numbers = {}  # type: ignore[attr-defined]
        return backend.sms_sandbox_numbers  # type: ignore[attr-defined,no-any-return]

    def get_sms_sandbox_account_status(self: SNSResponse) -> ActionResult:
        return ActionResult({"IsInSandbox": True})

    def create_sms_sandbox_phone_number(self: SNSResponse) -> EmptyResult:
        sandbox_numbers(self).setdefault(self._get_param("PhoneNumber"), "Pending")
        return EmptyResult()

    def verify_sms_sandbox_phone_number(self: SNSResponse) -> EmptyResult:
        sandbox_numbers(self)[self._get_param("PhoneNumber")] = "Verified"
        return EmptyResult()

    def list_sms_sandbox_phone_numbers(self: SNSResponse) -> ActionResult:
        numbers = [{"PhoneNumber": n, "Status": s} for n, s in sandbox_numbers(self).items()]
        return ActionResult({"PhoneNumbers": numbers})

    lambda_urls.url_paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = LambdaResponse.dispatch
    LambdaResponse.get_account_settings = get_account_settings  # type: ignore[attr-defined]
    SNSResponse.get_sms_sandbox_account_status = get_sms_sandbox_account_status  # type: ignore[attr-defined]
    SNSResponse.create_sms_sandbox_phone_number = create_sms_sandbox_phone_number  # type: ignore[attr-defined]
    SNSResponse.verify_sms_sandbox_phone_number = verify_sms_sandbox_phone_number  # type: ignore[attr-defined]
    SNSResponse.list_sms_sandbox_phone_numbers = list_sms_sandbox_phone_numbers  # type: ignore[attr-defined]


def default_amis_only() -> None:
    """Load moto's 44 default AMIs and skip its per-region lists of the latest ones.

    moto builds each region's EC2 backend again at every reset, and parsing those lists was a
    sixth of the server's CPU in a test run; the sandbox's instances use a default AMI. moto's own
    MOTO_AMIS_PATH does it: the file is read once, when moto's AMI module is imported here, and
    the variable alone then keeps the lists out. Call before anything imports moto.ec2."""
    from moto.utilities.utils import load_resource

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as amis:
        json.dump(load_resource("ec2/resources/amis.json"), amis)
    os.environ["MOTO_AMIS_PATH"] = amis.name
    try:
        import moto.ec2.models.amis  # noqa: F401 - reads the file now
    finally:
        os.unlink(amis.name)


def one_sns_signing_key() -> None:
    """moto makes a 2048-bit RSA key for every subscription that gets a message, to sign it;
    one key for the server signs as well (the sandbox checks no signature's key identity)."""
    import functools

    from cryptography.hazmat.primitives.asymmetric import rsa
    from moto.sns.models import Subscription

    key = functools.cache(lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    Subscription.private_key = lambda self: key()  # type: ignore[method-assign]


def exit_at_once(signum: int, frame: object) -> None:
    """SIGTERM and SIGINT end the server now. moto's own handler raised SystemExit, and the
    interpreter's exit then collected every object of moto's heap: 0.6 s, 2.5 s and more on a
    loaded machine, at each world's stop, a moto fixture's, or a SIGTERM to `python -m sandbox`.
    Its state lives in memory and dies with it, so nothing is lost; only its log is flushed."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # e.g. a reentrant flush, the signal mid-write
            stream.flush()
    os._exit(0)


if __name__ == "__main__":
    import moto.server

    default_amis_only()
    one_sns_signing_key()
    patch_moto()
    moto.server.signal_handler = exit_at_once  # what moto's main installs for SIGTERM and SIGINT
    moto.server.main(sys.argv[1:])
