"""`make deploy-emulated`: the real `serverless deploy` against an AWS emulator, then the IAM proof.

    python -m deploy.emulated

Starts moto's server on 127.0.0.1 (deploy/emulator.py), runs `npx serverless deploy` unchanged
with AWS_ENDPOINT_URL pointing at it and throw-away credentials, reads the stack's outputs and
each function's configuration back from the emulated Lambda, and runs each function's handler
with that environment and role (deploy/scenario.py), recording its AWS requests for the proof
(deploy/iam_proof.py). Everything it started is stopped, also when a step fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import botocore.session

from deploy import iam_proof, scenario, stream_records
from deploy.emulator import ACCOUNT_ID, Emulator, running
from deploy.recorder import IamRequest
from deploy.scenario import DeployedFunction
from deploy.template_values import StackValues

ROOT = Path(__file__).resolve().parent.parent
STAGE = "emulated"
REGION = "ap-south-1"
EMAIL_SENDER = "otp@example.com"
SES_CONFIGURATION_SET = "otp-emulated-events"
DEPLOY_TIMEOUT_SECONDS = 600


@dataclass
class Deployment:
    template: dict[str, Any]
    values: StackValues
    functions: dict[str, DeployedFunction]
    outputs: dict[str, str]
    skipped_types: list[str]
    requests: list[IamRequest] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # Code entries the proof gave pfx/country because generate did not write them (0 once it does).


def _clients(endpoint: str) -> Any:
    session = botocore.session.get_session()

    def client(service: str) -> Any:
        return session.create_client(
            service,
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="emulated",
            aws_secret_access_key="emulated",  # noqa: S106 (the emulator's throw-away credentials)
        )

    return client


# What `serverless deploy` reads; the dependencies are linked, not copied.
SERVICE_FILES = ("serverless.yml", "package.json", "package-lock.json", "requirements.txt", "deploy", "handlers", "otp")
LINKED = ("node_modules", ".venv")


def stage_service(folder: Path) -> Path:
    """A copy of the service to deploy from: the framework and its Python plugin write into the
    service's own .serverless/, which `make package`, the benchmarks and the template tests use too."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SERVICE_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=ignore)
        else:
            shutil.copy2(source, folder / name)
    for name in LINKED:
        (folder / name).symlink_to((ROOT / name).resolve(), target_is_directory=True)
    return folder


def serverless_deploy(endpoint: str, service: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="emulated",
        AWS_SECRET_ACCESS_KEY="emulated",  # noqa: S106 (the emulator's throw-away credentials)
        AWS_REGION=REGION,
        SLS_TELEMETRY_DISABLED="1",
    )
    command = ["npx", "--no-install", "serverless", "deploy", "--stage", STAGE, "--region", REGION]
    command += [f"--param=emailSender={EMAIL_SENDER}", f"--param=sesConfigurationSet={SES_CONFIGURATION_SET}"]
    finished = subprocess.run(  # noqa: S603 (a fixed command)
        command, cwd=service, env=env, capture_output=True, text=True, timeout=DEPLOY_TIMEOUT_SECONDS
    )
    if finished.returncode != 0:
        raise RuntimeError(f"serverless deploy failed:\n{finished.stdout[-4000:]}\n{finished.stderr[-4000:]}")


def _arns(client: Any, resources: list[dict[str, Any]]) -> dict[str, str]:
    """What Fn::GetAtt [id, Arn] gives each resource, read back from the emulated services."""
    read = {
        "AWS::DynamoDB::Table": lambda name: client("dynamodb").describe_table(TableName=name)["Table"]["TableArn"],
        "AWS::KMS::Key": lambda key: client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"],
        "AWS::IAM::Role": lambda name: client("iam").get_role(RoleName=name)["Role"]["Arn"],
        "AWS::Logs::LogGroup": lambda name: client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"][0][
            "arn"
        ],
        "AWS::SQS::Queue": lambda url: client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"],
    }
    return {
        r["LogicalResourceId"]: read[r["ResourceType"]](r["PhysicalResourceId"])
        for r in resources
        if r["ResourceType"] in read
    }


def _functions(client: Any, template: dict[str, Any], physical: dict[str, str]) -> dict[str, DeployedFunction]:
    from local import stack

    found = {}
    for name, function in stack.load()["functions"].items():
        logical_id = f"{name[0].upper()}{name[1:]}LambdaFunction"
        configuration = client("lambda").get_function_configuration(FunctionName=physical[logical_id])
        role = template["Resources"][logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        found[name] = DeployedFunction(
            name=name,
            function_name=configuration["FunctionName"],
            handler=function["handler"],
            role_arn=configuration["Role"],
            role_logical_id=role,
            environment=configuration.get("Environment", {}).get("Variables", {}),
        )
    return found


def read_back(emulator: Emulator, package_dir: Path) -> Deployment:
    client = _clients(emulator.endpoint)
    template = json.loads((package_dir / "cloudformation-template-update-stack.json").read_text())
    [described] = client("cloudformation").describe_stacks(StackName=f"otp-{STAGE}")["Stacks"]
    resources = client("cloudformation").list_stack_resources(StackName=f"otp-{STAGE}")["StackResourceSummaries"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    table = client("dynamodb").describe_table(TableName=physical["OtpTable"])["Table"]
    values = StackValues(
        region=REGION,
        account=ACCOUNT_ID,
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])},
        physical_ids=physical,
        arns=_arns(client, resources),
        attributes={"OtpTable.StreamArn": table["LatestStreamArn"]},
    )
    return Deployment(
        template=template,
        values=values,
        functions=_functions(client, template, physical),
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        skipped_types=emulator.skipped_types,
    )


