"""Every AWS call fails in every way that matters, beneath boto3's retry loop.

For each call: throttling, a 5xx and a connection timeout (all retryable), plus an error that is
not. Each case checks the contract's status, that no half-written state is left, and how many
times boto3 tried.
"""

import pytest

from tests.helpers import GOOD_US, wrong_code

RETRIES = 3  # total attempts in the standard retry mode, as configured in otp/aws/clients.py

# (service, operation, how the request is recognized, retryable throttling code)
GENERATE_CALLS = [
    ("kms", "GenerateMac", None, "ThrottlingException"),
    ("dynamodb", "UpdateItem", b"kind = :kind", "ThrottlingException"),
    ("dynamodb", "TransactWriteItems", None, "ThrottlingException"),
    ("kms", "Encrypt", None, "ThrottlingException"),
    ("dynamodb", "UpdateItem", b"replaced.#p", "ProvisionedThroughputExceededException"),
    ("sns", "Publish", None, "Throttling"),
]
GENERATE_IDS = [
    "kms.GenerateMac",
    "dynamodb.UpdateItem(limits)",
    "dynamodb.TransactWriteItems(limits+ip)",
    "kms.Encrypt",
    "dynamodb.UpdateItem(save)",
    "sns.Publish",
]
VERIFY_CALLS = [
    ("kms", "GenerateMac", None, "ThrottlingException"),
    ("dynamodb", "UpdateItem", b"attempts + :one", "ThrottlingException"),
    ("kms", "Decrypt", None, "ThrottlingException"),
    ("dynamodb", "UpdateItem", b"consumed_at", "ThrottlingException"),
]
FAULTS = ["throttled", "server_error", "timeout"]


def inject(faults, service, operation, marker, throttle_code, fault):
    def when(body):
        return marker is None or marker in body

    if fault == "throttled":
        faults.fail(service, operation, 400, throttle_code, when)
    elif fault == "server_error":
        faults.fail(service, operation, 500, "InternalFailure" if service != "sns" else "InternalError", when)
    elif fault == "timeout":
        faults.time_out(service, operation, when)
    else:
        faults.fail(
            service, operation, 400, "AccessDeniedException" if service != "sns" else "AuthorizationError", when
        )


def pending_codes(aws):
    return aws.live_codes()


@pytest.mark.parametrize(("service", "operation", "marker", "throttle"), GENERATE_CALLS, ids=GENERATE_IDS)
@pytest.mark.parametrize("fault", [*FAULTS, "not_retryable"])
def test_generate_faults(api, aws, faults, backoff_sleeps, service, operation, marker, throttle, fault):
    inject(faults, service, operation, marker, throttle, fault)
    # With the end user's address, the limits are one transaction over two items; without, one write.
    client_ip = {"client_ip": "203.0.113.7"} if operation == "TransactWriteItems" else {}
    reply = api.generate({"channel": "sms", "destination": GOOD_US, **client_ip})
    delivery = service == "sns"
    assert reply.status == (502 if delivery else 503), reply.body
    assert reply.error == ("delivery_failed" if delivery else "service_unavailable")
    if not delivery:
        assert "retry-after" in reply.headers
    # Half-written state: no message went out, and nothing verifiable stayed behind.
    assert aws.sms() == []
    assert pending_codes(aws) == []
    expected_tries = 1 if fault == "not_retryable" else RETRIES
    assert faults.failed[f"{service}.{operation}"] == expected_tries
    assert len(backoff_sleeps) == expected_tries - 1


@pytest.mark.parametrize("fault", [*FAULTS, "not_retryable"])
def test_email_delivery_faults(api, aws, faults, backoff_sleeps, fault):
    codes = {
        "throttled": (400, "TooManyRequestsException"),
        "server_error": (500, "InternalFailure"),
        "not_retryable": (400, "MessageRejected"),
    }
    if fault == "timeout":
        faults.time_out("sesv2", "SendEmail")
    else:
        faults.fail("sesv2", "SendEmail", *codes[fault])
    reply = api.generate({"channel": "email", "destination": "ada@example.com"})
    assert reply.status == 502
    assert reply.error == "delivery_failed"
    assert aws.emails() == []
    assert pending_codes(aws) == []
    assert faults.failed["sesv2.SendEmail"] == (1 if fault == "not_retryable" else RETRIES)


def test_a_failed_withdrawal_after_a_failed_delivery_is_still_502_and_logged(
    api, aws, faults, backoff_sleeps, log_output
):
    faults.fail("sns", "Publish", 400, "InvalidParameter")
    faults.fail("dynamodb", "UpdateItem", 500, "InternalServerError", lambda body: b"REMOVE codes.#p" in body)
    reply = api.generate({"channel": "sms", "destination": GOOD_US})
    assert reply.status == 502
    assert faults.failed["dynamodb.UpdateItem"] == RETRIES
    assert "could not withdraw an undelivered code" in log_output.getvalue()
    # The code left behind was never delivered to anyone, and still only verifies within its limits.
    [record] = pending_codes(aws)
    assert int(record["attempts"]["N"]) == 0


@pytest.mark.parametrize(
    ("service", "operation", "marker", "throttle"),
    VERIFY_CALLS,
    ids=["kms.GenerateMac", "dynamodb.UpdateItem(reserve)", "kms.Decrypt", "dynamodb.UpdateItem(consume)"],
)
@pytest.mark.parametrize("fault", [*FAULTS, "not_retryable"])
def test_verify_faults(api, aws, faults, backoff_sleeps, service, operation, marker, throttle, fault):
    _, code = api.issue(GOOD_US)
    api.verify_deps.digests.forget()  # as in a fresh verify container, whose first request derives the key
    inject(faults, service, operation, marker, throttle, fault)
    reply = api.verify({"destination": GOOD_US, "code": code})
    assert reply.status == 503, reply.body
    assert reply.error == "service_unavailable"
    assert reply.body["verified"] is False
    expected_tries = 1 if fault == "not_retryable" else RETRIES
    assert faults.failed[f"{service}.{operation}"] == expected_tries
    [record] = pending_codes(aws)
    assert "consumed_at" not in record  # a failed step never marks the code used
    faults.heal()
    # Once AWS recovers the right code verifies exactly once: a failed consume never double-verifies.
    assert api.verify({"destination": GOOD_US, "code": code}).status == 200
    assert api.verify({"destination": GOOD_US, "code": code}).status == 404


def test_an_attempt_counted_before_a_decrypt_failure_stays_counted(api, aws, faults, backoff_sleeps):
    # Counting first is what makes guessing safe; an outage therefore costs the user one attempt.
    _, code = api.issue(GOOD_US)
    faults.fail("kms", "Decrypt", 500, "KMSInternalException")
    assert api.verify({"destination": GOOD_US, "code": code}).status == 503
    faults.heal()
    assert api.verify({"destination": GOOD_US, "code": wrong_code(code)}).body["error"]["attempts_remaining"] == 3
