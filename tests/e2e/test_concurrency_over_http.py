"""Races over real HTTP: separate worker processes, like Lambda environments, share only AWS."""

from concurrent.futures import ThreadPoolExecutor

from tests.helpers import wrong_code


def parallel(count, call):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def test_fifty_parallel_right_codes_verify_exactly_once(runner):
    _, code = runner.generate("+12025550123", purpose="race-right")
    body = {"destination": "+12025550123", "purpose": "race-right", "code": code}
    statuses = [reply.status_code for reply in parallel(50, lambda: runner.post("/verify", body))]
    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 404, 429}


def test_two_hundred_parallel_wrong_guesses_get_at_most_the_attempt_limit(runner):
    _, code = runner.generate("+12025550123", purpose="race-wrong")
    wrong = wrong_code(code)
    body = {"destination": "+12025550123", "purpose": "race-wrong", "code": wrong}
    statuses = [reply.status_code for reply in parallel(200, lambda: runner.post("/verify", body))]
    assert statuses.count(403) == 5  # OTP_MAX_ATTEMPTS comparisons, no more
    assert statuses.count(429) == 195
    final = runner.post("/verify", {**body, "code": code})
    assert final.status_code == 429


def test_twenty_parallel_generates_for_one_destination_obey_the_cooldown(default_runner):
    body = {"channel": "sms", "destination": "+61491570156"}
    replies = parallel(20, lambda: default_runner.post("/generate", body))
    statuses = sorted(reply.status_code for reply in replies)
    assert statuses == [201] + [429] * 19
    assert len([m for m in default_runner.outbox() if m["destination"] == "+61491570156"]) == 1
    assert all(int(r.headers["retry-after"]) >= 1 for r in replies if r.status_code == 429)
