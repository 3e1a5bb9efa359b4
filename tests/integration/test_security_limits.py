"""The limits as deployed and attacked: IAM callers, end-user IPs, the failure bound, canonical
addresses, keyed digests and body shapes, through the real handlers with API Gateway events."""

import hashlib
import json
import threading

import pytest

from tests.helpers import GOOD_IN, GOOD_US, wrong_code

NUMBERS = ["+14155552671", "+12025550123", "+919876543210", "+61491570156", "+33612345678"]


def sms(number=GOOD_US, **fields):
    return {"channel": "sms", "destination": number, **fields}


# ---- who is the caller ---------------------------------------------------------------------------


def test_behind_iam_the_backend_address_is_never_limited(make_api):
    # Every request comes from the backend's one NAT address; 60 users must not share one limit.
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", OTP_MAX_SENDS_PER_IP="3")
    for n in range(12):
        assert api.generate(sms(NUMBERS[n % 5], purpose=f"p{n}"), source_ip="10.0.0.1").status == 201


def test_behind_iam_the_limit_counts_client_ip(make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", OTP_MAX_SENDS_PER_IP="2")
    for number in NUMBERS[:2]:
        assert api.generate(sms(number, client_ip="198.51.100.7"), source_ip="10.0.0.1").status == 201
    refused = api.generate(sms(NUMBERS[2], client_ip="198.51.100.7"), source_ip="10.0.0.1")
    assert refused.status == 429
    assert refused.error == "rate_limited"
    assert int(refused.headers["retry-after"]) == 3600  # the clock starts on an hour boundary
    # The same backend, another user: unaffected.
    assert api.generate(sms(NUMBERS[2], client_ip="198.51.100.8"), source_ip="10.0.0.1").status == 201


def test_behind_iam_without_client_ip_no_ip_limit_applies_and_a_metric_counts_it(make_api, capsys):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", OTP_MAX_SENDS_PER_IP="1")
    capsys.readouterr()
    assert [api.generate(sms(n)).status for n in NUMBERS[:3]] == [201, 201, 201]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m.get("EndUserIpMissing") for m in emitted] == [[1.0]] * 3


