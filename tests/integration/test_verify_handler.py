"""POST /verify through the real lambda_handler, against the emulator."""

import json
import threading

import pytest

from tests.helpers import GOOD_IN, GOOD_US, wrong_code


def verify(api, code, destination=GOOD_US, **fields):
    return api.verify({"destination": destination, "code": code, **fields})


def test_the_right_code_verifies_once(api):
    issued, code = api.issue(GOOD_US)
    reply = verify(api, code, destination="+1 415-555-2671")
    assert reply.status == 200
    assert reply.body == {
        "verified": True,
        "verification_id": issued.body["verification_id"],
        "channel": "sms",
        "destination": "+1******2671",
        "purpose": "default",
    }
    again = verify(api, code)
    assert again.status == 404
    assert again.error == "not_found"
    assert again.body["verified"] is False


def test_email_codes_verify_with_the_address_in_any_domain_case(api):
    _, code = api.issue("ada@example.com", channel="email")
    reply = verify(api, f"  {code} ", destination="ada@EXAMPLE.com")
    assert reply.status == 200
    assert reply.body["channel"] == "email"
    assert reply.body["destination"] == "a***@example.com"


def test_wrong_codes_count_down_then_even_the_right_code_is_429(api):
    _, code = api.issue(GOOD_US)
    remaining = []
    for _ in range(5):
        reply = verify(api, wrong_code(code))
        assert reply.status == 403
        assert reply.error == "invalid_code"
        assert reply.body["verified"] is False
        remaining.append(reply.body["error"]["attempts_remaining"])
    assert remaining == [4, 3, 2, 1, 0]
    reply = verify(api, code)
    assert reply.status == 429
    assert reply.error == "too_many_attempts"
    assert reply.body["verified"] is False


@pytest.mark.parametrize("code", ["12345", "1234567", "12a456", "", "   ", "١٢٣٤٥٦", "12 456"])
def test_malformed_codes_are_400_and_cost_no_attempt(api, code):
    _, real = api.issue(GOOD_US)
    reply = verify(api, code)
    assert reply.status == 400
    assert reply.error == "invalid_request"
    assert reply.body["verified"] is False
    assert verify(api, wrong_code(real)).body["error"]["attempts_remaining"] == 4


@pytest.mark.parametrize(
    "body",
    [
        {"destination": GOOD_US},
        {"code": "123456"},
        {"destination": GOOD_US, "code": 123456},
        {"destination": GOOD_US, "code": "123456", "extra": True},
        {"destination": GOOD_US, "code": "123456", "purpose": "UPPER"},
        {"destination": GOOD_US, "code": "123456", "verification_id": "has spaces"},
        {"destination": "12345", "code": "123456"},
        {"destination": "bad@", "code": "123456"},
    ],
)
def test_bad_verify_requests_are_400(api, body):
    reply = api.verify(body)
    assert reply.status == 400
    assert reply.error == "invalid_request"
    assert reply.body["verified"] is False


def test_nothing_pending_is_404(api):
    reply = verify(api, "123456")
    assert reply.status == 404
    assert reply.body["verified"] is False


def test_an_oversized_verify_body_is_413(api):
    reply = api.verify(json.dumps({"destination": GOOD_US, "code": "1" * 5000}))
    assert reply.status == 413
    assert reply.body == {
        "error": {"code": "payload_too_large", "message": "The request body is larger than 4 KiB."},
        "verified": False,
    }


def test_expired_codes_are_410_even_before_ttl_cleanup(api):
    _, code = api.issue(GOOD_US)
    api.clock.advance(299)
    assert verify(api, wrong_code(code)).status == 403
    api.clock.advance(1)
    reply = verify(api, code)
    assert reply.status == 410
    assert reply.error == "expired"


