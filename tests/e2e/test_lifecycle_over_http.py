"""The verification resource through `make run`: read, cancel, races, and the required-id mode."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import wrong_code

NUMBER = "+447400123456"  # no other end-to-end test sends here


def start(runner, purpose):
    reply, code = runner.generate(NUMBER, purpose=purpose)
    return reply.json()["verification_id"], code


def status(runner, vid):
    return runner.get(f"/verifications/{vid}")


def test_each_status_over_http(runner):
    vid, code = start(runner, "life-pending")
    assert status(runner, vid).json()["status"] == "pending"

    approved, code = start(runner, "life-approved")
    assert runner.post("/verify", {"destination": NUMBER, "purpose": "life-approved", "code": code}).status_code == 200
    assert status(runner, approved).json()["status"] == "approved"

    spent, code = start(runner, "life-spent")
    for _ in range(5):
        runner.post("/verify", {"destination": NUMBER, "purpose": "life-spent", "code": wrong_code(code)})
    assert status(runner, spent).json()["status"] == "max_attempts_reached"

    old, _ = start(runner, "life-super")
    start(runner, "life-super")
    assert status(runner, old).json()["status"] == "superseded"

    canceled, _ = start(runner, "life-cancel")
    assert runner.post(f"/verifications/{canceled}/cancel").json()["status"] == "canceled"
    assert status(runner, canceled).json()["status"] == "canceled"


def test_cancel_then_verify_and_verify_then_cancel(runner):
    vid, code = start(runner, "cancel-first")
    assert runner.post(f"/verifications/{vid}/cancel", {}).status_code == 200
    late = runner.post("/verify", {"destination": NUMBER, "purpose": "cancel-first", "code": code})
    assert late.status_code == 404

    vid, code = start(runner, "verify-first")
    assert runner.post("/verify", {"destination": NUMBER, "purpose": "verify-first", "code": code}).status_code == 200
    refused = runner.post(f"/verifications/{vid}/cancel")
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "not_pending",
        "message": "The verification is approved; only a pending one can be canceled.",
        "status": "approved",
    }


def test_a_cancel_racing_right_codes_has_exactly_one_winner(runner):
    for round_ in range(5):
        purpose = f"race-cancel-{round_}"
        vid, code = start(runner, purpose)
        with ThreadPoolExecutor(max_workers=2) as pool:
            verifying = pool.submit(runner.post, "/verify", {"destination": NUMBER, "purpose": purpose, "code": code})
            canceling = pool.submit(runner.post, f"/verifications/{vid}/cancel")
            outcome = (verifying.result().status_code, canceling.result().status_code)
        assert outcome in ((200, 409), (404, 200)), outcome
        final = status(runner, vid).json()["status"]
        assert final == ("approved" if outcome[0] == 200 else "canceled")


def test_a_cancel_racing_the_right_code_on_its_last_attempt_never_says_max_attempts(runner):
    """Either the verify is 200 and the cancel 409 approved, or the cancel 200 and the verify 404."""
    for round_ in range(5):
        purpose = f"race-last-{round_}"
        vid, code = start(runner, purpose)
        for _ in range(4):
            wrong = runner.post("/verify", {"destination": NUMBER, "purpose": purpose, "code": wrong_code(code)})
            assert wrong.status_code == 403
        with ThreadPoolExecutor(max_workers=2) as pool:
            verifying = pool.submit(runner.post, "/verify", {"destination": NUMBER, "purpose": purpose, "code": code})
            canceling = pool.submit(runner.post, f"/verifications/{vid}/cancel")
            verified, canceled = verifying.result(), canceling.result()
        if verified.status_code == 200:
            assert canceled.status_code == 409, canceled.text
            assert canceled.json()["error"]["status"] == "approved"
        else:
            assert (verified.status_code, canceled.status_code) == (404, 200), (verified.text, canceled.text)
        final = status(runner, vid).json()["status"]
        assert final == ("approved" if verified.status_code == 200 else "canceled")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/verifications/x", 400),
        ("/verifications/" + "é" * 10, 400),
        ("/verifications/vrf_" + "A" * 36 + "_default", 404),
        ("/verifications/..%2F..%2Fetc%2Fpasswd", 400),
        ("/verifications/%2F", 400),
        ("/verifications/" + "a" * 5000, 400),
        ("/verifications/", 404),
        ("/verifications/a/b", 404),
    ],
)
def test_ids_of_every_shape_get_a_clear_answer(runner, path, expected):
    reply = runner.get(path)
    assert reply.status_code == expected, reply.text
    assert reply.json()["error"]["code"] in ("invalid_request", "not_found")


def test_a_required_verification_id_over_http(required_id_runner):
    number = "+34612345678"
    reply, code = required_id_runner.generate(number)
    vid = reply.json()["verification_id"]
    stranger = required_id_runner.post("/verify", {"destination": number, "code": wrong_code(code)})
    assert stranger.status_code == 400
    assert required_id_runner.get(f"/verifications/{vid}").json()["attempts_remaining"] == 5
    ok = required_id_runner.post("/verify", {"destination": number, "code": code, "verification_id": vid})
    assert ok.status_code == 200
