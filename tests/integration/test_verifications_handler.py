"""GET /verifications/{id} and POST /verifications/{id}/cancel through the real handler."""

import json
import threading

import pytest

from tests.helpers import GOOD_IN, GOOD_US, wrong_code


@pytest.fixture
def lifecycle(make_api):
    def build(**settings):
        return make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", **settings)

    return build


def started(api, destination=GOOD_US, **fields):
    reply, code = api.issue(destination, **fields)
    return reply.body["verification_id"], code


def test_a_pending_verification_reads_back_without_costing_an_attempt(lifecycle):
    api = lifecycle()
    vid, code = started(api)
    for _ in range(3):
        reply = api.status(vid)
        assert reply.status == 200
    body = reply.body
    assert body["status"] == "pending"
    assert body["attempts_remaining"] == 5
    assert body["verification_id"] == vid
    assert (body["channel"], body["destination"], body["purpose"]) == ("sms", "+1******2671", "default")
    assert body["created_at"].endswith("Z")
    assert body["expires_at"].endswith("Z")
    assert body["resend_available_at"] == body["created_at"]  # no cooldown configured here
    assert set(body) == {
        "verification_id",
        "status",
        "channel",
        "destination",
        "purpose",
        "attempts_remaining",
        "created_at",
        "expires_at",
        "resend_available_at",
    }
    assert api.verify({"destination": GOOD_US, "code": wrong_code(code)}).body["error"]["attempts_remaining"] == 4


def test_every_status_transition(lifecycle):
    api = lifecycle()
    # approved
    vid, code = started(api, purpose="a")
    assert api.verify({"destination": GOOD_US, "purpose": "a", "code": code}).status == 200
    assert api.status(vid).body["status"] == "approved"
    # max_attempts_reached
    vid, code = started(api, purpose="b")
    for _ in range(5):
        api.verify({"destination": GOOD_US, "purpose": "b", "code": wrong_code(code)})
    assert (api.status(vid).body["status"], api.status(vid).body["attempts_remaining"]) == ("max_attempts_reached", 0)
    # superseded
    old, _ = started(api, purpose="c")
    new, _ = started(api, purpose="c")
    assert api.status(old).body["status"] == "superseded"
    assert api.status(new).body["status"] == "pending"
    # canceled
    vid, _ = started(api, purpose="d")
    assert api.cancel(vid).body["status"] == "canceled"
    assert api.status(vid).body["status"] == "canceled"
    # expired, through the clock
    vid, code = started(api, purpose="e")
    api.verify({"destination": GOOD_US, "purpose": "e", "code": wrong_code(code)})
    api.clock.advance(300)
    body = api.status(vid).body
    assert (body["status"], body["attempts_remaining"]) == ("expired", 4)


def test_cancel_stops_the_code_at_once_and_is_idempotent(lifecycle):
    api = lifecycle()
    vid, code = started(api)
    first = api.cancel(vid)
    assert first.status == 200
    assert first.body["status"] == "canceled"
    again = api.cancel(vid)
    assert again.status == 200
    assert again.body == first.body
    reply = api.verify({"destination": GOOD_US, "code": code})
    assert reply.status == 404
    assert reply.body["verified"] is False


@pytest.mark.parametrize("ending", ["approved", "expired", "max_attempts_reached", "superseded"])
def test_only_a_pending_verification_can_be_canceled(lifecycle, ending):
    api = lifecycle()
    vid, code = started(api)
    if ending == "approved":
        api.verify({"destination": GOOD_US, "code": code})
    elif ending == "expired":
        api.clock.advance(301)
    elif ending == "max_attempts_reached":
        for _ in range(5):
            api.verify({"destination": GOOD_US, "code": wrong_code(code)})
    else:
        started(api)
    reply = api.cancel(vid)
    assert reply.status == 409
    assert reply.error == "not_pending"
    assert reply.body["error"]["status"] == ending


def test_unknown_ids_are_404_and_malformed_ids_400(lifecycle):
    api = lifecycle()
    vid, _ = started(api)
    forged = vid[: -len("default")] + "login"  # the same record, a purpose it never had
    other = vid.replace(vid[4:10], "AAAAAA")  # a record that does not exist
    for unknown in (forged, other):
        assert api.status(unknown).status == 404
        assert api.cancel(unknown).status == 404
    for malformed in ("x", "vrf_", "vrf_short_default", "a" * 90, "vrf_" + "A" * 36 + "_UPPER"):
        reply = api.status(malformed)
        assert reply.status == 400
        assert reply.body["error"]["details"][0]["field"] == "verification_id"
        assert api.cancel(malformed).status == 400