def test_on_open_routes_client_ip_is_ignored(make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", OTP_MAX_SENDS_PER_IP="2")
    open_route = {"iam_authorized": False, "source_ip": "198.51.100.20"}
    # A caller who forges a new client_ip each time still counts as its own connection.
    statuses = [api.generate(sms(n, client_ip=f"203.0.113.{i}"), **open_route).status for i, n in enumerate(NUMBERS)]
    assert statuses == [201, 201, 429, 429, 429]


def test_ipv6_users_are_limited_per_64(make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", OTP_MAX_SENDS_PER_IP="2")
    assert api.generate(sms(NUMBERS[0], client_ip="2001:db8:1:2::1")).status == 201
    assert api.generate(sms(NUMBERS[1], client_ip="2001:db8:1:2:ffff:ffff:ffff:ffff")).status == 201
    assert api.generate(sms(NUMBERS[2], client_ip="2001:db8:1:2::abcd")).status == 429  # same /64
    assert api.generate(sms(NUMBERS[2], client_ip="2001:db8:1:3::1")).status == 201  # the next /64


@pytest.mark.parametrize("bad", ["not-an-ip", "300.1.1.1", "1.2.3", "::g", "", "198.51.100.7/24", 7, ["1.2.3.4"]])
def test_a_bad_client_ip_is_400_on_that_field(api, aws, bad):
    reply = api.generate(sms(client_ip=bad))
    assert reply.status == 400
    assert [d["field"] for d in reply.body["error"]["details"]] == ["client_ip"]
    assert aws.sms() == []


# ---- the failure bound ---------------------------------------------------------------------------


def attack(api, number=GOOD_US, purposes=("default",), rounds=50, cooldown=30):
    """Generate and guess wrong as fast as the limits allow; how many wrong codes were compared."""
    compared = 0
    for _ in range(rounds):
        issued = [api.generate(sms(number, purpose=p)) for p in purposes]
        if all(reply.status == 429 for reply in issued):
            if issued[0].body["error"]["reason"] in ("cooldown", "window"):
                api.clock.advance(issued[0].body["error"]["retry_after"])  # the attacker waits these out
                continue
            return compared, issued[0]
        for purpose in purposes:
            for _ in range(6):
                code = api.last_code(number)
                reply = api.verify({"destination": number, "purpose": purpose, "code": wrong_code(code)})
                compared += reply.status == 403
        api.clock.advance(cooldown)
    raise AssertionError("the attack was never stopped")


def sliding_retry_after(now: int, window: int = 86400) -> int:
    """When failures counted in one bucket (a 24th of the window) have all left the window."""
    bucket = window // 24
    return (now // bucket + 24) * bucket - now


def test_wrong_codes_per_destination_are_bounded_across_codes(make_api):
    api = make_api()  # the contract's defaults: 30 failures a day in all, 5 attempts a code
    compared, refusal = attack(api)
    assert compared == 30  # six codes of 5 reach 30, and /generate stops
    assert refusal.error == "rate_limited"
    assert refusal.body["error"]["reason"] == "failures_destination"
    expected = sliding_retry_after(int(api.clock.now))
    assert int(refusal.headers["retry-after"]) == refusal.body["error"]["retry_after"] == expected
    assert expected <= 86400  # never longer than the window
    # Other destinations are not locked with it.
    assert api.generate(sms(GOOD_IN)).status == 201


def test_the_bound_holds_when_codes_of_several_purposes_are_pending_at_once(make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0")
    # 29 failures, then five codes issued before any of them is guessed.
    for guesses in (5, 5, 5, 5, 5, 4):
        api.generate(sms())
        for _ in range(guesses):
            api.verify({"destination": GOOD_US, "code": wrong_code(api.last_code(GOOD_US))})
    purposes = [f"p{n}" for n in range(5)]
    codes = {}
    for purpose in purposes:
        assert api.generate(sms(purpose=purpose)).status == 201
        codes[purpose] = api.last_code(GOOD_US)
    compared = 0
    for purpose in purposes:
        for _ in range(5):
            reply = api.verify({"destination": GOOD_US, "purpose": purpose, "code": wrong_code(codes[purpose])})
            compared += reply.status == 403
    # Five codes had 25 attempts between them; the destination's budget let 6 of them be compared.
    assert 29 + compared == 30 + 5


def test_two_hundred_parallel_guesses_over_repeated_generates_stay_within_the_bound(make_api, aws):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", OTP_MAX_FAILURES_PER_DESTINATION="10")
    api.generate(sms())
    statuses: list[int] = []
    stop = threading.Event()

    def guesser(n):
        for i in range(25):
            statuses.append(api.verify({"destination": GOOD_US, "code": f"{(n * 25 + i) % 10**6:06d}"}).status)

    def resender():
        while not stop.is_set():
            api.generate(sms())

    threads = [threading.Thread(target=guesser, args=(n,)) for n in range(8)]
    sender = threading.Thread(target=resender)
    sender.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    sender.join()
    assert len(statuses) == 200
    assert statuses.count(403) <= 10 + 5
    assert statuses.count(200) <= 1  # a guess may be right by chance; never more than once


def test_right_codes_never_count_as_failures(make_api):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_SENDS_PER_WINDOW="0", OTP_MAX_FAILURES_PER_DESTINATION="3")
    _, code = api.issue(GOOD_US)
    assert [api.verify({"destination": GOOD_US, "code": wrong_code(code)}).status for _ in range(2)] == [403, 403]
    assert api.verify({"destination": GOOD_US, "code": code}).status == 200
    # Two failures against a limit of 3: a user who keeps getting it right is never locked out.
    for _ in range(20):
        _, code = api.issue(GOOD_US)
        assert api.verify({"destination": GOOD_US, "code": code}).status == 200
    _, code = api.issue(GOOD_US)
    assert api.verify({"destination": GOOD_US, "code": wrong_code(code)}).status == 403
    assert api.generate(sms()).status == 429  # the third failure locks it


def test_the_lock_lifts_when_the_failure_window_ends(make_api):
    api = make_api(
        OTP_RESEND_COOLDOWN_SECONDS="0", OTP_MAX_FAILURES_PER_DESTINATION="2", OTP_FAILURE_WINDOW_SECONDS="600"
    )
    _, code = api.issue(GOOD_US)
    for _ in range(2):
        api.verify({"destination": GOOD_US, "code": wrong_code(code)})
    refused = api.generate(sms())
    assert refused.status == 429
    wait = sliding_retry_after(int(api.clock.now), 600)
    assert refused.body["error"]["retry_after"] == wait
    assert wait <= 600
    # The pending code keeps its own attempts.
    assert api.verify({"destination": GOOD_US, "code": code}).status == 200
    api.clock.advance(wait - 1)
    assert api.generate(sms()).body["error"]["retry_after"] == 1
    api.clock.advance(1)
    assert api.generate(sms()).status == 201


def test_worst_case_wrong_codes_in_a_day_with_the_defaults(make_api):
    """Measured: the window slides, so starting again just after a UTC midnight gains the attacker nothing."""
    api = make_api()
    day = int(api.clock.now) // 86400 + 1
    api.clock.now = day * 86400 - 3600  # the last hour of a UTC day
    before, refusal = attack(api)
    assert before == 30
    api.clock.now = day * 86400 + 1  # just after midnight: a fixed window would have reset here
    assert api.generate(sms()).status == 429
    api.clock.now += refusal.body["error"]["retry_after"]
    after, _ = attack(api)
    assert after == 30
    # With a code pending at each lock that keeps its attempts, any 24 h span sees at most 30 + 5.


# ---- canonical addresses -------------------------------------------------------------------------


def test_case_changes_share_one_mailbox_record(api, aws):
    assert api.generate({"channel": "email", "destination": "Victim@Example.com"}).status == 201
    for spelling in ("VICTIM@example.com", "vIcTiM@EXAMPLE.COM", "victim@example.com"):
        reply = api.generate({"channel": "email", "destination": spelling})
        assert reply.status == 429, spelling
    [email] = aws.emails()
    assert email.destinations["ToAddresses"] == ["Victim@example.com"]  # as written; the domain normalized
    code = api.last_code("Victim@example.com")
    assert api.verify({"destination": "victim@EXAMPLE.com", "code": code}).status == 200


def test_plus_tags_and_dots_are_distinct_mailboxes(api, aws):
    spellings = ("ada@gmail.com", "ada+login@gmail.com", "a.da@gmail.com")
    for spelling in spellings:
        assert api.generate({"channel": "email", "destination": spelling}).status == 201, spelling  # no cooldown
    assert [email.destinations["ToAddresses"] for email in aws.emails()] == [[s] for s in spellings]
    codes = {spelling: api.last_code(spelling) for spelling in spellings}
    for spelling, other in zip(spellings, spellings[1:] + spellings[:1], strict=True):
        if codes[spelling] != codes[other]:
            wrong = api.verify({"destination": other, "code": codes[spelling]})
            assert wrong.status == 403, (spelling, other)  # another mailbox's code is a wrong code there
    for spelling in spellings:
        assert api.verify({"destination": spelling, "code": codes[spelling]}).status == 200, spelling


# ---- keyed digests -------------------------------------------------------------------------------


def test_a_table_dump_and_the_masked_numbers_do_not_reverse(make_api, aws):
    api = make_api(OTP_RESEND_COOLDOWN_SECONDS="0")
    api.generate(sms(GOOD_US, client_ip="203.0.113.7"))
    items = aws.table_items()
    dumped = json.dumps(items, default=str)
    assert GOOD_US not in dumped
    assert GOOD_US[1:] not in dumped
    assert "203.0.113.7" not in dumped
    [record] = aws.destination_items().values()
    masked = record["codes"]["M"]["default"]["M"]["masked"]["S"]
    assert masked == "+1******2671"
    # Every number the mask allows, under every unkeyed hash a reader might try: none is a key.
    keys = {item["id"]["S"].split("#")[1] for item in items}
    for n in range(10**6):
        candidate = f"+1{n:06d}2671"
        for text in (candidate, f"sms:{candidate}"):
            digest = hashlib.sha256(text.encode()).hexdigest()
            assert digest[:32] not in keys
            assert digest not in keys
    assert hashlib.sha256(b"203.0.113.7").hexdigest()[:32] not in keys


def test_the_digest_secret_is_in_no_variable_or_item(make_api, aws, monkeypatch):
    import os

    api = make_api()
    api.generate(sms())
    secret = api.generate_deps.digests._key()
    assert len(secret) == 32
    assert secret.hex() not in json.dumps(aws.table_items(), default=str)
    assert not any(secret.hex() in value or secret in value.encode() for value in os.environ.values())
    # The three functions derive the same secret from the KMS HMAC key, with one call per container.
    assert api.verify_deps.digests._key() == secret
    assert api.verifications_deps.digests._key() == secret


# ---- bodies --------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ['[{"channel": "sms", "destination": "+14155552671"}]', '"text"', "42", "null", "[]"])
def test_only_a_json_object_is_a_generate_request(api, aws, body):
    reply = api.generate(body)
    assert reply.status == 400
    assert reply.body["error"]["details"][0]["field"] == "body"
    assert aws.sms() == []


@pytest.mark.parametrize("shape", ["[{}]", '"{}"', "null", "true"])
def test_only_a_json_object_is_a_verify_request_and_no_attempt_is_spent(api, shape):
    _, code = api.issue(GOOD_US)
    body = shape.replace("{}", json.dumps({"destination": GOOD_US, "code": wrong_code(code)}).replace('"', '\\"'))
    if shape == "[{}]":
        body = json.dumps([{"destination": GOOD_US, "code": wrong_code(code)}])
    reply = api.verify(body)
    assert reply.status == 400
    assert reply.body["verified"] is False
    wrong = api.verify({"destination": GOOD_US, "code": wrong_code(code)})
    assert wrong.body["error"]["attempts_remaining"] == 4
