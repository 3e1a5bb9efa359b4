"""`make smoke STAGE=... REGION=...`: deploy a throw-away stage, drive it with otp_client, check, remove it.

Run once with your own AWS credentials. The stage gets two test destinations (fixed codes, valid for
one hour, drawn afresh each run), so nothing is sent to anyone; the script refuses to send when the
deployed function does not list them. It drives generate -> status -> wrong code -> verify -> cancel,
checks the answers, that the access log and the metrics received entries, that the functions' logs
hold no code or full number and that the table holds no plaintext, prints a pass/fail table, and
removes the stage (and the table and keys the template retains), also when a step fails.

`--endpoint http://127.0.0.1:PORT` drives `SIGV4=true make run` instead: no deploy, the codes come
from /_local/outbox, and the steps that read AWS directly are listed as skipped.
`--dry-run` prints the plan and touches nothing.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.credentials import Credentials

import otp_client
from otp_client import OtpClient

# Numbers from ranges reserved for fiction (US 555-01xx, Australia 0491 570 156-159): even if the
# test destinations were missing, no real person could receive a code.
DESTINATIONS = ("+12025550123", "+61491570156")
TEST_DESTINATIONS_VALID_FOR = timedelta(hours=1)
CODE_LENGTH = 6


@dataclass
class Options:
    stage: str
    region: str
    endpoint: str | None = None
    dry_run: bool = False
    codes: dict[str, str] = field(default_factory=dict)  # destination -> fixed code of this run
    valid_until: str = ""


@dataclass
class Outcome:
    name: str
    result: str  # PASS, FAIL, SKIP or NOT RUN
    detail: str = ""


class Target(Protocol):
    """Where the smoke test runs: a stage it deploys and removes, or a local runner."""

    def prepare(self) -> str: ...
    def endpoint(self) -> str: ...
    def credentials(self) -> Credentials | None: ...
    def code_for(self, destination: str) -> str: ...
    def checks(self, flow: Flow) -> list[tuple[str, Callable[[], str] | None]]: ...
    def remove(self) -> str: ...


class StepFailed(Exception):
    pass


def expect(condition: bool, detail: str) -> None:
    if not condition:
        raise StepFailed(detail)


FLOW_STEPS = (
    ("generate (sms, test destination)", "generate"),
    ("status: pending", "status_pending"),
    ("verify a wrong code: invalid_code", "wrong_code"),
    ("verify the right code", "verify"),
    ("status: approved", "status_approved"),
    ("cancel an approved one: not_pending", "cancel_approved"),
    ("generate, cancel: canceled; its code: not_found", "cancel_pending"),
    ("an unsigned request: 403 from the authorizer", "unsigned"),
)


class Flow:
    """The calls a backend makes, each a step that checks its answer against the contract."""

    def __init__(self, client: OtpClient, target: Target) -> None:
        self.client = client
        self.target = target
        self.first, self.second = DESTINATIONS
        self.codes: dict[str, str] = {}
        self.requests = 0
        self.started = datetime.now(UTC)
        self.state: dict[str, Any] = {}

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [(name, getattr(self, method)) for name, method in FLOW_STEPS]

    def generate(self) -> str:
        sent = self.client.generate("sms", self.first, purpose="smoke", client_ip="203.0.113.7")
        self.requests += 1
        expect(sent.channel == "sms" and self.first not in sent.destination, f"unexpected answer {sent}")
        self.state["sent"] = sent
        self.codes[self.first] = self.target.code_for(self.first)
        return f"{sent.verification_id[:8]}... to {sent.destination}"

    def status_pending(self) -> str:
        status = self.client.get_verification(self.state["sent"].verification_id)
        self.requests += 1
        expect(status.status == "pending" and status.attempts_remaining > 0, f"got {status.status}")
        self.state["attempts"] = status.attempts_remaining
        return f"{status.attempts_remaining} attempts"

    def wrong_code(self) -> str:
        code = self.codes[self.first]
        try:
            self.client.verify(self.first, f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}", purpose="smoke")
        except otp_client.InvalidCode as wrong:
            expect(wrong.attempts_remaining == self.state["attempts"] - 1, f"{wrong.attempts_remaining} left")
            return f"{wrong.attempts_remaining} attempts left"
        finally:
            self.requests += 1
        raise StepFailed("a wrong code verified")

    def verify(self) -> str:
        sent = self.state["sent"]
        verified = self.client.verify(
            self.first, self.codes[self.first], purpose="smoke", verification_id=sent.verification_id
        )
        self.requests += 1
        expect(verified.verification_id == sent.verification_id, "another verification verified")
        return "verified"

    def status_approved(self) -> str:
        status = self.client.get_verification(self.state["sent"].verification_id)
        self.requests += 1
        expect(status.status == "approved", f"got {status.status}")
        return "approved"

    def cancel_approved(self) -> str:
        try:
            self.client.cancel_verification(self.state["sent"].verification_id)
        except otp_client.NotPending as finished:
            expect(finished.status == "approved", f"status {finished.status}")
            return "409 not_pending, status approved"
        finally:
            self.requests += 1
        raise StepFailed("an approved verification was canceled")

    def cancel_pending(self) -> str:
        sent = self.client.generate("sms", self.second, purpose="smoke")
        self.codes[self.second] = self.target.code_for(self.second)
        canceled = self.client.cancel_verification(sent.verification_id)
        self.requests += 2
        expect(canceled.status == "canceled", f"got {canceled.status}")
        try:
            self.client.verify(self.second, self.codes[self.second], purpose="smoke")
        except otp_client.NotFound:
            return "canceled; its code: 404"
        finally:
            self.requests += 1
        raise StepFailed("a canceled code verified")

    def unsigned(self) -> str:
        request = urllib.request.Request(self.target.endpoint() + "/generate", data=b"{}", method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (http(s) endpoint)
                raise StepFailed(f"answered {reply.status}")
        except urllib.error.HTTPError as refused:
            body = json.loads(refused.read() or b"null")
            expect(refused.code == 403 and isinstance(body, dict) and list(body) == ["message"], f"{refused.code}")
            return f"403 {body['message']!r}"
        finally:
            self.requests += 1


def attempt(name: str, step: Callable[[], str]) -> Outcome:
    try:
        return Outcome(name, "PASS", step())
    except (StepFailed, otp_client.OtpError, otp_client.NoAnswer) as failed:
        return Outcome(name, "FAIL", str(failed))
    except Exception as failed:  # a smoke test reports every failure in its table, then cleans up
        return Outcome(name, "FAIL", f"{type(failed).__name__}: {failed}")


def run(target: Target, out: Callable[[str], None] = print) -> int:
    """Every step in order; the removal always. Returns the exit status: 0 when nothing failed."""
    outcomes: list[Outcome] = []
    try:
        prepared = attempt("deploy the stage", target.prepare)
        outcomes.append(prepared)
        out(_line(prepared))
        if prepared.result == "PASS":
            flow = Flow(_client(target), target)
            outcomes += _run_in_order(flow.steps(), out)
            for name, check in target.checks(flow):
                outcomes.append(attempt(name, check) if check else Outcome(name, "SKIP", "not on a local runner"))
                out(_line(outcomes[-1]))
    except BaseException as stopped:  # Ctrl-C or a crash: say so in the table, remove, then stop
        outcomes.append(Outcome("the run", "FAIL", f"stopped by {type(stopped).__name__}"))
        raise
    finally:
        outcomes.append(attempt("remove the stage", target.remove))
        out(_line(outcomes[-1]))
        out(table(outcomes))
    return 1 if any(o.result in ("FAIL", "NOT RUN") for o in outcomes) else 0


def _run_in_order(steps: list[tuple[str, Callable[[], str]]], out: Callable[[str], None]) -> list[Outcome]:
    """Each step needs the ones before it: after a failure the rest are listed as not run."""
    outcomes: list[Outcome] = []
    for name, step in steps:
        failed = any(o.result == "FAIL" for o in outcomes)
        outcomes.append(Outcome(name, "NOT RUN", "an earlier step failed") if failed else attempt(name, step))
        out(_line(outcomes[-1]))
    return outcomes


def _client(target: Target) -> OtpClient:
    return OtpClient(target.endpoint(), credentials=target.credentials(), region=_region_of(target))


def _region_of(target: Target) -> str | None:
    return getattr(target, "region", None)


def _line(outcome: Outcome) -> str:
    return f"  {outcome.result:<7} {outcome.name}" + (f": {outcome.detail}" if outcome.detail else "")


def table(outcomes: list[Outcome]) -> str:
    width = max(len(o.name) for o in outcomes)
    rows = [f"{'step':<{width}}  result   detail", f"{'-' * width}  -------  ------"]
    rows += [f"{o.name:<{width}}  {o.result:<7}  {o.detail}" for o in outcomes]
    failed = sum(o.result in ("FAIL", "NOT RUN") for o in outcomes)
    rows.append(f"smoke: {'PASS' if not failed else 'FAIL'} ({len(outcomes)} steps, {failed} failed or not run)")
    return "\n".join(rows)


class LocalRunner:
    """`SIGV4=true make run`: the runner's public credentials, and codes read from its outbox."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.region = options.region

    def prepare(self) -> str:
        return f"nothing to deploy: {self.endpoint()}"

    def endpoint(self) -> str:
        return (self.options.endpoint or "").rstrip("/")

    def credentials(self) -> Credentials:
        return Credentials("local", "local")

    def code_for(self, destination: str) -> str:
        # The runner may list test destinations too (then nothing is delivered): fall back to ours.
        with urllib.request.urlopen(self.endpoint() + "/_local/outbox", timeout=10) as reply:  # noqa: S310
            messages = [m for m in json.load(reply)["messages"] if m["destination"] == destination]
        if not messages:
            return self.options.codes[destination]
        digits = [word for word in messages[-1]["body"].replace("#", " ").split() if word.isdigit()]
        return str(next(word for word in digits if len(word) >= 4))

    def checks(self, flow: Flow) -> list[tuple[str, Callable[[], str] | None]]:
        # The runner's emulator is closed to other processes, and its access log is its stdout.
        return [(name, None) for name in AWS_CHECKS]

    def remove(self) -> str:
        return "nothing to remove"


