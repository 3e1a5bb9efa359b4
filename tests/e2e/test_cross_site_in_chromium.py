"""Open routes against other web pages, in a real headless Chromium (contract, "Who is the caller").

The runner serves open routes (OPEN_ENDPOINTS=true) with one configured CORS origin. Two small
page servers on 127.0.0.1 stand for the backend's own web app (the configured origin) and for any
other site a victim visits (a foreign origin). The foreign page does what needs no permission from
the API: it submits plain HTML forms (text/plain and urlencoded) and makes fetch() calls. What
reached the service is read from the runner's access log, what was delivered from its outbox, and
whether an attempt was spent from the victim's verification.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Runner, start_runner, stop_runner
from tests.e2e.test_pages_in_chromium import devtools, pytestmark  # noqa: F401 (skips without Chromium)
from tests.helpers import wrong_code

VICTIM = "victim=verify@example.com"  # `=` is valid in an address, and text/plain forms write one
FORM_EMAIL = "victim=form@example.com"  # what the text/plain form would have delivered to
PLAIN_PHONE = "+14155552671"  # the fetch() text/plain sends
JSON_PHONE = "+12025550123"  # the foreign fetch() with application/json
APP_PHONE = "+61491570156"  # the configured origin's own call
PAGE_SECONDS = 20  # a hang, not slowness


class _Page(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:
        body = self.server.page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PageServer(ThreadingHTTPServer):
    """One web site on 127.0.0.1: its origin is http://127.0.0.1:<its port>."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Page)
        self.page = ""
        self.origin = f"http://127.0.0.1:{self.server_address[1]}"
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[PageServer, PageServer]]:
    app, foreign = PageServer(), PageServer()
    try:
        yield app, foreign
    finally:
        app.close()
        foreign.close()


@pytest.fixture(scope="module")
def open_runner_with_cors(runner_logs, sites) -> Iterator[Runner]:
    app, _ = sites
    started = start_runner(
        runner_logs,
        OPEN_ENDPOINTS="true",
        OTP_CORS_ORIGINS=app.origin,
        OTP_RESEND_COOLDOWN_SECONDS="0",
        OTP_MAX_SENDS_PER_WINDOW="0",
        OTP_MAX_SENDS_PER_IP="0",
    )
    yield started
    stop_runner(started)


def _form(action: str, enctype: str, target: str, fields: dict[str, str]) -> str:
    inputs = "".join(
        f'<input name="{html.escape(name)}" value="{html.escape(value)}">' for name, value in fields.items()
    )
    return (
        f'<iframe name="{target}"></iframe>'
        f'<form method="post" action="{action}" enctype="{enctype}" target="{target}">{inputs}</form>'
    )


def _as_text_plain(body: dict[str, str], last: str) -> dict[str, str]:
    """A text/plain form sends `name=value`: split JSON so that the `=` falls inside the field ``last``."""
    text = json.dumps(body)
    cut = text.index(f'"{last}": "') + len(f'"{last}": "') + body[last].index("=")
    return {text[:cut]: text[cut + 1 :]}