def test_a_new_code_supersedes_the_pending_one(make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0")
    first, old_code = api.issue(GOOD_US)
    _, new_code = api.issue(GOOD_US)
    if old_code != new_code:  # equal one time in a million; then only the id check below applies
        assert verify(api, old_code).status == 403
    assert verify(api, old_code, verification_id=first.body["verification_id"]).status == 404
    assert verify(api, new_code).status == 200


def test_codes_are_bound_to_their_purpose(make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0")
    _, login_code = api.issue(GOOD_US, purpose="login")
    assert verify(api, login_code, purpose="password-reset").status == 404
    assert verify(api, login_code).status == 404  # "default" is a purpose too
    assert verify(api, login_code, purpose="login").status == 200


def test_a_verification_id_must_name_the_pending_code(api):
    issued, code = api.issue(GOOD_US)
    assert verify(api, code, verification_id="vrf_" + "0" * 32).status == 404
    assert verify(api, code, verification_id=issued.body["verification_id"]).status == 200


def test_codes_follow_the_configured_length(make_api):
    api = make_api(OTP_CODE_LENGTH="8")
    _, code = api.issue(GOOD_US)
    assert len(code) == 8
    assert verify(api, code[:6]).status == 400
    assert verify(api, code).status == 200


def test_a_ciphertext_copied_into_another_record_does_not_verify(make_api, aws):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0")
    _, victim_code = api.issue(GOOD_US)
    api.issue(GOOD_IN)
    dynamodb = aws.client("dynamodb")
    records = aws.destination_items()
    victim, attacker = records["+1******2671"], records["+91******3210"]
    # Someone with write access to the table moves the victim's ciphertext into their own record.
    dynamodb.update_item(
        TableName="otp_main",
        Key={"id": attacker["id"]},
        UpdateExpression="SET ciphers.#p = :c",
        ExpressionAttributeNames={"#p": "default"},
        ExpressionAttributeValues={":c": victim["ciphers"]["M"]["default"]},
    )
    reply = verify(api, victim_code, destination=GOOD_IN)
    assert reply.status == 403
    assert reply.error == "invalid_code"


def test_kms_failure_on_decrypt_is_503(api, faults, backoff_sleeps):
    _, code = api.issue(GOOD_US)
    faults.fail("kms", "Decrypt", 400, "KMSInvalidStateException")
    reply = verify(api, code)
    assert reply.status == 503
    assert reply.error == "service_unavailable"
    assert reply.body["verified"] is False
    assert "retry-after" in reply.headers


def test_dynamodb_throttling_on_reserve_is_503_after_retries(api, faults, backoff_sleeps):
    _, code = api.issue(GOOD_US)
    faults.fail("dynamodb", "UpdateItem", 400, "ThrottlingException")
    reply = verify(api, code)
    assert reply.status == 503
    assert faults.attempts["dynamodb.UpdateItem"] == 3
    faults.heal()
    assert verify(api, code).status == 200


def test_verify_never_creates_delivery_clients(api):
    from otp.aws import clients

    _, code = api.issue(GOOD_US)
    clients.reset_clients()
    api.verify_deps.digests.forget()
    assert verify(api, code).status == 200
    assert sorted(clients.created_clients()) == ["dynamodb", "kms"]
    assert not hasattr(api.verify_deps, "sender")


def test_twenty_concurrent_right_codes_verify_exactly_once(api):
    _, code = api.issue(GOOD_US)
    barrier = threading.Barrier(20)
    statuses = []

    def attempt():
        barrier.wait()
        statuses.append(verify(api, code).status)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 404, 429}


def test_concurrent_wrong_guesses_never_exceed_the_attempt_limit(api):
    _, code = api.issue(GOOD_US)
    barrier = threading.Barrier(30)
    statuses = []

    def guess(n):
        barrier.wait()
        statuses.append(verify(api, f"{n:06d}" if f"{n:06d}" != code else wrong_code(code)).status)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(403) == 5
    assert statuses.count(429) == 25
    assert verify(api, code).status == 429
