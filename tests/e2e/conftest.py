"""End-to-end fixtures: the real `make run` runner in a subprocess, driven over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local import launch

ROOT = launch.ROOT

# A shell with real-looking AWS settings: the runner must ignore all of them.
HOSTILE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAREALLOOKINGKEY00",
    "AWS_SECRET_ACCESS_KEY": "real-looking-secret",
    "AWS_SESSION_TOKEN": "real-looking-token",
    "AWS_PROFILE": "production",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
    "AWS_REGION": "us-east-1",
}


TEST_WORKERS = "2"
free_port = launch.free_port
wait_until_ready = launch.wait_until_ready
kill_group = launch.kill_group
_group_alive = launch.group_alive


class Runner(launch.LaunchedRunner):
    """The launched runner, with the requests the tests make of it."""

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, body: object = None, **kwargs) -> requests.Response:
        if body is not None and not isinstance(body, (str, bytes)):
            kwargs["json"] = body
        elif body is not None:
            kwargs["data"] = body
        return requests.post(self.url + path, timeout=30, **kwargs)

    def code_for(self, destination: str) -> str:
        messages = [m for m in self.outbox() if m["destination"] == destination]
        assert messages, f"nothing delivered to {destination}"
        return re.search(r"(?<!\d)\d{4,10}(?!\d)", messages[-1]["body"]).group(0)

    def generate(self, destination: str, channel: str = "sms", **fields) -> tuple[requests.Response, str]:
        reply = self.post("/generate", {"channel": channel, "destination": destination, **fields})
        assert reply.status_code == 201, reply.text
        return reply, self.code_for(destination)


def start_runner(tmp: Path, **settings: str) -> Runner:
    """A runner started from a shell with real-looking AWS settings, which it must ignore."""
    # Two workers race each other as well as four on this suite's two cores, and start in 2.8 s, not 4.2.
    settings = {"LOCAL_WORKERS": TEST_WORKERS, **settings}
    # wait_until_ready is looked up here, at each call, so that a test can replace it.
    return launch.start(tmp, {**HOSTILE_AWS_ENV, **settings}, Runner, until_ready=lambda r: wait_until_ready(r))


# What the leak audits covered, for the end-of-run summary.
AUDIT = {"runners": 0, "log_lines": 0, "codes": 0, "destinations": 0}


def secrets_in(messages: list[dict]) -> set[str]:
    """Every code and full destination the runner delivered; none may appear in its logs."""
    found = set()
    for message in messages:
        found.add(message["destination"])
        if message["channel"] == "sms":
            found.add(message["destination"].lstrip("+"))  # the number without its +
        found.update(re.findall(r"(?<!\d)\d{4,10}(?!\d)", message["body"]))
    return found


def leaks(logs: str, secrets: set[str]) -> list[str]:
    """Secrets that stand in the logs as whole tokens.

    Digits inside a longer token are not a code: timestamps and hex request ids contain every
    six-digit run sooner or later.
    """
    return sorted(
        secret for secret in secrets if re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", logs)
    )


def stop_runner(runner: Runner) -> None:
    """Stop the runner, check it left nothing running, and audit everything it logged."""
    messages = runner.outbox() if runner.process.poll() is None else []
    launch.stop(runner)
    logs = runner.logs()
    secrets = secrets_in(messages)
    AUDIT["runners"] += 1
    AUDIT["log_lines"] += len(logs.splitlines())
    AUDIT["codes"] += sum(1 for m in messages)
    AUDIT["destinations"] += len({m["destination"] for m in messages})
    assert not leaks(logs, secrets), f"codes or destinations in the logs: {leaks(logs, secrets)}"


@pytest.fixture(scope="session")
def runner_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runner-logs")


@pytest.fixture(scope="session")
def default_runner(runner_logs: Path) -> Iterator[Runner]:
    """A runner with the contract's default settings: every limit on."""
    started = start_runner(runner_logs)
    yield started
    stop_runner(started)


@pytest.fixture(scope="session")
def open_runner(runner_logs: Path) -> Iterator[Runner]:
    """Routes deployed with openEndpoints=true: no authorizer, the connection's address is the user's."""
    started = start_runner(runner_logs, OPEN_ENDPOINTS="true", OTP_MAX_SENDS_PER_IP="3")
    yield started
    stop_runner(started)


@pytest.fixture(scope="session")
def required_id_runner(runner_logs: Path) -> Iterator[Runner]:
    started = start_runner(runner_logs, OTP_REQUIRE_VERIFICATION_ID="true")
    yield started
    stop_runner(started)


@pytest.fixture(scope="session")
def runner(runner_logs: Path) -> Iterator[Runner]:
    """One runner for the session, without the resend cooldown so tests can reuse destinations, and
    without the pumping guard, which the session's many unverified codes to one range would trip
    (tests/e2e/test_pumping_over_http.py runs it on a runner of its own)."""
    started = start_runner(
        runner_logs,
        OTP_RESEND_COOLDOWN_SECONDS="0",
        OTP_MAX_SENDS_PER_WINDOW="0",
        OTP_MAX_SENDS_PER_IP="0",
        OTP_FRAUD_GUARD="false",
    )
    yield started
    stop_runner(started)
    assert started.process.returncode == 0, started.terminal()
