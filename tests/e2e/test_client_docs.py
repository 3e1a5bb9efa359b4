"""Every snippet of docs/client.md, taken from the page and run against `SIGV4=true make run`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Runner, stop_runner
from tests.e2e.test_sigv4_runner import start_signed_runner

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "client.md"
PHONE = "+919876543210"  # the number the curl snippets name


def snippet(name: str) -> str:
    found = re.search(rf"<!-- snippet: {re.escape(name)} -->\n```\w+\n(.*?)```", PAGE.read_text(), re.DOTALL)
    assert found, f"docs/client.md has no snippet {name}"
    return found.group(1)


@pytest.fixture(scope="module")
def signed_runner(runner_logs: Path) -> Iterator[Runner]:
    # No cooldown: the snippets send to the same number one after another.
    started = start_signed_runner(runner_logs, OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0")
    yield started
    stop_runner(started)


@pytest.fixture
def local_aws(signed_runner: Runner) -> dict[str, str]:
    """What the page tells a reader to export, and nothing of the test process's own AWS settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        SERVICE_URL=signed_runner.url, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_REGION="ap-south-1"
    )
    return env


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_every_snippet_on_the_page_is_tested():
    named = set(re.findall(r"<!-- snippet: (\S+) -->", PAGE.read_text()))
    assert named == {"python", "node", "curl-generate", "curl-verify", "curl-status", "curl-cancel"}


def test_the_python_snippet(signed_runner, local_aws, monkeypatch):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in local_aws.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    page: dict = {}
    exec(compile(snippet("python"), "docs/client.md#python", "exec"), page)  # noqa: S102 (the page's own code)
    phone = "+919876543211"
    sent = page["send_code"](phone, "203.0.113.7")
    assert sent["sent"] is True and sent["to"].endswith("11")
    code = signed_runner.code_for(phone)
    assert page["check_code"](phone, wrong(code), sent["verification_id"]) == {
        "verified": False,
        "attempts_remaining": 4,
    }
    assert page["check_code"](phone, code, sent["verification_id"]) == {"verified": True}
    assert page["check_code"](phone, code, sent["verification_id"]) == {"verified": False, "attempts_remaining": 0}


NODE_DRIVER = """
import { sendCode, checkCode, readVerification, cancelVerification } from "./otp.mjs";
const phone = process.argv[2];
const results = {};
const sent = await sendCode(phone, "203.0.113.7");
results.sent = sent;
const outbox = await (await fetch(process.env.SERVICE_URL + "/_local/outbox")).json();
const code = outbox.messages.filter((m) => m.destination === phone).at(-1).body.match(/\\d{6}/)[0];
const wrong = String((Number(code) + 1) % 1000000).padStart(6, "0");
try {
  await checkCode(phone, wrong, sent.verification_id);
} catch (e) {
  results.wrong = { code: e.code, attempts_remaining: e.attempts_remaining };
}
results.verified = await checkCode(phone, code, sent.verification_id);
results.status = (await readVerification(sent.verification_id)).status;
const again = await sendCode(phone, "203.0.113.7");
results.canceled = (await cancelVerification(again.verification_id)).status;
process.env.AWS_SECRET_ACCESS_KEY = "wrong";
const { sendCode: forged } = await import("./otp.mjs?forged");
try { await forged(phone); } catch (e) { results.forged = { status: e.status, code: e.code }; }
console.log(JSON.stringify(results));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_snippet(signed_runner, local_aws, tmp_path):
    (tmp_path / "otp.mjs").write_text(snippet("node"))
    (tmp_path / "driver.mjs").write_text(NODE_DRIVER)
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")  # aws4fetch, pinned in package.json
    ran = subprocess.run(
        ["node", "driver.mjs", "+919876543212"], cwd=tmp_path, env=local_aws, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    results = json.loads(ran.stdout)
    assert results["sent"]["destination"].endswith("12") and results["sent"]["channel"] == "sms"
    assert results["wrong"] == {"code": "invalid_code", "attempts_remaining": 4}
    assert results["verified"]["verified"] is True
    assert results["status"] == "approved" and results["canceled"] == "canceled"
    assert results["forged"] == {"status": 403, "code": "forbidden"}


def curl(name: str, env: dict[str, str], **extra: str) -> dict:
    ran = subprocess.run(
        ["bash", "-c", snippet(name)], env={**env, **extra}, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


def curl_signs() -> bool:
    if shutil.which("curl") is None:
        return False
    return "--aws-sigv4" in subprocess.run(["curl", "--help", "all"], capture_output=True, text=True).stdout


@pytest.mark.skipif(not curl_signs(), reason="this machine's curl has no --aws-sigv4 (curl 7.75 or later has it)")
def test_the_curl_snippets(signed_runner, local_aws):
    sent = curl("curl-generate", local_aws)
    assert sent["destination"].endswith("10") and sent["purpose"] == "login", sent
    code = signed_runner.code_for(PHONE)
    wrong_answer = curl("curl-verify", local_aws, CODE=wrong(code))
    assert wrong_answer["error"]["code"] == "invalid_code"
    assert curl("curl-verify", local_aws, CODE=code)["verified"] is True
    status = curl("curl-status", local_aws, VERIFICATION_ID=sent["verification_id"])
    assert status["status"] == "approved"
    again = curl("curl-generate", local_aws)
    assert curl("curl-cancel", local_aws, VERIFICATION_ID=again["verification_id"])["status"] == "canceled"
    forged = curl("curl-status", {**local_aws, "AWS_SECRET_ACCESS_KEY": "wrong"}, VERIFICATION_ID="abc")
    assert list(forged) == ["message"]
