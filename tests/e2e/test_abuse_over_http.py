"""The send limits and Idempotency-Key through the runner, with the contract's default settings."""


def test_a_second_send_inside_the_cooldown_is_429_with_retry_after(default_runner):
    first = default_runner.post("/generate", {"channel": "sms", "destination": "+14155552671"})
    assert first.status_code == 201
    assert first.json()["resend_after"] == 30
    second = default_runner.post("/generate", {"channel": "sms", "destination": "+14155552671", "purpose": "x"})
    assert second.status_code == 429
    retry_after = second.json()["error"]["retry_after"]
    assert 1 <= retry_after <= 30
    assert second.headers["retry-after"] == str(retry_after)


def test_an_idempotent_retry_replays_without_sending(default_runner):
    body = {"channel": "sms", "destination": "+919876543210"}
    headers = {"Idempotency-Key": "signup-7f3a"}
    first = default_runner.post("/generate", body, headers=headers)
    again = default_runner.post("/generate", body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len([m for m in default_runner.outbox() if m["destination"] == "+919876543210"]) == 1
    conflict = default_runner.post("/generate", {**body, "purpose": "other"}, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"


def test_premium_and_toll_free_numbers_are_refused(default_runner):
    # libphonenumber classes these as TOLL_FREE (US) and PREMIUM_RATE (GB).
    for number in ("+18002530000", "+449098790879"):
        reply = default_runner.post("/generate", {"channel": "sms", "destination": number})
        assert reply.status_code == 403, reply.text
        assert reply.json()["error"]["code"] == "destination_not_allowed"
    assert [m for m in default_runner.outbox() if m["destination"] in ("+18002530000", "+449098790879")] == []
