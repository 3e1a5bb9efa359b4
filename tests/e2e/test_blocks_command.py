"""`make blocks` and `make unblock` against a deployment: the stack's outputs name the table and the key.

The command hands them to ``python -m otp.aws.pumping``, which the integration tests drive against
moto (tests/integration/test_pumping_stream.py); here, only what it is handed.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import boto3
import pytest

from local import blocks

OUTPUTS = [
    {"OutputKey": "TableName", "OutputValue": "otp-prod"},
    {"OutputKey": "DigestKeyArn", "OutputValue": "arn:aws:kms:eu-west-1:123456789012:key/digest"},
    {"OutputKey": "ApiUrl", "OutputValue": "https://example.execute-api.eu-west-1.amazonaws.com"},
]


class Stacks:
    def __init__(self, outputs: list[dict[str, str]]) -> None:
        self.asked: list[str] = []
        self._outputs = outputs

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.asked.append(StackName)
        return {"Stacks": [{"StackName": StackName, "Outputs": self._outputs}]}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {"stacks": Stacks(OUTPUTS)}

    def client(service: str, region_name: str) -> Stacks:
        assert service == "cloudformation"
        seen["region"] = region_name
        return seen["stacks"]

    def run(command: list[str], env: dict[str, str], check: bool) -> subprocess.CompletedProcess[str]:
        seen["command"], seen["env"] = command, env
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(boto3, "client", client)
    monkeypatch.setattr(blocks.subprocess, "run", run)
    return seen


def test_list_runs_the_operators_module_on_the_stacks_table_and_key(calls):
    assert blocks.main(["list", "--stage", "prod", "--region", "eu-west-1"]) == 0
    assert calls["stacks"].asked == ["otp-prod"] and calls["region"] == "eu-west-1"
    assert calls["command"] == [sys.executable, "-m", "otp.aws.pumping", "list"]
    env = calls["env"]
    assert (env["OTP_TABLE_NAME"], env["OTP_DIGEST_KEY_ID"]) == ("otp-prod", OUTPUTS[1]["OutputValue"])
    assert env["AWS_REGION"] == "eu-west-1"


def test_lift_passes_the_prefix(calls):
    assert blocks.main(["lift", "447911", "--stage", "prod", "--region", "eu-west-1"]) == 0
    assert calls["command"][-2:] == ["lift", "447911"]


def test_a_stack_without_the_outputs_is_refused_before_anything_runs(calls, capsys):
    calls["stacks"] = Stacks(OUTPUTS[2:])
    assert blocks.main(["list", "--stage", "old"]) == 2
    assert "command" not in calls
    assert "DigestKeyArn" in capsys.readouterr().err


def test_lift_needs_its_prefix_and_list_takes_none():
    with pytest.raises(SystemExit):
        blocks.main(["lift"])
    with pytest.raises(SystemExit):
        blocks.main(["list", "447911"])


def test_local_without_a_runner_says_so(monkeypatch, capsys):
    from local import launch

    monkeypatch.setenv("PORT", str(launch.free_port()))
    assert blocks.main(["list", "--local"]) == 2
    assert "no `make run` answers" in capsys.readouterr().err