def prepare(emulator: Emulator) -> None:
    """What an operator has in place before a deploy: the public layer, a verified sender, a configuration set."""
    from local import stack

    parameter = stack.load()["resources"]["Parameters"]["PowertoolsLayerArn"]["Default"]
    client = _clients(emulator.endpoint)
    emulator.provide_public_layer(client("lambda"), parameter)
    client("sesv2").create_email_identity(EmailIdentity=EMAIL_SENDER)
    client("sesv2").create_configuration_set(ConfigurationSetName=SES_CONFIGURATION_SET)


def sms_code_reader(region: str, length: int) -> Any:
    from moto.sns.models import sns_backends

    def code_sent_to(phone: str) -> str:
        messages = sns_backends[ACCOUNT_ID][region].sms_messages.values()
        sent = [message for number, message in messages if number == phone]
        if not sent:
            raise RuntimeError(f"no SMS was sent to {phone}")
        return scenario.code_in(sent[-1], length)

    return code_sent_to


def guard_stream(emulator: Emulator, deployment: Deployment) -> Any:
    """The pumping guard's invocation from the emulated table's stream, as its mapping delivers it."""
    client = _clients(emulator.endpoint)
    stream_arn = deployment.values.attributes["OtpTable.StreamArn"]
    patterns = stream_records.filter_patterns(deployment.template, "PumpingGuardLambdaFunction")

    def event() -> dict[str, Any]:
        records = stream_records.read_stream(client("dynamodbstreams"), stream_arn)
        return stream_records.lambda_event(records, patterns, stream_arn, REGION)

    return event


def deploy_and_exercise() -> Deployment:
    with running(REGION) as emulator, tempfile.TemporaryDirectory(prefix="otp-deploy-emulated-") as folder:
        started = time.perf_counter()
        prepare(emulator)
        service = stage_service(Path(folder))
        serverless_deploy(emulator.endpoint, service)
        deployed = time.perf_counter()
        # `serverless deploy` leaves the template it deployed here.
        deployment = read_back(emulator, service / ".serverless")
        length = int(deployment.functions["generate"].environment.get("OTP_CODE_LENGTH", "6"))
        done = scenario.exercise(
            deployment.functions,
            emulator.endpoint,
            REGION,
            ACCOUNT_ID,
            sms_code_reader(REGION, length),
            guard_stream(emulator, deployment),
        )
        deployment.requests = done.requests
        deployment.timings = {"serverless deploy": deployed - started, "handlers": time.perf_counter() - deployed}
    return deployment


def describe(deployment: Deployment) -> list[str]:
    lines = [f"stack otp-{STAGE}: outputs"]
    lines += [f"  {key} = {value}" for key, value in sorted(deployment.outputs.items())]
    lines.append("functions, as the emulated Lambda holds them:")
    for function in deployment.functions.values():
        settings = {k: v for k, v in function.environment.items() if k in ("OTP_TABLE_NAME", "OTP_KMS_KEY_ID")}
        lines.append(f"  {function.function_name}: role {function.role_arn}, {settings}")
    lines.append("resource types moto skipped: " + ", ".join(deployment.skipped_types))
    lines.append("AWS requests the handlers made, as IAM authorizes them:")
    lines += [f"  {_one_line(request)}" for request in deployment.requests]
    return lines


def _one_line(request: IamRequest) -> str:
    """Short enough to read: the resource's last part, the item kind rather than its key."""
    keys = [str(key).split("#")[0] + "#..." for key in request.context.get("dynamodb:LeadingKeys", [])]
    conditions = {k: v for k, v in request.context.items() if not k.startswith(("dynamodb:", "kms:EncryptionContext:"))}
    via = f" (in {request.operation})" if request.operation and not request.action.endswith(request.operation) else ""
    resource = request.resource.rsplit(":", 1)[-1]
    return f"{request.function}: {request.action}{via} {resource} {' '.join(keys)} {conditions or ''}".rstrip()


def evidence(deployment: Deployment) -> dict[str, Any]:
    """What the proof read, for re-checking it with another template (tests/infrastructure)."""
    return {
        "template": deployment.template,
        "values": asdict(deployment.values),
        "functions": {name: asdict(function) for name, function in deployment.functions.items()},
        "outputs": deployment.outputs,
        "skipped_types": deployment.skipped_types,
        "requests": [request.to_json() for request in deployment.requests],
    }


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    deployment = deploy_and_exercise()
    print("\n".join(describe(deployment)))
    if "--evidence" in argv:
        Path(argv[argv.index("--evidence") + 1]).write_text(json.dumps(evidence(deployment)))
    proving = time.perf_counter()
    proof = iam_proof.prove(deployment.requests, deployment.functions, deployment.template, deployment.values)
    deployment.timings["proof"] = time.perf_counter() - proving
    timings = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in deployment.timings.items())
    print(f"deploy-emulated took {time.perf_counter() - started:.1f} s ({timings})")
    print("\n".join(iam_proof.report(proof)))
    return 0 if proof.holds else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
