"""End-to-end fixtures: the real `make run` runner in a subprocess, driven over HTTP."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Runner:
    process: subprocess.Popen
    url: str
    stdout_path: Path
    stderr_path: Path

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, body: object = None, **kwargs) -> requests.Response:
        if body is not None and not isinstance(body, (str, bytes)):
            kwargs["json"] = body
        elif body is not None:
            kwargs["data"] = body
        return requests.post(self.url + path, timeout=30, **kwargs)

    def outbox(self) -> list[dict]:
        return requests.get(self.url + "/_local/outbox", timeout=10).json()["messages"]

    def code_for(self, destination: str) -> str:
        messages = [m for m in self.outbox() if m["destination"] == destination]
        assert messages, f"nothing delivered to {destination}"
        return re.search(r"(?<!\d)\d{4,10}(?!\d)", messages[-1]["body"]).group(0)

    def generate(self, destination: str, channel: str = "sms", **fields) -> tuple[requests.Response, str]:
        reply = self.post("/generate", {"channel": channel, "destination": destination, **fields})
        assert reply.status_code == 201, reply.text
        return reply, self.code_for(destination)

    def logs(self) -> str:
        return self.stdout_path.read_text()

    def terminal(self) -> str:
        return self.stderr_path.read_text()


def start_runner(tmp: Path, **settings: str) -> Runner:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTP_", "AWS_"))}
    env.update(HOSTILE_AWS_ENV)
    env.update({"PORT": str(port), "PYTHONUNBUFFERED": "1"})
    env.update(settings)
    stdout_path, stderr_path = tmp / f"runner-{port}.out", tmp / f"runner-{port}.err"
    process = subprocess.Popen(
        [sys.executable, "-m", "local.runner"],
        cwd=ROOT,
        env=env,
        stdout=stdout_path.open("w"),
        stderr=stderr_path.open("w"),
        start_new_session=True,
    )
    runner = Runner(process, f"http://127.0.0.1:{port}", stdout_path, stderr_path)
    try:
        wait_until_ready(runner)
    except BaseException:
        # Whatever went wrong, the runner and its workers must not outlive the failed start.
        kill_group(runner.process)
        raise
    return runner


READY_DEADLINE_SECONDS = 60  # for a hang, not for speed: a loaded machine may take a while


def wait_until_ready(runner: Runner) -> None:
    """The runner answers only once every worker has imported its handlers."""
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    while True:
        try:
            requests.get(runner.url + "/_local/outbox", timeout=5)
            return
        except requests.RequestException:
            if runner.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the runner did not start:\n{runner.terminal()}") from None
            time.sleep(0.1)


def kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


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
    if runner.process.poll() is None:
        runner.process.send_signal(signal.SIGTERM)
        try:
            runner.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(runner.process.pid, signal.SIGKILL)
            runner.process.wait(timeout=5)
    # The workers (and multiprocessing's resource tracker) are the runner's children: none may
    # outlive it. They notice the runner is gone within moments.
    deadline = time.monotonic() + 5
    while _group_alive(runner.process.pid):
        if time.monotonic() > deadline:
            os.killpg(runner.process.pid, signal.SIGKILL)
            raise AssertionError("the runner left processes behind")
        time.sleep(0.1)
    logs = runner.logs()
    secrets = secrets_in(messages)
    AUDIT["runners"] += 1
    AUDIT["log_lines"] += len(logs.splitlines())
    AUDIT["codes"] += sum(1 for m in messages)
    AUDIT["destinations"] += len({m["destination"] for m in messages})
    assert not leaks(logs, secrets), f"codes or destinations in the logs: {leaks(logs, secrets)}"


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


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
    """One runner for the session, without the resend cooldown so tests can reuse destinations."""
    started = start_runner(
        runner_logs, OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", OTP_MAX_SENDS_PER_IP="0"
    )
    yield started
    stop_runner(started)
    assert started.process.returncode == 0, started.terminal()
