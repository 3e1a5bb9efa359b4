"""The lockout a stranger can cause, over HTTP with the default failure bounds (semantics 11).

A guesser who knows only a number, on one end-user network, runs out of wrong codes for that
network and is refused a new code there; the owner, on another network, still gets and verifies
one. Only wrong codes from several networks close the destination everywhere, and never for
longer than the failure window.
"""

from __future__ import annotations

DAY = 86400  # OTP_FAILURE_WINDOW_SECONDS' default


def wrong(runner, number: str, code: str, client_ip: str):
    wrong_code = f"{(int(code) + 1) % 10**6:06d}"
    return runner.post("/verify", {"destination": number, "code": wrong_code, "client_ip": client_ip})


def guess_from(runner, number: str, network: str, guesses: int) -> list[int]:
    """Wrong codes from one /24, five per code, as a guesser would spend them."""
    statuses = []
    for n in range(guesses):
        if n % 5 == 0:
            _, code = runner.generate(number, client_ip=f"{network}.{n + 1}")
        statuses.append(wrong(runner, number, code, f"{network}.{200 + n}").status_code)
    return statuses


def test_a_guesser_on_one_network_cannot_stop_the_owner_on_another(runner):
    number = "+14155550123"
    assert guess_from(runner, number, "198.51.100", 10) == [403] * 10  # OTP_MAX_FAILURES_PER_NETWORK

    refused = runner.post("/generate", {"channel": "sms", "destination": number, "client_ip": "198.51.100.99"})
    assert refused.status_code == 429
    assert refused.json()["error"]["reason"] == "failures_network"
    assert 0 < refused.json()["error"]["retry_after"] <= DAY
    assert int(refused.headers["retry-after"]) <= DAY

    reply, code = runner.generate(number, client_ip="203.0.113.7")  # the owner, elsewhere
    verified = runner.post("/verify", {"destination": number, "code": code, "client_ip": "203.0.113.7"})
    assert verified.status_code == 200, verified.text
    assert verified.json()["verification_id"] == reply.json()["verification_id"]


def test_only_wrong_codes_from_three_networks_close_the_destination_everywhere(runner):
    number = "+14155550124"
    statuses = []
    for network in ("198.51.100", "192.0.2", "203.0.113"):
        statuses += guess_from(runner, number, network, 10)
    assert statuses == [403] * 30  # OTP_MAX_FAILURES_PER_DESTINATION, with ten from each network

    for owner_ip in ("100.64.0.1", "2001:db8:1::1", None):
        body = {"channel": "sms", "destination": number}
        if owner_ip:
            body["client_ip"] = owner_ip
        refused = runner.post("/generate", body)
        assert refused.status_code == 429
        assert refused.json()["error"]["reason"] == "failures_destination"
        assert 0 < refused.json()["error"]["retry_after"] <= DAY


def test_wrong_codes_without_client_ip_count_only_in_all(runner):
    number = "+14155550125"
    for n in range(10):
        if n % 5 == 0:
            _, code = runner.generate(number)
        assert (
            runner.post("/verify", {"destination": number, "code": f"{(int(code) + 1) % 10**6:06d}"}).status_code == 403
        )
    # Ten unattributed wrong codes close no network: an end user on any network still gets a code.
    reply = runner.post("/generate", {"channel": "sms", "destination": number, "client_ip": "198.51.100.5"})
    assert reply.status_code == 201, reply.text