def test_cancel_takes_no_body_or_an_empty_object(lifecycle):
    api = lifecycle()
    vid, _ = started(api)
    assert api.cancel(vid, body='{"reason": "x"}').status == 400
    assert api.cancel(vid, body="[]").status == 400
    assert api.cancel(vid, body="{}").status == 200


def race(api, purpose):
    """A right code and a cancel for the same verification, released at the same moment."""
    vid, code = started(api, purpose=purpose)
    barrier = threading.Barrier(2)
    results = {}

    def run(name, call):
        barrier.wait()
        results[name] = call()

    threads = [
        threading.Thread(
            target=run, args=("verify", lambda: api.verify({"destination": GOOD_US, "purpose": purpose, "code": code}))
        ),
        threading.Thread(target=run, args=("cancel", lambda: api.cancel(vid))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results["verify"].status, results["cancel"].status


def test_a_cancel_racing_a_right_code_has_exactly_one_winner(lifecycle):
    api = lifecycle()
    for round_ in range(6):
        assert race(api, f"race{round_}") in ((200, 409), (404, 200))


def spend_all_but_one(api, code, purpose="default"):
    for _ in range(4):
        assert api.verify({"destination": GOOD_US, "purpose": purpose, "code": wrong_code(code)}).status == 403


def test_a_cancel_while_the_right_last_attempt_is_decrypted_wins_and_the_verify_is_404(lifecycle):
    from tests.integration.faults import Gate

    api = lifecycle()
    vid, code = started(api)
    spend_all_but_one(api, code)
    gate = Gate("kms", "Decrypt")  # the verify has reserved its last attempt and waits on KMS here
    verifying = []
    thread = threading.Thread(target=lambda: verifying.append(api.verify({"destination": GOOD_US, "code": code})))
    thread.start()
    try:
        assert gate.reached.wait(timeout=10)
        canceled = api.cancel(vid)
    finally:
        gate.open()
        thread.join(timeout=30)
    assert (canceled.status, canceled.body.get("status")) == (200, "canceled")
    assert (verifying[0].status, verifying[0].error) == (404, "not_found")
    assert api.status(vid).body["status"] == "canceled"


def test_after_the_right_last_attempt_a_cancel_says_approved_and_after_a_wrong_one_max_attempts(lifecycle, aws):
    api = lifecycle()
    vid, code = started(api, purpose="right")
    spend_all_but_one(api, code, "right")
    assert api.verify({"destination": GOOD_US, "purpose": "right", "code": code}).status == 200
    refused = api.cancel(vid)
    assert (refused.status, refused.body["error"]["status"]) == (409, "approved")
    vid, code = started(api, purpose="wrong")
    spend_all_but_one(api, code, "wrong")
    assert api.verify({"destination": GOOD_US, "purpose": "wrong", "code": wrong_code(code)}).status == 403
    refused = api.cancel(vid)
    assert (refused.status, refused.body["error"]["status"]) == (409, "max_attempts_reached")
    # The spent code keeps no ciphertext: nothing is left in the table that could ever verify.
    [item] = aws.destination_items().values()
    assert "wrong" not in item.get("ciphers", {}).get("M", {})


def test_reads_and_cancels_are_counted_and_cancels_logged_masked(lifecycle, capsys, log_output):
    api = lifecycle()
    vid, _ = started(api, GOOD_IN)
    capsys.readouterr()
    api.status(vid)
    api.cancel(vid)
    out = capsys.readouterr().out
    emitted = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert [m.get("VerificationRead") for m in emitted] == [[1.0], None]
    assert [m.get("VerificationCanceled") for m in emitted] == [None, [1.0]]
    logged = log_output.getvalue()
    [line] = [json.loads(line) for line in logged.splitlines() if "verification canceled" in line]
    assert line["destination"] == "+91******3210"
    assert line["verification_id"] == vid
    assert GOOD_IN not in out + logged


def test_status_and_cancel_use_kms_only_to_derive_the_digest_secret_once(lifecycle, faults):
    api = lifecycle()
    vid, _ = started(api)
    second, _ = started(api, purpose="second")
    faults.watch("kms", "GenerateMac")
    for operation in ("Encrypt", "Decrypt"):
        faults.fail("kms", operation, 400, "AccessDeniedException")
    assert api.status(vid).status == 200
    assert api.status(second).status == 200
    assert api.cancel(vid).status == 200
    assert api.cancel(second).status == 200
    # The id's record is unmasked under the digest secret: one GenerateMac per container, none per request.
    assert faults.attempts["kms.GenerateMac"] == 1
    assert faults.attempts["kms.Encrypt"] == faults.attempts["kms.Decrypt"] == 0


def test_without_the_digest_secret_an_id_is_503_and_nothing_changes(lifecycle, faults):
    api = lifecycle()
    vid, _ = started(api)
    faults.fail("kms", "GenerateMac", 400, "AccessDeniedException")
    for reply in (api.status(vid), api.cancel(vid)):
        assert (reply.status, reply.error) == (503, "service_unavailable")
    assert api.status("vrf_short_default").status == 400  # a malformed id needs no secret to refuse
    faults.heal()
    assert api.status(vid).body["status"] == "pending"


def test_a_tampered_id_is_404_and_never_another_verification(lifecycle):
    import base64

    api = lifecycle()
    mine, _ = started(api)
    theirs, _ = started(api, GOOD_IN)
    locator = bytearray(base64.urlsafe_b64decode(mine[4:40]))
    for position in (0, 5, 10, 11, 20, 26):  # the nonce (0-10) and the masked record (11-26)
        tampered = bytearray(locator)
        tampered[position] ^= 0x40
        forged = f"vrf_{base64.urlsafe_b64encode(bytes(tampered)).decode()}_default"
        for reply in (api.status(forged), api.cancel(forged)):
            assert (reply.status, reply.error) == (404, "not_found")
    # Their nonce with my masked record, and mine with theirs: neither names a verification.
    other = base64.urlsafe_b64decode(theirs[4:40])
    for spliced in (bytes(locator[:11]) + other[11:], other[:11] + bytes(locator[11:])):
        forged = f"vrf_{base64.urlsafe_b64encode(spliced).decode()}_default"
        assert api.status(forged).status == 404
    assert api.status(mine).body["status"] == api.status(theirs).body["status"] == "pending"


def test_verify_with_a_tampered_id_is_404_and_spends_no_attempt(lifecycle):
    import base64

    api = lifecycle()
    vid, code = started(api)
    locator = bytearray(base64.urlsafe_b64decode(vid[4:40]))
    locator[3] ^= 0x01  # the nonce: it unmasks to another record
    forged = f"vrf_{base64.urlsafe_b64encode(bytes(locator)).decode()}_default"
    refused = api.verify({"destination": GOOD_US, "code": code, "verification_id": forged})
    assert (refused.status, refused.error) == (404, "not_found")
    assert api.status(vid).body["attempts_remaining"] == 5
    assert api.verify({"destination": GOOD_US, "code": code, "verification_id": vid}).status == 200


def test_resend_available_at_follows_the_cooldown_and_the_window(make_api):
    api = make_api(OTP_MAX_SENDS_PER_WINDOW="2")  # cooldown 30 s
    vid, _ = started(api)
    body = api.status(vid).body
    assert body["resend_available_at"] == iso(api.clock.now + 30)
    api.clock.advance(30)
    second, _ = started(api)
    # The window (900 s, from an aligned start) is now full: the next send waits for it.
    window_end = (int(api.clock.now) // 900 + 1) * 900
    assert api.status(second).body["resend_available_at"] == iso(window_end)


def iso(epoch):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(epoch), UTC).isoformat().replace("+00:00", "Z")


def test_a_required_verification_id_stops_strangers_spending_attempts(make_api):
    api = make_api(OTP_REQUIRE_VERIFICATION_ID="true")
    vid, code = started(api)
    # Someone who knows only the number cannot spend attempts.
    stranger = api.verify({"destination": GOOD_US, "code": wrong_code(code)})
    assert stranger.status == 400
    assert stranger.body["error"]["details"][0]["field"] == "verification_id"
    other_vid = vid[:4] + "B" * 36 + vid[40:]
    assert api.verify({"destination": GOOD_US, "code": wrong_code(code), "verification_id": other_vid}).status == 404
    assert api.status(vid).body["attempts_remaining"] == 5
    assert api.verify({"destination": GOOD_US, "code": code, "verification_id": vid}).status == 200


def test_a_code_superseded_twice_since_reads_as_not_found(lifecycle):
    # The record keeps one replaced code per purpose (README: "a code superseded twice since is 404").
    api = lifecycle()
    first, _ = started(api)
    second, _ = started(api)
    started(api)
    assert api.status(second).body["status"] == "superseded"
    assert api.status(first).status == 404
