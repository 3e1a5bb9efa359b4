"""The real-account half of `make smoke`: deploy a throw-away stage, read AWS directly, remove it all."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from deploy.smoke import AWS_CHECKS, Flow, Options, expect

ROOT = Path(__file__).resolve().parent.parent
SERVERLESS = ("npx", "serverless")
FUNCTIONS = ("generate", "verify", "verifications")
METRICS = ("CodeGenerated", "InvalidCode", "CodeVerified")
# Logs and metrics reach CloudWatch within seconds to a few minutes; wait that long, not forever.
WAIT_SECONDS = 300
POLL_SECONDS = 10


def test_destinations(options: Options) -> str:
    return ",".join(f"{destination}={code}" for destination, code in options.codes.items())


def deploy_command(options: Options, masked: bool = False) -> list[str]:
    entries = test_destinations(options)
    if masked:
        entries = re.sub(r"=\d+", "=<fixed code>", entries)
    return [
        *SERVERLESS,
        "deploy",
        "--stage",
        options.stage,
        "--region",
        options.region,
        f"--param=testDestinations={entries}",
        f"--param=testDestinationsValidUntil={options.valid_until}",
    ]


def remove_commands(options: Options) -> list[list[str]]:
    """What the removal runs; the table and the two keys are retained by the template, so go by hand."""
    stack = f"otp-{options.stage}"
    return [
        [*SERVERLESS, "remove", "--stage", options.stage, "--region", options.region],
        ["delete the retained DynamoDB table of", stack],
        ["schedule the retained KMS keys of", stack, "for deletion (7 days, the shortest wait)"],
    ]


class DeployedStage:
    """A stage this run deploys and removes, in the account of the caller's default credentials."""

    def __init__(self, options: Options, run: Callable[..., Any] = subprocess.run) -> None:
        import boto3

        self.options = options
        self.region = options.region
        self.stack = f"otp-{options.stage}"
        self._session: Any = boto3.Session(region_name=options.region)
        self._run = run
        self._deploying = False
        self.outputs: dict[str, str] = {}
        self.resources: dict[str, str] = {}
        self._logs: list[str] | None = None

    def _aws(self, service: str) -> Any:
        return self._session.client(service, region_name=self.region)

    def prepare(self) -> str:
        caller = self._aws("sts").get_caller_identity()["Arn"]
        expect(not self._stack_exists(), f"the stack {self.stack} exists: smoke deploys and removes its own stage")
        tables = self._aws("dynamodb").list_tables()["TableNames"]
        expect(self.stack not in tables, f"a table {self.stack} exists (retained by an earlier stage?)")
        self._deploying = True  # from here on, the removal cleans up whatever the deploy made
        self._run(deploy_command(self.options), cwd=ROOT, check=True, timeout=1800)
        self._read_stack()
        function = self.resources["GenerateLambdaFunction"]
        variables = self._aws("lambda").get_function_configuration(FunctionName=function)["Environment"]["Variables"]
        listed = variables.get("OTP_TEST_DESTINATIONS", "")
        # Without them the codes would really be sent: stop before any /generate.
        expect(
            listed == test_destinations(self.options),
            "the generate function does not list the test destinations (the template must pass "
            "testDestinations to OTP_TEST_DESTINATIONS): nothing was sent",
        )
        return f"{self.stack} in {self.region} as {caller}"

    def _stack_exists(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            stacks = self._aws("cloudformation").describe_stacks(StackName=self.stack)["Stacks"]
        except ClientError as missing:
            if "does not exist" in str(missing):
                return False
            raise
        return any(stack["StackStatus"] != "DELETE_COMPLETE" for stack in stacks)

    def _read_stack(self) -> None:
        cloudformation = self._aws("cloudformation")
        stack = cloudformation.describe_stacks(StackName=self.stack)["Stacks"][0]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=self.stack)
        self.resources = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for page in pages
            for r in page["StackResourceSummaries"]
            if r.get("PhysicalResourceId")
        }

    def endpoint(self) -> str:
        return self.outputs["ApiUrl"]

    def credentials(self) -> None:
        return None  # botocore's default chain, as the deploy used

    def code_for(self, destination: str) -> str:
        return self.options.codes[destination]

    def checks(self, flow: Flow) -> list[tuple[str, Callable[[], str] | None]]:
        access, metrics, logs, table = AWS_CHECKS
        return [
            (access, lambda: self.access_log(flow)),
            (metrics, lambda: self.metrics(flow)),
            (logs, lambda: self.function_logs(flow)),
            (table, lambda: self.table_scan(flow)),
        ]

    def access_log(self, flow: Flow) -> str:
        group = self.outputs["AccessLogGroup"]
        lines = _wait_for(lambda: list(self._events(group, flow.started)), lambda found: len(found) >= flow.requests)
        expect(len(lines) >= flow.requests, f"{len(lines)} lines for {flow.requests} requests")
        statuses = sorted({json.loads(line).get("status", "?") for line in lines})
        _expect_no_secrets(lines, flow, "access log")
        return f"{len(lines)} lines for {flow.requests} requests, statuses {','.join(statuses)}"

    def function_logs(self, flow: Flow) -> str:
        lines = self._function_lines(flow)
        _expect_no_secrets(lines, flow, "function logs")
        return f"{len(lines)} lines checked"

    def metrics(self, flow: Flow) -> str:
        emitted = {name for line in self._function_lines(flow) for name in _emf_metric_names(line)}
        expect(set(METRICS) <= emitted, f"this stage's functions emitted {sorted(emitted & set(METRICS))}")
        sums = _wait_for(lambda: self._metric_sums(flow), lambda found: all(found.values()))
        expect(all(sums.values()), f"CloudWatch has {sums}")
        # The namespace is shared by every stage of the account: the EMF lines above are this stage's.
        return "emitted by this stage; in CloudWatch " + ", ".join(f"{k}={v:g}" for k, v in sums.items())

    def _function_lines(self, flow: Flow) -> list[str]:
        if self._logs is None:
            groups = [f"/aws/lambda/{self.stack}-{name}" for name in FUNCTIONS]
            self._logs = _wait_for(
                lambda: [line for group in groups for line in self._events(group, flow.started)],
                lambda found: sum('"CodeVerified"' in line for line in found) > 0,
            )
        return self._logs

    def _metric_sums(self, flow: Flow) -> dict[str, float]:
        queries = [
            {
                "Id": f"m{index}",
                "Expression": f"SUM(SEARCH('{{OtpService,channel}} MetricName=\"{name}\"', 'Sum', 60))",
                "Period": 60,
            }
            for index, name in enumerate(METRICS)
        ]
        answer = self._aws("cloudwatch").get_metric_data(
            MetricDataQueries=queries,
            StartTime=flow.started - timedelta(minutes=1),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
        )
        found = {r["Id"]: sum(r.get("Values", [])) for r in answer["MetricDataResults"]}
        return {name: found.get(f"m{index}", 0.0) for index, name in enumerate(METRICS)}

    def _events(self, group: str, since: datetime) -> Iterator[str]:
        from botocore.exceptions import ClientError

        pages = self._aws("logs").get_paginator("filter_log_events")
        try:
            for page in pages.paginate(logGroupName=group, startTime=int(since.timestamp() * 1000) - 60_000):
                yield from (event["message"] for event in page["events"])
        except ClientError as missing:
            if "ResourceNotFoundException" not in str(missing):
                raise

    def table_scan(self, flow: Flow) -> str:
        pages = self._aws("dynamodb").get_paginator("scan").paginate(TableName=self.outputs["TableName"])
        items = [item for page in pages for item in page["Items"]]
        expect(bool(items), "the table is empty")
        values = [value for item in items for name, attribute in item.items() for value in _leaves(name, attribute)]
        for secret in _secrets(flow):
            # Whole tokens: an epoch-seconds number may hold any six digits, a code is never inside one.
            pattern = re.compile(rb"(?<![0-9A-Za-z])" + re.escape(secret.encode()) + rb"(?![0-9A-Za-z])")
            expect(not any(pattern.search(value) for value in values), "a code or a full number is in the table")
        return f"{len(items)} items, {len(values)} values, none holds a code or a number"

    def remove(self) -> str:
        if not self._deploying:
            return "nothing was deployed"
        done = []
        if self._stack_exists():
            if not self.resources:
                self._read_stack()  # the deploy failed part-way: clean up what it made
            self._run(remove_commands(self.options)[0], cwd=ROOT, check=True, timeout=1800)
            done.append("stack removed")
        table = self.resources.get("OtpTable")
        if table:
            self._aws("dynamodb").delete_table(TableName=table)
            done.append(f"table {table} deleted")
        for logical in ("OtpKey", "OtpDigestKey"):
            if logical in self.resources:
                self._aws("kms").schedule_key_deletion(KeyId=self.resources[logical], PendingWindowInDays=7)
                done.append(f"{logical} deleted in 7 days")
        return "; ".join(done) or "the deploy created nothing"


