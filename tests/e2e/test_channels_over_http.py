"""Voice and WhatsApp through `make run`: the adapters of AWS against the local End User Messaging emulation."""

from __future__ import annotations

import re

import pytest

LANDLINE = "+442079460000"
MOBILE = "+919876543210"


def spoken_code(body: str) -> str:
    digits = re.search(r"(\d(?: \d){3,9})", body)
    assert digits, body
    return digits.group(1).replace(" ", "")


def test_a_landline_gets_its_code_by_voice_digit_by_digit_twice(runner):
    reply = runner.post("/generate", {"channel": "voice", "destination": LANDLINE})
    assert reply.status_code == 201, reply.text
    assert reply.json()["channel"] == "voice"
    [call] = [m for m in runner.outbox() if m["destination"] == LANDLINE]
    assert call["channel"] == "voice"
    code = spoken_code(call["body"])
    assert call["body"].count(" ".join(code)) == 2
    verified = runner.post("/verify", {"destination": LANDLINE, "code": code})
    assert verified.status_code == 200
    assert verified.json()["channel"] == "voice"


def test_whatsapp_delivers_the_authentication_template_and_names_the_locale(runner):
    reply = runner.post("/generate", {"channel": "whatsapp", "destination": MOBILE, "locale": "pt-BR"})
    assert reply.status_code == 201, reply.text
    assert reply.json()["locale"] == "pt-BR"
    [message] = [m for m in runner.outbox() if m["destination"] == MOBILE and m["channel"] == "whatsapp"]
    code = re.search(r"\b\d{6}\b", message["body"]).group(0)
    assert runner.post("/verify", {"destination": MOBILE, "code": code}).json()["channel"] == "whatsapp"


def test_a_voice_code_supersedes_the_pending_sms_code(runner):
    number = "+61491570156"
    first, sms_code = runner.generate(number)
    second = runner.post("/generate", {"channel": "voice", "destination": number})
    assert second.status_code == 201, second.text
    old = {"destination": number, "code": sms_code, "verification_id": first.json()["verification_id"]}
    assert runner.post("/verify", old).status_code == 404
    assert runner.get(f"/verifications/{first.json()['verification_id']}").json()["status"] == "superseded"
    call = [m for m in runner.outbox() if m["destination"] == number and m["channel"] == "voice"][-1]
    verified = runner.post("/verify", {"destination": number, "code": spoken_code(call["body"])})
    assert verified.json()["channel"] == "voice"


def test_the_cooldown_counts_across_channels(default_runner):
    number = "+33612345678"
    assert default_runner.post("/generate", {"channel": "sms", "destination": number}).status_code == 201
    refused = default_runner.post("/generate", {"channel": "whatsapp", "destination": number})
    assert refused.status_code == 429
    assert refused.json()["error"]["reason"] == "cooldown"


@pytest.mark.parametrize("channel", ["sms", "voice", "whatsapp"])
def test_premium_rate_is_refused_with_its_reason(runner, channel):
    reply = runner.post("/generate", {"channel": channel, "destination": "+19005550199"})
    assert reply.status_code == 403
    assert reply.json()["error"] == {
        "code": "destination_not_allowed",
        "message": f"Codes by {channel} cannot reach this kind of number.",
        "reason": "number_type",
    }
    assert not [m for m in runner.outbox() if m["destination"] == "+19005550199"]
