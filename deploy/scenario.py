"""What the IAM proof asks of each deployed function, through its real handler and environment.

Each function runs in a process of its own (deploy/function_host.py), as in Lambda: its own
environment, clients and role. generate sends by SMS and email and with an Idempotency-Key (the
first request, its replay, and a refused one, whose record is dropped); verify checks a wrong
code, then the right one; the verifications function reads a status and cancels; the pumping
guard gets the table stream's records of those changes, as its mapping filters them, then a
schedule's tick.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.recorder import IamRequest
from deploy.stream_records import SCHEDULED_EVENT

ROOT = Path(__file__).resolve().parent.parent
PHONE = "+14155552671"
IDEMPOTENT_PHONE = "+919876543210"
EMAIL = "someone@example.com"
END_USER_IP = "203.0.113.7"
FUNCTION_TIMEOUT_SECONDS = 120


@dataclass
class DeployedFunction:
    name: str  # as serverless.yml names it: generate
    function_name: str  # the Lambda function's name: otp-emulated-generate
    handler: str
    role_arn: str
    role_logical_id: str
    environment: dict[str, str]


@dataclass
class Exercise:
    requests: list[IamRequest] = field(default_factory=list)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _environment(function: DeployedFunction, endpoint: str, region: str) -> dict[str, str]:
    """What Lambda gives the function: its variables, its region and name; credentials throw-away."""
    kept = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **kept,
        **function.environment,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "emulated",
        "AWS_SECRET_ACCESS_KEY": "emulated",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def run_function(
    function: DeployedFunction, requests: list[dict[str, Any]], endpoint: str, region: str, account: str
) -> tuple[list[dict[str, Any]], list[IamRequest]]:
    from local import stack

    partition_key = stack.table_shape(stack.load()).key_schema[0]["AttributeName"]
    spec = {
        "function": function.name,
        "function_name": function.function_name,
        "handler": function.handler,
        "region": region,
        "account": account,
        "partition_key": partition_key,
        "requests": requests,
    }
    with tempfile.TemporaryDirectory(prefix="otp-iam-proof-") as folder:
        source, target = Path(folder) / "in.json", Path(folder) / "out.json"
        source.write_text(json.dumps(spec))
        finished = subprocess.run(  # noqa: S603 (this interpreter, a fixed module)
            [sys.executable, "-m", "deploy.function_host", str(source), str(target)],
            cwd=ROOT,
            env=_environment(function, endpoint, region),
            capture_output=True,
            text=True,
            timeout=FUNCTION_TIMEOUT_SECONDS,
        )
        if finished.returncode != 0 or not target.exists():
            raise RuntimeError(f"{function.name} failed:\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}")
        result = json.loads(target.read_text())
    return result["responses"], [IamRequest.from_json(r) for r in result["requests"]]


def _generate(destination: str, channel: str, **extra: Any) -> dict[str, Any]:
    return {"method": "POST", "path": "/generate", "body": {"channel": channel, "destination": destination, **extra}}


def _expect(responses: list[dict[str, Any]], statuses: list[int | None], function: str) -> None:
    got = [r["status"] for r in responses]
    if got != statuses:
        raise RuntimeError(f"{function} answered {got}, expected {statuses}: {responses}")


def exercise(
    functions: dict[str, DeployedFunction],
    endpoint: str,
    region: str,
    account: str,
    code_sent_to: Callable[[str], str],
    stream_event: Callable[[], dict[str, Any]] | None = None,
) -> Exercise:
    """``stream_event`` gives the guard's invocation from the stream so far."""
    done = Exercise()

    def run(name: str, requests: list[dict[str, Any]], statuses: list[int | None]) -> list[dict[str, Any]]:
        responses, made = run_function(functions[name], requests, endpoint, region, account)
        _expect(responses, statuses, name)
        done.requests.extend(made)
        done.responses[name] = responses
        return responses

    key, other_key = {"idempotency-key": "emulated-proof-0001"}, {"idempotency-key": "emulated-proof-0002"}
    again = _generate(IDEMPOTENT_PHONE, "sms")
    sms, email, *_ = run(
        "generate",
        [
            _generate(PHONE, "sms", client_ip=END_USER_IP),  # charges the end user's IP counter too
            _generate(EMAIL, "email"),
            {**again, "headers": key},
            {**again, "headers": key},  # the replay: answered from the idempotency record
            {**again, "headers": other_key},  # refused (cooldown): its record is deleted, so it can retry
        ],
        [201, 201, 201, 201, 429],
    )
    code = code_sent_to(PHONE)
    wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
    vid = sms["body"]["verification_id"]
    verify = {"method": "POST", "path": "/verify"}
    run(
        "verify",
        [
            {**verify, "body": {"destination": PHONE, "code": wrong, "verification_id": vid}},
            {**verify, "body": {"destination": PHONE, "code": code, "verification_id": vid}},
        ],
        [403, 200],
    )
    run("verifications", _status_and_cancel(email["body"]["verification_id"]), [200, 200])
    if stream_event is not None and "pumpingGuard" in functions:
        batch = stream_event()
        if not batch["Records"]:
            raise RuntimeError("the stream held no destination record for the guard")
        answers = run("pumpingGuard", [{"event": batch}, {"event": SCHEDULED_EVENT}], [None, None])
        if [a["body"] for a in answers] != [{"batchItemFailures": []}] * 2:
            raise RuntimeError(f"the pumping guard failed records: {answers}")
    return done


def _status_and_cancel(verification_id: str) -> list[dict[str, Any]]:
    params = {"verification_id": verification_id}
    return [
        {
            "method": "GET",
            "path": f"/verifications/{verification_id}",
            "path_parameters": params,
            "route_key": "GET /verifications/{verification_id}",
        },
        {
            "method": "POST",
            "path": f"/verifications/{verification_id}/cancel",
            "path_parameters": params,
            "route_key": "POST /verifications/{verification_id}/cancel",
        },
    ]


def code_in(message: str, length: int) -> str:
    found = re.search(rf"(?<!\d)\d{{{length}}}(?!\d)", message)
    if found is None:
        raise RuntimeError("no code in the message sent")
    return found.group(0)