AWS_CHECKS = (
    "access log received the requests",
    "metrics received CodeGenerated, InvalidCode, CodeVerified",
    "function logs hold no code or full number",
    "table scan: no plaintext code or number",
)


def options_from(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="make smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="smoke", help="a stage that does not exist yet (default: smoke)")
    parser.add_argument("--region", default="ap-south-1")
    parser.add_argument("--endpoint", help="drive a local runner (SIGV4=true make run) instead of deploying")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and touch nothing")
    args = parser.parse_args(argv)
    if args.endpoint and not args.endpoint.startswith(("http://", "https://")):
        parser.error("--endpoint must be an http(s) URL")
    codes = {destination: f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}" for destination in DESTINATIONS}
    until = (datetime.now(UTC) + TEST_DESTINATIONS_VALID_FOR).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Options(args.stage, args.region, args.endpoint, args.dry_run, codes, until)


def main(argv: list[str] | None = None) -> int:
    options = options_from(argv)
    if options.dry_run:
        print("\n".join(plan(options)))
        return 0
    if options.endpoint:
        return run(LocalRunner(options))
    from deploy.smoke_aws import DeployedStage  # boto3 only when a real stage is involved

    return run(DeployedStage(options))


def plan(options: Options) -> list[str]:
    from deploy.smoke_aws import deploy_command, remove_commands

    local = options.endpoint is not None
    lines = [f"smoke plan ({'local runner ' + str(options.endpoint) if local else 'stage ' + options.stage})"]
    if local:
        lines.append("1. deploy: nothing (the runner is already serving); credentials local/local")
    else:
        lines.append(f"1. refuse if the stack otp-{options.stage} or the table otp-{options.stage} exists")
        lines.append("2. deploy: " + " ".join(deploy_command(options, masked=True)))
        lines.append("3. refuse to send unless the generate function lists the test destinations")
    lines.append(f"then, with otp_client against {'the runner' if local else 'the stack output ApiUrl'}:")
    lines += [f"   - {name}" for name, _ in FLOW_STEPS]
    lines += [f"   - {name}{' (skipped on a local runner)' if local else ''}" for name in AWS_CHECKS]
    if local:
        lines.append("finally: nothing to remove")
    else:
        lines.append("finally, also when a step failed:")
        lines += [f"   - {' '.join(command)}" for command in remove_commands(options)]
    return lines


if __name__ == "__main__":
    sys.exit(main())
