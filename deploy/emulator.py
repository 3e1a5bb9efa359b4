"""An AWS emulator (moto's threaded server) that takes `serverless deploy` of the real template.

Where moto falls short of CloudFormation, the gap is closed here, in the emulator, never in the
template:

- ValidateTemplate: moto runs cfn-lint and turns its first finding into an error, even the
  framework's own W3005 warning (a DependsOn beside a GetAtt). The template is linted by
  tests/infrastructure/test_deploy_template.py::test_cfn_lint_passes; here it is taken as valid.
- AWS::NoValue in a list: CloudFormation drops the element, moto leaves a null in it (a policy's
  statement list then fails moto's policy check). Dropped here, as CloudFormation does.
- The public Powertools layer parameter (/aws/service/powertools/...): moto reserves /aws/service/
  names and knows no layers of AWS's account. A stand-in layer is published into the emulator and
  the public parameter is given its ARN, so the template resolves it as AWS would.
- ExecuteChangeSet (how the framework updates a stack): moto applies the resources but keeps the
  stack's first template, so its outputs stay those of the empty stack. Refreshed here.
- AWS::KMS::Key: moto makes every such key a symmetric encryption key and keeps its KeyPolicy as
  an object (which its KMS API then fails to read). Made here with the template's KeySpec and
  KeyUsage, the policy as the JSON text KMS keeps.
- A DynamoDB stream's event source mapping: moto invokes the function on every table write, in
  the writer's request (and, without Docker, fails that write). Lambda polls the stream instead,
  apart from the writer; the IAM proof reads the stream and invokes the consumer itself
  (deploy/stream_records.py). Moto's push is turned off here.
- Resource types moto does not implement are skipped by moto with a warning; they are collected
  in ``skipped_types`` so that the caller can list them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import warnings
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from moto.awslambda import models as lambda_models
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation import parsing as cloudformation_parsing
from moto.core import DEFAULT_ACCOUNT_ID
from moto.kms import models as kms_models
from moto.server import ThreadedMotoServer
from moto.ssm import models as ssm_models

ACCOUNT_ID = DEFAULT_ACCOUNT_ID
_UNSUPPORTED_PREFIX = "Tried to parse "
_NO_SUPPORT = "No Moto CloudFormation support for "


def _drop_no_value_from_lists() -> Any:
    original = cloudformation_parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, list):
            cleaned = [(item, clean_json(item, resources_map)) for item in resource_json]
            return [value for item, value in cleaned if value is not None or not isinstance(item, dict)]
        return original(resource_json, resources_map)

    cloudformation_parsing.clean_json = clean_json  # the module's recursion goes through this name
    return original


def _refresh_outputs_after_change_sets() -> Any:
    backend = cloudformation_models.CloudFormationBackend
    original = backend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        for stack in self.stacks.values():
            stack._parse_template()
            stack.output_map = stack._create_output_map()

    backend.execute_change_set = execute_change_set  # type: ignore[method-assign]
    return original


def _keys_as_the_template_describes_them() -> Any:
    key_model = kms_models.Key
    original = key_model.__dict__["create_from_cloudformation_json"]

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        policy = properties.get("KeyPolicy")
        key = kms_models.kms_backends[account_id][region_name].create_key(
            policy=json.dumps(policy) if isinstance(policy, dict) else policy,
            key_usage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=properties.get("Description"),
            tags=properties.get("Tags", []),
        )
        key.key_rotation_status = properties.get("EnableKeyRotation", False)
        key.enabled = properties.get("Enabled", True)
        return key

    key_model.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment]
    return original


class _SkippedTypes(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.types: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(_NO_SUPPORT):
            self.types.add(message.removeprefix(_NO_SUPPORT))
        else:
            sys.stderr.write(f"moto: {message}\n")


class Emulator:
    """Start, then read ``endpoint``; stop undoes every patch, also after a failure."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.endpoint = ""
        self._server: ThreadedMotoServer | None = None
        self._skipped = _SkippedTypes()
        self._restore: list[Any] = []

    @property
    def skipped_types(self) -> list[str]:
        return sorted(self._skipped.types)

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        parsing_logger = cloudformation_parsing.logger
        parsing_logger.addHandler(self._skipped)
        self._restore.append(lambda: parsing_logger.removeHandler(self._skipped))
        original_clean = _drop_no_value_from_lists()
        self._restore.append(lambda: setattr(cloudformation_parsing, "clean_json", original_clean))
        backend = cloudformation_models.CloudFormationBackend
        original_execute = _refresh_outputs_after_change_sets()
        self._restore.append(lambda: setattr(backend, "execute_change_set", original_execute))
        original_key = _keys_as_the_template_describes_them()
        self._restore.append(lambda: setattr(kms_models.Key, "create_from_cloudformation_json", original_key))
        original_validate = backend.validate_template
        backend.validate_template = lambda self, template: []  # type: ignore[method-assign]
        self._restore.append(lambda: setattr(backend, "validate_template", original_validate))
        lambda_backend = lambda_models.LambdaBackend
        original_push = lambda_backend.send_dynamodb_items
        lambda_backend.send_dynamodb_items = lambda self, function_arn, items, source: ""  # type: ignore[method-assign]
        self._restore.append(lambda: setattr(lambda_backend, "send_dynamodb_items", original_push))
        warnings.filterwarnings("ignore", message=_UNSUPPORTED_PREFIX + ".*")
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        while self._restore:
            self._restore.pop()()

    def provide_public_layer(self, client: Any, parameter_name: str) -> str:
        """Publishes a stand-in for the AWS-managed layer and answers its public SSM parameter with it."""
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("python/README.txt", "stand-in for the AWS-managed Powertools layer\n")
        layer = client.publish_layer_version(
            LayerName="AWSLambdaPowertoolsPythonV3-python313-arm64",
            Content={"ZipFile": archive.getvalue()},
            CompatibleRuntimes=["python3.13"],
            CompatibleArchitectures=["arm64"],
        )
        arn = str(layer["LayerVersionArn"])
        parameters = ssm_models.ssm_backends[ACCOUNT_ID][self.region]._parameters
        parameters[parameter_name].append(
            ssm_models.Parameter(  # type: ignore[abstract]
                account_id=ACCOUNT_ID,
                name=parameter_name,
                value=arn,
                parameter_type="String",
                description="stand-in: the layer AWS publishes under this public name",
                allowed_pattern=None,
                keyid=None,
                last_modified_date=datetime.now(UTC),
                version=1,
                data_type="text",
            )
        )
        return arn


@contextlib.contextmanager
def running(region: str) -> Iterator[Emulator]:
    emulator = Emulator(region)
    try:
        emulator.start()
        yield emulator
    finally:
        emulator.stop()
