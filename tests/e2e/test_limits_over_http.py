"""The limits as deployed, through `make run` over HTTP: in IAM mode (the default) and open mode."""

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import requests


def test_behind_iam_one_backend_address_does_not_throttle_every_user(default_runner):
    # Every request comes from 127.0.0.1, as from one backend: more than the per-IP limit of 50.
    statuses = [
        default_runner.post("/generate", {"channel": "email", "destination": f"user{n}@iam.example"}).status_code
        for n in range(55)
    ]
    assert statuses == [201] * 55


def test_behind_iam_client_ip_is_what_the_per_ip_limit_counts(default_runner):
    def send(n):
        body = {"channel": "email", "destination": f"user{n}@ip.example", "client_ip": "2001:db8:7::1"}
        return default_runner.post("/generate", body).status_code

    assert [send(n) for n in range(50)] == [201] * 50
    refused = default_runner.post(
        "/generate", {"channel": "email", "destination": "late@ip.example", "client_ip": "2001:db8:7::ffff"}
    )
    assert refused.status_code == 429  # the same /64
    assert int(refused.headers["retry-after"]) >= 1


def test_on_open_routes_a_forged_client_ip_does_not_help(open_runner):
    statuses = [
        open_runner.post(
            "/generate", {"channel": "email", "destination": f"u{n}@open.example", "client_ip": f"203.0.113.{n}"}
        ).status_code
        for n in range(5)
    ]
    assert statuses == [201, 201, 201, 429, 429]
    assert "Routes are open" in open_runner.terminal()


def test_two_hundred_parallel_guesses_over_repeated_generates_never_exceed_the_bound(runner):
    # The runner's limits: 30 failures per destination per window, 5 attempts per code, no cooldown.
    number = "+4915112345678"  # no other test sends here: this one leaves it locked for the day
    runner.generate(number)

    def guess(n):
        if n % 20 == 0:  # a resend among the guesses
            runner.post("/generate", {"channel": "sms", "destination": number})
        return runner.post("/verify", {"destination": number, "code": f"{(n * 7919) % 10**6:06d}"}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(guess, range(200)))
    assert statuses.count(403) <= 30 + 5
    assert statuses.count(200) <= 1
    refused = runner.post("/generate", {"channel": "sms", "destination": number})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"


def test_either_spelling_of_an_address_verifies(runner):
    sent = runner.post("/generate", {"channel": "email", "destination": "Grace.Hopper@Example.com"})
    assert sent.status_code == 201
    assert runner.outbox()[-1]["destination"] == "Grace.Hopper@example.com"  # as written, domain normalized
    code = runner.code_for("Grace.Hopper@example.com")
    reply = runner.post("/verify", {"destination": "grace.hopper@example.COM", "code": code})
    assert reply.status_code == 200, reply.text


def test_a_json_array_is_not_a_request(runner):
    for path, body in (
        ("/generate", [{"channel": "sms", "destination": "+14155552671"}]),
        ("/verify", [{"destination": "+14155552671", "code": "123456"}]),
    ):
        reply = runner.post(path, json.dumps(body))
        assert reply.status_code == 400
        assert reply.json()["error"]["details"][0]["field"] == "body"


def test_another_host_name_is_refused(runner):
    port = runner.url.rsplit(":", 1)[1]
    for host in (f"evil.example:{port}", "127.0.0.1", f"127.0.0.1.evil.example:{port}", f"localhost:{int(port) + 1}"):
        reply = requests.get(runner.url + "/_local/outbox", headers={"Host": host}, timeout=30)
        assert reply.status_code == 403, host
        assert reply.json()["error"]["code"] == "forbidden_host"
    assert requests.get(f"http://localhost:{port}/_local/outbox", timeout=30).status_code == 200


def raw(runner, request: bytes) -> tuple[int, dict]:
    host, port = runner.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(request)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_bad_content_length_is_a_json_400_and_blocks_nothing(runner):
    port = runner.url.rsplit(":", 1)[1]
    for length in (b"-5", b"abc", b"1e3", b"\xd9\xa3"):
        status, body = raw(
            runner,
            b"POST /verify HTTP/1.1\r\nHost: 127.0.0.1:"
            + port.encode()
            + b"\r\nContent-Length: "
            + length
            + b"\r\n\r\n",
        )
        assert status == 400, length
        assert body["error"]["code"] == "invalid_request", length
    assert runner.get("/_local/outbox").status_code == 200


def test_unknown_methods_get_json(runner):
    port = runner.url.rsplit(":", 1)[1].encode()
    status, body = raw(
        runner, b"TRACE /generate HTTP/1.1\r\nHost: 127.0.0.1:" + port + b"\r\nConnection: close\r\n\r\n"
    )
    assert status == 405
    assert body["error"]["code"] == "method_not_allowed"
    status, body = raw(
        runner, b"PROPFIND /nowhere HTTP/1.1\r\nHost: 127.0.0.1:" + port + b"\r\nConnection: close\r\n\r\n"
    )
    assert status == 404
    assert body["error"]["code"] == "not_found"
