"""`make smoke`: its plan, a whole run against `SIGV4=true make run`, and the removal that always runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from deploy import smoke
from tests.e2e.conftest import Runner, stop_runner
from tests.e2e.test_sigv4_runner import start_signed_runner

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def signed_runner(runner_logs: Path) -> Iterator[Runner]:
    # Every run sends to the same two numbers: no cooldown or window between runs.
    started = start_signed_runner(runner_logs, OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0")
    yield started
    stop_runner(started)


def smoke_script(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.smoke", *arguments],
        cwd=ROOT,
        env=env if env is not None else {**os.environ},
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows(output: str) -> dict[str, str]:
    """The final table: step name -> result, for the steps it lists."""
    names = [name for name, _ in smoke.FLOW_STEPS] + [*smoke.AWS_CHECKS, "deploy the stage", "remove the stage"]
    found = {}
    for name in names:
        row = re.search(rf"^{re.escape(name)}\s+(PASS|FAIL|SKIP|NOT RUN)", output, re.MULTILINE)
        if row:
            found[name] = row.group(1)
    return found


def test_dry_run_prints_the_plan_and_touches_nothing(tmp_path):
    # No npx on PATH, no credentials, AWS pointed at a closed port: any deploy or AWS call would fail.
    env = {"PATH": str(tmp_path), "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_CONFIG_FILE": os.devnull}
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    ran = smoke_script("--dry-run", "--stage", "smoke-ci", "--region", "eu-west-3", env=env)
    assert ran.returncode == 0, ran.stderr
    plan = ran.stdout
    assert "refuse if the stack otp-smoke-ci or the table otp-smoke-ci exists" in plan
    assert "npx serverless deploy --stage smoke-ci --region eu-west-3" in plan
    assert "--param=testDestinations=+12025550123=<fixed code>,+61491570156=<fixed code>" in plan
    until = re.search(r"--param=testDestinationsValidUntil=(\S+)", plan).group(1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", until)
    assert "refuse to send unless the generate function lists the test destinations" in plan
    for name in [name for name, _ in smoke.FLOW_STEPS] + list(smoke.AWS_CHECKS):
        assert f"   - {name}\n" in plan
    assert "npx serverless remove --stage smoke-ci --region eu-west-3" in plan
    assert "retained DynamoDB table" in plan and "retained KMS keys" in plan
    assert not re.search(r"=\d{6}\b", plan), "the plan shows a fixed code"


def test_a_run_against_the_signed_runner_passes_and_skips_what_reads_aws(signed_runner):
    ran = smoke_script("--endpoint", signed_runner.url, "--region", "ap-south-1")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    results = rows(ran.stdout)
    assert {results[name] for name, _ in smoke.FLOW_STEPS} == {"PASS"}
    assert {results[name] for name in smoke.AWS_CHECKS} == {"SKIP"}
    assert results["deploy the stage"] == results["remove the stage"] == "PASS"
    assert ran.stdout.rstrip().endswith("failed or not run)") and "smoke: PASS" in ran.stdout


def test_a_run_that_fails_says_so_and_stops_the_flow(signed_runner):
    ran = smoke_script("--endpoint", signed_runner.url, "--region", "us-east-1")  # signatures for another region
    assert ran.returncode == 1
    results = rows(ran.stdout)
    assert results["generate (sms, test destination)"] == "FAIL"
    assert "Credential should be scoped to a valid region" in ran.stdout
    assert {results[name] for name, _ in smoke.FLOW_STEPS[1:-1]} == {"NOT RUN"}
    assert results["remove the stage"] == "PASS" and "smoke: FAIL" in ran.stdout


class RecordingStage(smoke.LocalRunner):
    """A stage whose deploy and removal are recorded, served by the signed runner."""

    def __init__(self, url: str, fail_in: str | None = None) -> None:
        super().__init__(smoke.options_from(["--endpoint", url]))
        self.fail_in = fail_in
        self.removed = 0

    def prepare(self) -> str:
        if self.fail_in == "deploy":
            raise RuntimeError("serverless deploy failed part-way")
        return "deployed"

    def credentials(self) -> Credentials:
        if self.fail_in == "interrupt":
            raise KeyboardInterrupt
        return super().credentials()

    def checks(self, flow):
        return [("table scan: no plaintext code or number", self._plaintext_found)]

    def _plaintext_found(self) -> str:
        raise smoke.StepFailed("a code is in the table")

    def remove(self) -> str:
        self.removed += 1
        return "removed"


@pytest.mark.parametrize("fail_in", ["deploy", "check", "interrupt"])
def test_the_stage_is_removed_also_when_a_step_fails(signed_runner, fail_in):
    stage = RecordingStage(signed_runner.url, fail_in)
    lines: list[str] = []
    if fail_in == "interrupt":
        with pytest.raises(KeyboardInterrupt):
            smoke.run(stage, out=lines.append)
    else:
        assert smoke.run(stage, out=lines.append) == 1
    assert stage.removed == 1
    assert "remove the stage" in lines[-1] and "smoke: FAIL" in lines[-1]
    if fail_in == "check":  # the flow itself passed; the failing check alone fails the run
        assert {rows(lines[-1])[name] for name, _ in smoke.FLOW_STEPS} == {"PASS"}
