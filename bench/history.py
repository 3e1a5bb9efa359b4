"""Checked histories: mixed traffic against a running service, every operation recorded, then judged.

Each operation keeps when it was invoked and when it completed (client clock, same machine as the
server) and what it answered. `check` finds what no linearization of the history could explain:
two approvals of one code, an approval after a cancel completed, more compared wrong codes than
the attempt and failure bounds allow, sends closer than the cooldown or over the send window, a
refusal with the wrong code, a right code refused with nothing that could have ended it.

Used by tests/e2e/test_history.py (seconds) and `make soak` (bench/soak.py, minutes). It lives in
bench/ rather than tests/ because the soak driver uses it, and nothing outside tests/ imports tests/.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

STATUSES = {"pending", "approved", "expired", "max_attempts_reached", "superseded", "canceled"}
REASONS = {"cooldown", "window", "ip", "failures_network", "failures_destination"}
# What each route may answer, by status: anything else (a 5xx above all) is a violation.
ANSWERS = {
    "generate": {201: None, 429: "rate_limited", 502: "delivery_failed"},
    "verify": {
        200: None,
        400: "invalid_request",
        403: "invalid_code",
        404: "not_found",
        410: "expired",
        429: "too_many_attempts",
    },
    "read": {200: None, 404: "not_found"},
    "cancel": {200: None, 404: "not_found", 409: "not_pending"},
}


@dataclass(frozen=True)
class Limits:
    """The runner's OTP_* settings that the checks need."""

    code_length: int = 6
    max_attempts: int = 3
    max_failures: int = 5
    cooldown: int = 2
    max_sends: int = 5
    send_window: int = 60
    failure_window: int = 60
    ttl: int = 3600

    def environment(self) -> dict[str, str]:
        return {
            "OTP_CODE_LENGTH": str(self.code_length),
            "OTP_MAX_ATTEMPTS": str(self.max_attempts),
            "OTP_MAX_FAILURES_PER_DESTINATION": str(self.max_failures),
            "OTP_RESEND_COOLDOWN_SECONDS": str(self.cooldown),
            "OTP_MAX_SENDS_PER_WINDOW": str(self.max_sends),
            "OTP_SEND_WINDOW_SECONDS": str(self.send_window),
            "OTP_FAILURE_WINDOW_SECONDS": str(self.failure_window),
            "OTP_TTL_SECONDS": str(self.ttl),
            "OTP_MAX_SENDS_PER_IP": "0",
        }


@dataclass
class Operation:
    route: str
    destination: str
    purpose: str
    invoked: float
    completed: float = 0.0
    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    vid: str | None = None  # the verification named (verify, read, cancel) or issued (generate)
    guess: str | None = None  # verify: "right", "wrong" or "malformed", as the client believed

    @property
    def error(self) -> str | None:
        error = self.body.get("error")
        return error.get("code") if isinstance(error, dict) else None


class Traffic:
    """Seeded mixed traffic over a few destinations; thread-safe, each call one recorded operation."""

    def __init__(self, url: str, limits: Limits, destinations: list[str], seed: int) -> None:
        self.url, self.limits, self.destinations = url, limits, destinations
        self.purposes = ("default", "login")
        self.history: list[Operation] = []
        self.latest: dict[tuple[str, str], tuple[str, str]] = {}  # (destination, purpose) -> (vid, code)
        self.issued: list[tuple[str, str, str]] = []  # (vid, destination, purpose)
        self._lock = threading.Lock()
        self._seed = seed
        self._local = threading.local()
        self._session = threading.local()

    def _rng(self) -> random.Random:
        if not hasattr(self._local, "rng"):
            with self._lock:
                self._seed += 1
                self._local.rng = random.Random(self._seed)
        return self._local.rng

    def _http(self) -> requests.Session:
        if not hasattr(self._session, "value"):
            self._session.value = requests.Session()
        return self._session.value

    def one(self) -> Operation:
        rng = self._rng()
        destination, purpose = rng.choice(self.destinations), rng.choice(self.purposes)
        route = rng.choices(("generate", "verify", "read", "cancel"), weights=(4, 8, 1, 1))[0]
        if route == "generate":
            return self._generate(destination, purpose)
        if route == "verify":
            with self._lock:
                slots = sorted(self.latest)
            if slots and rng.random() < 0.8:  # mostly at a code that may still verify
                destination, purpose = rng.choice(slots)
            return self._verify(rng, destination, purpose)
        with self._lock:
            if self.issued:  # a verification of any destination, recorded under its own
                vid, destination, purpose = rng.choice(self.issued)
            else:
                vid = "vrf_" + "A" * 36 + "_default"
        path = f"/verifications/{vid}" + ("/cancel" if route == "cancel" else "")
        return self._call(Operation(route, destination, purpose, 0.0, vid=vid), path, None, post=route == "cancel")

    def _generate(self, destination: str, purpose: str) -> Operation:
        channel = "email" if "@" in destination else "sms"
        body = {"channel": channel, "destination": destination, "purpose": purpose}
        op = self._call(Operation("generate", destination, purpose, 0.0), "/generate", body)
        if op.status == 201:
            op.vid = op.body["verification_id"]
            # The cooldown keeps a second send to this destination away for seconds: the newest
            # message to it is this code.
            code = self._newest_code(destination)
            with self._lock:
                self.issued.append((op.vid, destination, purpose))
                if code is not None:
                    self.latest[(destination, purpose)] = (op.vid, code)
        return op

    def _verify(self, rng: random.Random, destination: str, purpose: str) -> Operation:
        with self._lock:
            known = self.latest.get((destination, purpose))
        guess = rng.choices(("right", "wrong", "malformed"), weights=(4, 5, 1))[0] if known else "wrong"
        vid, code = known if known else (None, "0" * self.limits.code_length)
        if guess == "wrong":
            space = 10**self.limits.code_length
            code = f"{(int(code) + rng.randrange(1, space)) % space:0{len(code)}d}"
        elif guess == "malformed":
            code = code[:-1]
        named = vid if rng.random() < 0.5 else None
        body: dict[str, Any] = {"destination": destination, "purpose": purpose, "code": code}
        if named:
            body["verification_id"] = named
        op = Operation("verify", destination, purpose, 0.0, vid=named or vid, guess=guess)
        op = self._call(op, "/verify", body)
        if named is None and op.status == 200:
            op.vid = op.body.get("verification_id")
        if op.status == 200:
            with self._lock:  # used: later guesses go elsewhere, mostly
                if self.latest.get((destination, purpose), (None,))[0] == op.vid:
                    del self.latest[(destination, purpose)]
        op.body["named"] = named is not None
        return op

    def _call(self, op: Operation, path: str, body: Any, post: bool = True) -> Operation:
        op.invoked = time.time()
        try:
            if post:
                reply = self._http().post(self.url + path, json=body, timeout=30)
            else:
                reply = self._http().get(self.url + path, timeout=30)
            op.status = reply.status_code
            op.body = reply.json()
        except (requests.RequestException, ValueError) as exc:
            op.status, op.body = 0, {"error": {"code": "no_answer", "message": type(exc).__name__}}
        op.completed = time.time()
        with self._lock:
            self.history.append(op)
        return op

    def _newest_code(self, destination: str) -> str | None:
        messages = self._http().get(self.url + "/_local/outbox", timeout=30).json()["messages"]
        for message in reversed(messages):
            if message["destination"].casefold() == destination.casefold():
                found = re.search(rf"(?<!\d)\d{{{self.limits.code_length}}}(?!\d)", message["body"])
                return found.group(0) if found else None
        return None