def foreign_page(api: str, verification_id: str, wrong: str) -> str:
    """Forms submitted on load, then fetch() calls; ``window.results`` says what each fetch saw."""
    generate = {"channel": "email", "purpose": "form", "destination": FORM_EMAIL}
    verify = {"code": wrong, "purpose": "default", "destination": VICTIM}
    forms = [
        _form(f"{api}/generate", "text/plain", "t1", _as_text_plain(generate, "destination")),
        _form(
            f"{api}/generate", "application/x-www-form-urlencoded", "t2", {"channel": "sms", "destination": PLAIN_PHONE}
        ),
        _form(f"{api}/generate", "multipart/form-data", "t5", {"channel": "sms", "destination": PLAIN_PHONE}),
        _form(f"{api}/verify", "text/plain", "t3", _as_text_plain(verify, "destination")),
        _form(f"{api}/verify", "application/x-www-form-urlencoded", "t4", {"destination": VICTIM, "code": wrong}),
    ]
    script = f"""
const api = {json.dumps(api)}, id = {json.dumps(verification_id)};
const seen = (promise) => promise.then(r => "status " + r.status, e => "blocked: " + e.name);
const plain = (path, body) => seen(fetch(api + path, {{method: "POST", headers: {{"Content-Type": "text/plain"}},
                                                     body: JSON.stringify(body)}}));
window.results = null;
window.addEventListener("load", async () => {{
  document.querySelectorAll("form").forEach(form => form.submit());
  const results = {{generate_plain: [], verify_plain: []}};
  for (let i = 0; i < 5; i++) {{
    results.generate_plain.push(await plain("/generate", {{channel: "sms", destination: {json.dumps(PLAIN_PHONE)}}}));
    results.verify_plain.push(await plain("/verify", {{destination: {json.dumps(VICTIM)}, code: {json.dumps(wrong)}}}));
  }}
  results.generate_json = await seen(fetch(api + "/generate", {{method: "POST",
      headers: {{"Content-Type": "application/json"}},
      body: JSON.stringify({{channel: "sms", destination: {json.dumps(JSON_PHONE)}}})}}));
  results.cancel = await seen(fetch(api + "/verifications/" + id + "/cancel", {{method: "POST"}}));
  results.read = await seen(fetch(api + "/verifications/" + id));
  window.results = results;
}});
"""
    return f"<!doctype html><meta charset='utf-8'><title>another site</title>{''.join(forms)}<script>{script}</script>"


def app_page(api: str) -> str:
    """The configured origin's page: JSON passes its preflight and the answer is readable."""
    script = f"""
const api = {json.dumps(api)};
const call = (type, body) => fetch(api + "/generate", {{method: "POST", headers: {{"Content-Type": type}},
    body: JSON.stringify(body)}}).then(async r => ({{status: r.status, body: await r.json()}}),
                                       e => ({{status: "blocked: " + e.name}}));
window.results = null;
(async () => {{
  const json = await call("application/json", {{channel: "sms", destination: {json.dumps(APP_PHONE)}, purpose: "app"}});
  const plain = await call("text/plain", {{channel: "sms", destination: {json.dumps(APP_PHONE)}, purpose: "plain"}});
  window.results = {{json, plain}};
}})();
"""
    return f"<!doctype html><meta charset='utf-8'><title>the app</title><script>{script}</script>"


def access_lines(runner: Runner) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in runner.logs().splitlines() if '"message": "access"' in line]
    return [line for line in lines if not line["path"].startswith("/_local/")]


def answered(lines: list[dict[str, Any]]) -> Counter[tuple[str, str, int]]:
    """(method, route, status) of each request, the verification id folded into its route."""
    counted: Counter[tuple[str, str, int]] = Counter()
    for line in lines:
        route = "/verifications/{id}" + ("/cancel" if line["path"].endswith("/cancel") else "")
        path = line["path"] if not line["path"].startswith("/verifications/") else route
        counted[(line["method"], path, line["status"])] += 1
    return counted