def _wait_for(read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = read()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(POLL_SECONDS)


def _secrets(flow: Flow) -> set[str]:
    found = set(flow.codes.values())
    for destination in flow.codes:
        found |= {destination, destination.lstrip("+")}
    return found


def _expect_no_secrets(lines: list[str], flow: Flow, where: str) -> None:
    for secret in _secrets(flow):
        pattern = rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])"
        expect(not any(re.search(pattern, line) for line in lines), f"a code or a full number is in the {where}")


def _emf_metric_names(line: str) -> list[str]:
    start = line.find("{")
    try:
        record = json.loads(line[start:]) if start >= 0 else {}
    except ValueError:
        return []
    directives = record.get("_aws", {}).get("CloudWatchMetrics", []) if isinstance(record, dict) else []
    return [metric["Name"] for directive in directives for metric in directive.get("Metrics", [])]


def _leaves(name: str, attribute: dict[str, Any]) -> Iterator[bytes]:
    """An attribute's name and every string, number and binary in its value (low-level DynamoDB JSON)."""
    yield name.encode()
    for kind, inner in attribute.items():
        if kind in ("S", "N"):
            yield str(inner).encode()
        elif kind == "B":
            yield bytes(inner)
        elif kind in ("SS", "NS"):
            yield from (str(one).encode() for one in inner)
        elif kind == "BS":
            yield from (bytes(one) for one in inner)
        elif kind == "M":
            for key, one in inner.items():
                yield from _leaves(key, one)
        elif kind == "L":
            for one in inner:
                yield from _leaves("", one)
