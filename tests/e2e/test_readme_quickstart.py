"""The README's quickstart, line by line, against the runner `make run` starts.

Every line of the marked block runs as a person would paste it: each `curl` line by bash,
unchanged but for the runner's port, and each `NAME=...` line set to what the person would paste
there (the verification_id of the last answer, the code from the outbox). The comment after each
request states its answer (`# 200 pending`); the test holds the README to it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, Runner, start_runner, stop_runner

MARKER = "<!-- quickstart:"
README_ADDRESS = "127.0.0.1:3000"
COMMAND_SECONDS = 30  # for a hang, not for speed
# Runner pages the README links that other work adds; whoever merges them removes the line here.
PENDING_ROUTES: set[str] = set()

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="the quickstart's lines need curl")


@dataclass(frozen=True)
class Request:
    """One curl line, and the answer its comment promises."""

    command: str
    status: int
    outcome: str | None  # a status, an error code, or "verified"


@dataclass(frozen=True)
class Assignment:
    name: str


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def quickstart_block() -> list[str]:
    """The lines of the first ```sh block after the marker."""
    text = readme()
    assert MARKER in text, "README.md has lost its quickstart marker"
    found = re.search(r"^```sh\n(.*?)^```", text[text.index(MARKER) :], re.DOTALL | re.MULTILINE)
    assert found, "no ```sh block after the quickstart marker"
    return found.group(1).splitlines()


def parse(line: str) -> Request | Assignment | None:
    """What one line of the block is; None for blank lines and comments. Anything else fails."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    assignment = re.fullmatch(r"([A-Z_]+)=\S*(\s+#.*)?", stripped)
    if assignment:
        return Assignment(assignment.group(1))
    request = re.fullmatch(r"(curl .*?)\s+#\s*(\d{3})(?:\s+(\S+))?", stripped)
    assert request, f"a quickstart line the test cannot run, or a request without its answer: {line!r}"
    return Request(request.group(1), int(request.group(2)), request.group(3))


def outcomes(body: dict) -> set[str]:
    """The words a README comment may use for an answer: its status, its error code, "verified"."""
    found = {str(body["status"])} if "status" in body else set()
    if isinstance(body.get("error"), dict):
        found.add(body["error"]["code"])
    if body.get("verified") is True:
        found.add("verified")
    return found


class Session:
    """The shell a person pastes into: its variables, and what the last answers told them."""

    def __init__(self, runner: Runner, home: Path) -> None:
        self.runner = runner
        self.address = runner.url.removeprefix("http://")
        # curl reads its .curlrc from CURL_HOME: the status line comes from there, so the README's
        # lines run exactly as written.
        (home / ".curlrc").write_text('write-out = "\\n%{http_code}"\n')
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "CURL_HOME": str(home)}
        self.last_generated: dict | None = None
        self.last_destination: str | None = None
        self.answered: list[tuple[str, int]] = []

    def assign(self, name: str) -> None:
        assert self.last_generated is not None, f"{name}= comes before any /generate"
        if name == "VERIFICATION_ID":
            self.env[name] = self.last_generated["verification_id"]
        elif name == "CODE" and self.last_destination is not None:
            self.env[name] = self.runner.code_for(self.last_destination)
        else:
            raise AssertionError(f"the test does not know what a person pastes into {name}")

    def run(self, request: Request) -> dict:
        assert README_ADDRESS in request.command, f"not against make run's address: {request.command}"
        command = request.command.replace(README_ADDRESS, self.address)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )
        assert done.returncode == 0, f"{request.command}\n{done.stderr}"
        text, _, status = done.stdout.rpartition("\n")
        body = json.loads(text)
        assert int(status) == request.status, f"{request.command}\nanswered {status}: {text}"
        if request.outcome is not None:
            assert request.outcome in outcomes(body), f"{request.command}\nexpected {request.outcome}: {text}"
        if "/generate" in request.command:
            self.last_generated = body
            self.last_destination = json.loads(must_find(r"-d '(.*)'", request.command))["destination"]
        self.answered.append((route_of(request.command), int(status)))
        return body


def must_find(pattern: str, text: str) -> str:
    """The first group of ``pattern`` in ``text``; a line the test cannot read fails it."""
    found = re.search(pattern, text)
    assert found, f"no {pattern!r} in {text!r}"
    return found.group(1)


def route_of(command: str) -> str:
    path = must_find(r"127\.0\.0\.1:\d+(/\S*)", command)
    if path.startswith("/verifications/"):
        return "cancel" if path.endswith("/cancel") else "status"
    return path.strip("/")


@pytest.fixture(scope="module")
def make_run_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """A runner with no settings at all, as a newcomer's first `make run` starts it."""
    started = start_runner(tmp_path_factory.mktemp("quickstart-runner"))
    try:
        yield started
    finally:
        stop_runner(started)


def test_every_quickstart_line_answers_as_the_readme_says(make_run_runner: Runner, tmp_path: Path) -> None:
    session = Session(make_run_runner, tmp_path)
    steps = [step for step in map(parse, quickstart_block()) if step is not None]
    for step in steps:
        if isinstance(step, Assignment):
            session.assign(step.name)
        else:
            session.run(step)
    routes = {route for route, _status in session.answered}
    assert routes == {"generate", "verify", "status", "cancel"}, "the quickstart no longer shows every route"
    channels = {message["channel"] for message in make_run_runner.outbox()}
    assert channels == {"sms", "email"}, "the quickstart no longer shows both channels"


def test_the_runner_pages_the_readme_links_answer(make_run_runner: Runner) -> None:
    linked = set(re.findall(rf"<http://{re.escape(README_ADDRESS)}(/_local/[\w./-]*)>", readme()))
    assert {"/_local/outbox", "/_local/messages", "/_local/docs"} <= linked
    answers = {path: make_run_runner.get(path).status_code for path in sorted(linked - PENDING_ROUTES)}
    assert answers == dict.fromkeys(answers, 200)


def test_pending_routes_are_still_pending(make_run_runner: Runner) -> None:
    arrived = sorted(path for path in PENDING_ROUTES if make_run_runner.get(path).status_code == 200)
    assert arrived == [], f"these pages exist now: remove them from PENDING_ROUTES in {Path(__file__).name}"