def wait_for_requests(runner: Runner, seen_before: int, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + PAGE_SECONDS
    while len(lines := access_lines(runner)[seen_before:]) < count:
        assert time.monotonic() < deadline, f"only {len(lines)} of {count} requests arrived: {lines}"
        time.sleep(0.1)
    return lines


def test_another_site_can_neither_send_nor_spend_an_attempt_and_the_configured_origin_can(
    open_runner_with_cors, sites, tmp_path
):
    runner, (app, foreign) = open_runner_with_cors, sites
    # The victim's pending code, asked for by the backend (no Origin, JSON): the one to protect.
    seen_before = len(access_lines(runner))
    started, code = runner.generate(VICTIM, channel="email")
    verification_id = started.json()["verification_id"]
    # A worker may write its access line just after it answers: count the foreign page's from after it.
    seen_before += len(wait_for_requests(runner, seen_before, 1))
    delivered_before = len(runner.outbox())
    foreign.page = foreign_page(runner.url, verification_id, wrong_code(code))
    app.page = app_page(runner.url)
    with devtools(tmp_path / "profile") as browser:
        browser.open(foreign.origin + "/", 1280, 900)
        fetches = browser.wait_for("window.results", PAGE_SECONDS)
        # 5 forms, 5 + 5 text/plain fetches, 1 preflight, 1 cancel, 1 read.
        from_foreign = answered(wait_for_requests(runner, seen_before, 18))
        delivered_from_foreign = len(runner.outbox()) - delivered_before
        victim = runner.get(f"/verifications/{verification_id}").json()
        browser.open(app.origin + "/", 1280, 900)
        from_app = browser.wait_for("window.results", PAGE_SECONDS)
    summary = {
        "foreign": {"fetch": fetches, "requests": {" ".join(map(str, k)): v for k, v in from_foreign.items()}},
        "delivered_from_foreign": delivered_from_foreign,
        "victim": {k: victim.get(k) for k in ("status", "attempts_remaining")},
        "app": {k: v["status"] for k, v in from_app.items()},
    }
    print("cross-site in Chromium:", json.dumps(summary, indent=1))

    # Forms and text/plain fetches: refused before anything else, so nothing sent, nothing spent.
    assert from_foreign[("POST", "/generate", 415)] == 3 + 5
    assert from_foreign[("POST", "/verify", 415)] == 2 + 5
    # The JSON fetch stopped at its preflight: no CORS headers for that origin, so no POST at all.
    assert from_foreign[("OPTIONS", "/generate", 204)] == 1
    assert fetches["generate_json"].startswith("blocked")
    # What needs no preflight but carries the foreign Origin: 403 origin_not_allowed.
    assert from_foreign[("POST", "/verifications/{id}/cancel", 403)] == 1
    assert from_foreign[("GET", "/verifications/{id}", 403)] == 1
    assert sum(from_foreign.values()) == 18, from_foreign
    # The browser withholds every answer from the foreign page (no CORS headers for it).
    assert all(result.startswith("blocked") for result in fetches["generate_plain"] + fetches["verify_plain"])
    assert summary["delivered_from_foreign"] == 0
    assert summary["victim"]["status"] == "pending"
    assert summary["victim"]["attempts_remaining"] == 5

    # The configured origin: JSON passes its preflight, is sent, and its answer is readable.
    assert from_app["json"]["status"] == 201, from_app
    assert from_app["json"]["body"]["destination"].startswith("+61")
    assert [m["destination"] for m in runner.outbox()[delivered_before:]] == [APP_PHONE]
    # Even from there, anything but JSON is 415.
    assert from_app["plain"]["status"] == 415
    assert from_app["plain"]["body"]["error"]["code"] == "unsupported_media_type"
    # And the victim's own code still verifies: no attempt was spent.
    assert runner.post("/verify", {"destination": VICTIM, "code": code}).status_code == 200


def test_the_runner_answers_preflights_as_api_gateway_does(open_runner_with_cors, sites):
    runner, (app, foreign) = open_runner_with_cors, sites
    asking = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = requests.options(runner.url + "/generate", timeout=30, headers={"Origin": app.origin, **asking})
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == app.origin
    assert "content-type" in allowed.headers["Access-Control-Allow-Headers"].split(",")
    for origin, extra in ((foreign.origin, {}), (app.origin, {"Access-Control-Request-Headers": "x-evil"})):
        refused = requests.options(runner.url + "/generate", timeout=30, headers={"Origin": origin, **asking, **extra})
        assert refused.status_code == 204 and "Access-Control-Allow-Origin" not in refused.headers
    reply = runner.post("/generate", {"channel": "sms", "destination": APP_PHONE, "purpose": "headers"})
    assert reply.status_code == 201 and "Access-Control-Allow-Origin" not in reply.headers  # no Origin, no CORS
