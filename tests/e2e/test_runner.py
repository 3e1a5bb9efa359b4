"""`make run` end to end: real HTTP against the runner, codes read from its outbox."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.e2e.conftest import ROOT, start_runner, stop_runner
from tests.helpers import wrong_code


def test_sms_generate_outbox_verify(runner):
    reply, code = runner.generate("+12025550123")
    assert reply.json()["destination"] == "+1******0123"
    assert reply.headers["content-type"] == "application/json"
    verified = runner.post("/verify", {"destination": "+12025550123", "code": code})
    assert verified.status_code == 200
    assert verified.json()["verified"] is True


def test_email_generate_outbox_verify(runner):
    _reply, code = runner.generate("lin@example.org", channel="email")
    [message] = [m for m in runner.outbox() if m["destination"] == "lin@example.org"]
    assert message["channel"] == "email"
    assert message["subject"] == "Your OTP Service verification code"
    assert code in message["body"]
    verified = runner.post("/verify", {"destination": "lin@example.org", "code": code})
    assert verified.status_code == 200


def test_outbox_lists_messages_oldest_first_in_the_contract_shape(runner):
    runner.generate("+61491570156")
    runner.generate("+33612345678")
    messages = runner.outbox()
    destinations = [m["destination"] for m in messages]
    assert destinations.index("+61491570156") < destinations.index("+33612345678")
    for message in messages:
        assert {"channel", "destination", "subject", "body", "sent_at"} <= set(message)
        if message["channel"] == "sms":  # added: how a phone is billed for it
            assert message["encoding"] in ("GSM-7", "UCS-2") and message["segments"] >= 1
        assert message["sent_at"].endswith("Z")


def test_a_code_verifies_only_once(runner):
    _, code = runner.generate("+14155552671", purpose="once")
    body = {"destination": "+14155552671", "purpose": "once", "code": code}
    assert runner.post("/verify", body).status_code == 200
    again = runner.post("/verify", body)
    assert again.status_code == 404
    assert again.json() == {
        "error": {
            "code": "not_found",
            "message": "No code is pending for this destination and purpose: "
            "it was used, replaced, canceled or never sent.",
        },
        "verified": False,
    }


def test_the_attempt_limit_holds_over_http(runner):
    _, code = runner.generate("+14155552671", purpose="limit")
    wrong = wrong_code(code)
    remaining = []
    for _ in range(5):
        reply = runner.post("/verify", {"destination": "+14155552671", "purpose": "limit", "code": wrong})
        assert reply.status_code == 403
        remaining.append(reply.json()["error"]["attempts_remaining"])
    assert remaining == [4, 3, 2, 1, 0]
    final = runner.post("/verify", {"destination": "+14155552671", "purpose": "limit", "code": code})
    assert final.status_code == 429
    assert final.json()["error"]["code"] == "too_many_attempts"


def test_curl_style_form_bodies_are_read_as_json(runner):
    reply = runner.post(
        "/generate",
        '{"channel": "sms", "destination": "+919876543210", "purpose": "curl"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code == 201


def test_a_bad_body_is_400(runner):
    reply = runner.post("/generate", "{not json", headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "invalid_request"
    reply = runner.post("/verify", {"destination": "+14155552671", "code": "12"})
    assert reply.status_code == 400
    assert reply.json()["verified"] is False


def test_unknown_routes_are_404_and_wrong_methods_405(runner):
    reply = requests.get(runner.url + "/nowhere", timeout=10)
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"
    reply = requests.get(runner.url + "/generate", timeout=10)
    assert reply.status_code == 405
    assert reply.headers["allow"] == "POST"


def test_every_request_gets_one_access_log_line(runner):
    requests.get(runner.url + "/access-log-probe", timeout=10)
    time.sleep(0.2)
    lines = [line for line in runner.logs().splitlines() if '"/access-log-probe"' in line]
    assert len(lines) == 1
    assert '"status": 404' in lines[0]


def test_delivered_messages_are_shown_on_the_terminal(runner):
    _, code = runner.generate("+12025550123", purpose="terminal")
    time.sleep(0.2)
    assert "SMS to +12025550123" in runner.terminal()
    assert code in runner.terminal()


def test_codes_expire_over_http(tmp_path):
    short = start_runner(tmp_path, OTP_TTL_SECONDS="2")
    try:
        _, code = short.generate("+14155552671")
        time.sleep(2.5)
        reply = short.post("/verify", {"destination": "+14155552671", "code": code})
        assert reply.status_code == 410
        assert reply.json()["error"]["code"] == "expired"
    finally:
        stop_runner(short)


def test_an_invalid_setting_stops_the_runner_with_the_contract_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "local.runner"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "OTP_CODE_LENGTH": "99", "PORT": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "OTP_CODE_LENGTH" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_the_runner_never_reaches_real_aws(runner):
    # The session runner was started with real-looking credentials and endpoints pointing at a dead
    # port; it works only because it replaced all of them with the emulator's.
    assert "moto" in runner.terminal()
    _, code = runner.generate("+14155552671", purpose="isolated")
    assert code


def test_the_api_reference_is_served(runner):
    document = requests.get(runner.url + "/_local/openapi.json", timeout=10)
    assert document.status_code == 200
    assert document.json() == json.loads((ROOT / "openapi.json").read_text())
    page = requests.get(runner.url + "/_local/docs", timeout=10)
    assert page.status_code == 200
    assert "swagger-ui" in page.text and "/_local/openapi.json" in page.text


def test_ctrl_c_stops_the_runner_cleanly(tmp_path):
    interrupted = start_runner(tmp_path)
    # A terminal's Ctrl-C reaches every process in the foreground group, workers included.
    os.killpg(interrupted.process.pid, signal.SIGINT)
    assert interrupted.process.wait(timeout=60) == 0  # a hang, not a busy machine, must fail this
    time.sleep(0.5)
    assert "Stopped." in interrupted.terminal()
    assert "Traceback" not in interrupted.terminal() + interrupted.logs()
    stop_runner(interrupted)  # checks that no worker outlived it


def test_a_runner_whose_start_fails_leaves_no_process_behind(tmp_path, monkeypatch):
    from tests.e2e import conftest

    seen = []

    def never_ready(runner):
        seen.append(runner.process)
        raise AssertionError("simulated: the runner never answered in time")

    monkeypatch.setattr(conftest, "wait_until_ready", never_ready)
    with pytest.raises(AssertionError, match="simulated"):
        conftest.start_runner(tmp_path)
    [process] = seen
    assert process.returncode is not None
    deadline = time.monotonic() + 30
    while conftest._group_alive(process.pid):  # its workers go with it, as a group
        assert time.monotonic() < deadline, "the runner's workers outlived a failed start"
        time.sleep(0.1)
