"""The runner under clients that misbehave or crowd it: quiet disconnects, whole log lines, chunked
bodies, and an outbox written in UTF-8."""

from __future__ import annotations

import json
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

from tests.helpers import wrong_code


def address(runner) -> tuple[str, int]:
    parts = urlsplit(runner.url)
    return parts.hostname, parts.port


def raw_request(runner, data: bytes, reset: bool = False, read: bool = True) -> bytes:
    """Sends bytes as they are; with ``reset``, closes with a TCP reset instead of reading the answer."""
    host, port = address(runner)
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(data)
        if reset:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return b""
        if not read:
            connection.shutdown(socket.SHUT_WR)
            return b""
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def request_bytes(runner, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    host, port = address(runner)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def wait_for_line(runner, needle: str, count: int = 1, deadline_seconds: float = 15) -> list[str]:
    deadline = time.monotonic() + deadline_seconds
    while True:
        found = [line for line in runner.logs().splitlines() if needle in line]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_clients_that_leave_early_are_one_log_line_never_a_traceback(runner):
    sms = b'{"channel": "sms", "destination": "+14155552671", "purpose": "gone"}'
    generate = request_bytes(runner, "POST", "/generate", sms, {"Content-Length": str(len(sms))})
    before = len(wait_for_line(runner, "client disconnected", deadline_seconds=0))
    # 1. A reset while its code is being sent; 2. a reset before a large page is written;
    # 3. a body that stops short of its Content-Length; 4. a reset halfway through the request line.
    raw_request(runner, generate, reset=True)
    raw_request(runner, request_bytes(runner, "GET", "/_local/messages"), reset=True)
    raw_request(runner, generate[: -len(sms) + 10], read=False)
    raw_request(runner, b"GET /_local/outbox HT", reset=True)
    for _ in range(3):
        raw_request(runner, request_bytes(runner, "GET", "/_local/messages", headers={"Connection": "close"}), True)
    time.sleep(1)
    assert "Traceback" not in runner.terminal()
    gone = wait_for_line(runner, "client disconnected", count=before + 2)[before:]
    assert len(gone) >= 2, gone  # at least the short body and one reset were seen and logged
    short = [json.loads(line) for line in gone if '"path": "/generate"' in line and "ConnectionAborted" in line]
    assert short and short[0]["level"] == "WARNING" and short[0]["status"] == 499
    assert runner.get("/_local/outbox").status_code == 200  # and it serves on


def test_under_many_parallel_requests_every_stdout_line_is_whole_json(runner):
    destinations = [f"+1415555{n:04d}" for n in range(2671, 2671 + 8)]  # valid US numbers

    def one(index: int) -> int:
        destination = destinations[index % len(destinations)]
        if index % 3 == 0:
            reply = runner.post("/generate", {"channel": "sms", "destination": destination, "purpose": "crowd"})
        elif index % 3 == 1:
            body = {"destination": destination, "purpose": "crowd", "code": wrong_code("123456")}
            reply = runner.post("/verify", body)
        else:
            reply = requests.get(runner.url + "/_local/outbox", timeout=30)
        return reply.status_code

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(one, range(240)))
    assert all(status < 500 for status in statuses), statuses
    time.sleep(0.5)
    lines = runner.logs().splitlines()
    broken = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            broken.append(line)
    assert not broken, f"{len(broken)} of {len(lines)} stdout lines are not one JSON document: {broken[:3]}"
    assert len(lines) > 240


def test_a_chunked_body_is_read_whole_and_the_connection_reused(runner):
    chunks = [b'{"channel": "sms", ', b'"destination": "+61491570156", ', b'"purpose": "chunked"}']
    reply = requests.post(runner.url + "/generate", data=iter(chunks), timeout=30)  # requests sends it chunked
    assert reply.request.headers.get("Transfer-Encoding") == "chunked"
    assert reply.status_code == 201, reply.text
    assert reply.json()["purpose"] == "chunked"
    # Extensions and a trailer, then a second request on the same connection: the body ended where it should.
    body = b"5;note=x\r\n" + b'{"des\r\n' + b"0\r\nX-Trailer: 1\r\n\r\n"
    first = request_bytes(runner, "POST", "/verify", body, {"Transfer-Encoding": "chunked"})
    answer = raw_request(runner, first + request_bytes(runner, "GET", "/nowhere", headers={"Connection": "close"}))
    assert answer.count(b"HTTP/1.1 ") == 2, answer
    assert b"HTTP/1.1 400" in answer and b"HTTP/1.1 404" in answer


def test_bad_chunked_bodies_are_json_4xx(runner):
    cases = {
        "not hex": (b"zz\r\nabc\r\n0\r\n\r\n", {"Transfer-Encoding": "chunked"}, 400),
        "longer than its size": (b"2\r\nabcdef\r\n0\r\n\r\n", {"Transfer-Encoding": "chunked"}, 400),
        "too large": (b"200000\r\n", {"Transfer-Encoding": "chunked"}, 413),
        "other coding": (b"abc", {"Transfer-Encoding": "gzip"}, 400),
        "length and chunks": (b"0\r\n\r\n", {"Transfer-Encoding": "chunked", "Content-Length": "5"}, 400),
    }
    for case, (body, headers, status) in cases.items():
        answer = raw_request(runner, request_bytes(runner, "POST", "/generate", body, headers))
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status}".encode()), (case, answer)
        assert b"Content-Type: application/json" in head, case
        assert json.loads(payload)["error"]["code"] in ("invalid_request", "payload_too_large"), case


def test_the_outbox_is_utf8_with_accents_and_hindi_unescaped(runner):
    runner.generate("+919876543210", purpose="utf8", locale="hi")
    runner.generate("zoe@example.org", channel="email", purpose="utf8", locale="fr")
    reply = requests.get(runner.url + "/_local/outbox", timeout=10)
    assert reply.headers["content-type"] == "application/json"
    assert "कोड".encode() in reply.content
    assert "vérification".encode() in reply.content
    assert b"\\u" not in reply.content
    messages = json.loads(reply.content.decode("utf-8"))["messages"]
    assert messages[-1]["destination"] == "zoe@example.org"  # oldest first, newest last
    assert [m["sent_at"] for m in messages] == sorted(m["sent_at"] for m in messages)


def test_a_long_poll_of_the_outbox_answers_when_a_message_arrives(runner):
    version = requests.get(runner.url + "/_local/outbox", timeout=10).headers["X-Outbox-Version"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(requests.get, runner.url + f"/_local/outbox?after={version}", timeout=60)
        time.sleep(1)
        assert not waiting.done(), "a poll with the current version should wait for a change"
        _, code = runner.generate("+12025550123", purpose="long-poll")
        reply = waiting.result(timeout=30)
    assert reply.status_code == 200 and int(reply.headers["X-Outbox-Version"]) > int(version)
    assert code in reply.json()["messages"][-1]["body"]
    stale = requests.get(runner.url + "/_local/outbox?after=0", timeout=5)  # an old version: answered at once
    assert stale.status_code == 200 and stale.headers["X-Outbox-Version"] == reply.headers["X-Outbox-Version"]
