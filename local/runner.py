"""`make run`: the Lambda handlers on http://127.0.0.1:3000 against an embedded AWS emulator.

No AWS account, Docker or Node: moto stands in for KMS, DynamoDB, SNS and SES, and every message
"sent" lands in the outbox (GET /_local/outbox) and on this terminal.

stdout carries the service's logs exactly as CloudWatch would receive them, plus one access-log
line per request; stderr shows the banner and the delivered messages, as a phone or inbox would.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local import cors, pages, sigv4, stack
from local.blocks import LocalBlocks, answer_blocks
from local.consumer import provisioned_emulator, stream_consumer
from local.emulator import SHUTDOWN_POLL_SECONDS
from local.events import BadBody, http_api_event, read_chunked
from local.options import options, schedule_seconds
from local.terminal import banner, say, show_message, warn_of_long_sms
from local.workers import WorkerPool, write_log_line

MAX_REQUEST_BYTES = 1024 * 1024
CLIENT_GONE = 499  # nginx's "client closed request": no answer reached anyone
IDLE_CONNECTION_SECONDS = 60  # a silent client's thread is freed after this
OUTBOX_WAIT_SECONDS = 25  # a long poll of the outbox answers by then, changed or not
OPENAPI_FILE = stack.ROOT / "openapi.json"
INBOX_HEADERS = {"Content-Security-Policy": pages.INBOX_POLICY, "Cache-Control": "no-store"}


def _gone_line(error: str, source_ip: str) -> dict[str, Any]:
    return {"level": "WARNING", "message": "client disconnected", "error": error, "source_ip": source_ip}


class LocalApi(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # bursts of parallel clients queue instead of being reset

    def __init__(
        self, address: tuple[str, int], routes: list[stack.Route], pool: Any, emulator: Any, open_endpoints: bool
    ) -> None:
        super().__init__(address, RequestHandler)
        self.routes = routes
        self.pool = pool
        self.emulator = emulator
        self.open_endpoints = open_endpoints
        self.settings: Any = None  # the validated OTP_* settings, for the message review page
        self._outbox_change = threading.Condition()
        self._outbox_version = 0
        self.sigv4: sigv4.SigV4Check | None = None  # SIGV4=true: API Gateway's IAM authorizer
        self.cors: cors.Cors | None = None  # API Gateway's CORS answers, when OTP_CORS_ORIGINS is set
        self.blocks: LocalBlocks | None = None  # the pumping guard's block list, for operators
        port = self.server_address[1]
        # Only names of this machine: a page on another origin that rebinds its DNS name to
        # 127.0.0.1 still sends its own Host, and so cannot read the outbox.
        self.allowed_hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}

    def outbox_changed(self) -> None:
        with self._outbox_change:
            self._outbox_version += 1
            self._outbox_change.notify_all()

    def outbox_version(self, after: str) -> int:
        """The outbox's version; with ``after`` the caller's, first waits a while for it to change.

        The inbox page long-polls this way: one request, and one log line, per change (or per
        OUTBOX_WAIT_SECONDS), not one a second.
        """
        with self._outbox_change:
            if after.isascii() and after.isdigit() and int(after) == self._outbox_version:
                self._outbox_change.wait_for(lambda: self._outbox_version != int(after), OUTBOX_WAIT_SECONDS)
            return self._outbox_version

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished outside a request (reset while we read its request line) gets one line."""
        kind = sys.exc_info()[0]
        if kind is not None and issubclass(kind, ConnectionError | TimeoutError):
            write_log_line(json.dumps(_gone_line(kind.__name__, client_address[0])))
            return
        super().handle_error(request, client_address)

    def match(self, method: str, path: str) -> tuple[stack.Route | None, dict[str, str], list[str]]:
        """The route for a request, its path parameters, and the methods its path allows."""
        allowed: list[str] = []
        for route in self.routes:
            parameters = route.match(path)
            if parameters is None:
                continue
            if route.method == method:
                return route, parameters, []
            allowed.append(route.method)
        return None, {}, sorted(allowed)


class RequestHandler(BaseHTTPRequestHandler):
    server: LocalApi
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; without this, keep-alive clients wait out a
    # delayed ACK (about 40 ms) on every request.
    disable_nagle_algorithm = True
    timeout = IDLE_CONNECTION_SECONDS

    def log_message(self, format: str, *args: Any) -> None:
        pass  # replaced by one structured line per request in _access_log

    def log_error(self, format: str, *args: Any) -> None:
        # http.server calls this only when a client went silent before its request line ended.
        write_log_line(json.dumps(_gone_line("TimeoutError", self.client_address[0])))

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD>; any method without one (TRACE, PROPFIND...) still
        # gets a JSON answer instead of the stock HTML 501.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The server's own refusals (a malformed request line, an oversized header) in JSON too."""
        self.close_connection = True
        self._json(code, {"error": {"code": "invalid_request", "message": message or "Malformed HTTP request."}})

    def _dispatch(self) -> None:
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        path, _, query = self.path.partition("?")
        try:
            status = self._route(path, query, request_id)
        except (ConnectionError, TimeoutError) as exc:
            # The client left (closed, reset, or went silent) before its answer was written:
            # nobody is there to read an error, so one log line says what happened.
            self.close_connection = True
            self._access_log(path, CLIENT_GONE, started, request_id, gone=type(exc).__name__)
            return
        self._access_log(path, status, started, request_id)

    def _route(self, path: str, query: str, request_id: str) -> int:
        if self.headers.get("host") not in self.server.allowed_hosts:
            self.close_connection = True
            return self._json(403, {"error": {"code": "forbidden_host", "message": "Use 127.0.0.1 or localhost."}})
        body = self._body()
        if isinstance(body, int):
            return body
        if path.startswith("/_local/"):
            return self._local(path, query)
        route, parameters, allowed = self.server.match(self.command, path)
        if self.server.cors and allowed:
            preflight = self.server.cors.preflight(self.command, self._headers())
            if preflight is not None:
                return self._send(204, b"", preflight)
        if route is None and allowed:
            return self._json(
                405,
                {"error": {"code": "method_not_allowed", "message": f"Use {', '.join(allowed)} for {path}."}},
                {"Allow": ", ".join(allowed)},
            )
        if route is None:
            return self._json(404, {"error": {"code": "not_found", "message": f"No route for {path}."}})
        refusal = self.server.sigv4 and self.server.sigv4.refusal(self.command, path, query, self.headers.items(), body)
        if refusal:
            return self._json(403, {"message": refusal})
        return self._invoke(route, parameters, path, query, body, request_id)

    def _body(self) -> bytes | int:
        """The request's body, read to its declared end; or the status of the error answered instead."""
        declared = self.headers.get("content-length")
        coding = self.headers.get("transfer-encoding")
        if coding is not None:
            # Both a length and a transfer coding is how requests are smuggled past a proxy: refuse it.
            if coding.strip().lower() != "chunked" or declared is not None:
                return self._refuse(400, "invalid_request", "Use Content-Length or Transfer-Encoding: chunked.")
            try:
                return read_chunked(self.rfile, MAX_REQUEST_BYTES)
            except BadBody as problem:
                return self._refuse(problem.status, problem.code, str(problem))
        declared = declared or "0"
        if not declared.isascii() or not declared.isdigit():
            # Unreadable as a length: the body's end is unknown, so the connection cannot be reused.
            return self._refuse(400, "invalid_request", "Content-Length is not valid.")
        if int(declared) > MAX_REQUEST_BYTES:
            return self._refuse(413, "payload_too_large", "The body is too large.")
        body = self.rfile.read(int(declared)) if int(declared) else b""
        if len(body) < int(declared):
            raise ConnectionAbortedError("the client closed before sending its whole body")
        return body

    def _refuse(self, status: int, code: str, message: str) -> int:
        # The body's end is unknown or was not read, so the connection cannot carry another request.
        self.close_connection = True
        return self._json(status, {"error": {"code": code, "message": message}})

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        return headers

    def _invoke(
        self, route: stack.Route, parameters: dict[str, str], path: str, query: str, body: bytes, request_id: str
    ) -> int:
        headers = self._headers()
        headers.setdefault("x-forwarded-for", self.client_address[0])
        headers.setdefault("x-forwarded-proto", "http")
        try:
            text: str | None = body.decode("utf-8")
            binary = False
        except UnicodeDecodeError:
            text, binary = None, True
        event = http_api_event(
            self.command,
            path,
            (body if binary else text) if body else None,
            headers=headers,
            source_ip=self.client_address[0],
            query_string=query,
            base64_body=binary,
            request_id=request_id,
            iam_authorized=not self.server.open_endpoints,
            path_parameters=parameters,
            route_key=f"{route.method} {route.path}",
        )
        result = self.server.pool.invoke(route.function, event, str(uuid.uuid4()))
        fresh = self.server.emulator.collect()
        for message in fresh:
            show_message(message)
        if fresh:
            self.server.outbox_changed()
        if result is None:
            return self._json(500, {"message": "Internal Server Error"})
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode("utf-8")
        extra = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        extra.update(self.server.cors.allow(headers) if self.server.cors else {})
        cookies = result.get("cookies") or []
        return self._send(int(result.get("statusCode", 200)), raw, extra, cookies)

    def _local(self, path: str, query: str) -> int:
        emulator = self.server.emulator
        if path == "/_local/outbox" and self.command == "GET":
            version = self.server.outbox_version(urllib.parse.parse_qs(query).get("after", [""])[0])
            messages = [m.as_json() for m in emulator.outbox()]
            return self._json(200, {"messages": messages}, {"X-Outbox-Version": str(version)})
        if path == "/_local/outbox" and self.command == "DELETE":
            emulator.clear_outbox()
            self.server.outbox_changed()
            return self._send(204, b"", {})
        if path == "/_local/openapi.json" and self.command == "GET":
            return self._send(200, OPENAPI_FILE.read_bytes(), {"Content-Type": "application/json"})
        if path in ("/_local/docs", "/_local/docs/") and self.command == "GET":
            return self._send(200, pages.DOCS_PAGE.encode(), {"Content-Type": "text/html; charset=utf-8"})
        if path.startswith("/_local/docs/") and self.command == "GET":
            name = path.removeprefix("/_local/docs/")
            asset = pages.swagger_asset(name)
            if asset is not None:
                return self._send(200, asset, {"Content-Type": pages.SWAGGER_ASSETS[name]})
        if path == "/_local/inbox" and self.command == "GET":
            inbox = pages.inbox_page(self.server.settings.code_length).encode()
            return self._send(200, inbox, {"Content-Type": "text/html; charset=utf-8", **INBOX_HEADERS})
        if path == "/_local/messages" and self.command == "GET":
            page = pages.messages_page(self.server.settings)
            return self._send(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
        if (path == "/_local/blocks" and self.command == "GET") or (
            path.startswith("/_local/blocks/") and self.command == "DELETE"
        ):
            return self._blocks(urllib.parse.unquote(path.removeprefix("/_local/blocks").lstrip("/")))
        return self._json(404, {"error": {"code": "not_found", "message": f"No local route for {path}."}})

    def _blocks(self, prefix: str) -> int:
        status, body = answer_blocks(self.server.blocks, self.command, prefix)
        return self._json(status, body)

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> int:
        # UTF-8 as JSON is, not \u escapes: the outbox is read by people too (Hindi, accents).
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return self._send(status, data, {"Content-Type": "application/json", **(headers or {})})

    def _send(self, status: int, body: bytes, headers: dict[str, str], cookies: list[str] | None = None) -> int:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        for cookie in cookies or []:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return status

    def _access_log(self, path: str, status: int, started: float, request_id: str, gone: str | None = None) -> None:
        line: dict[str, Any] = {
            "level": "INFO",
            "message": "access",
            "method": self.command,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "source_ip": self.client_address[0],
            "request_id": request_id,
        }
        if gone is not None:
            line.update(level="WARNING", message="client disconnected", error=gone)
        write_log_line(json.dumps(line))


def _stop_on_sigterm(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        port, workers, open_endpoints, signing, settings = options()
        schedule = schedule_seconds()
    except ValueError as exc:
        say(f"otp-local: {exc}")
        return 2
    return _serve(port, workers, open_endpoints, signing, settings, schedule)


def _serve(port: int, workers: int, open_endpoints: bool, signing: Any, settings: Any, schedule: float | None) -> int:
    # Benchmarks serve a trivial handler beside ours from a copy of serverless.yml.
    config = stack.load(Path(os.environ.get("LOCAL_SERVERLESS_YML", stack.SERVERLESS_YML)))
    region = stack.default_region(config)
    routes = stack.routes(config)

    emulator, shape, digest_key_arn = provisioned_emulator(config, region, settings)
    try:
        consumer = stream_consumer(config, shape, emulator, schedule)
    except ValueError as exc:
        say(f"otp-local: {exc}")
        emulator.stop()
        return 2

    pool = WorkerPool(routes, size=max(1, workers), environment=emulator.credentials.environment())
    try:
        api = LocalApi(("127.0.0.1", port), routes, pool, emulator, open_endpoints)
    except OSError as exc:
        say(f"otp-local: cannot listen on 127.0.0.1:{port}: {exc.strerror}. Set PORT to another port.")
        emulator.stop()
        return 2
    consumer.boot()
    try:
        pool.start()
    except RuntimeError as exc:
        say(f"otp-local: the handlers failed to start: {exc}")
        consumer.stop()
        emulator.stop()
        return 2
    api.settings = settings
    if consumer.poller:
        api.blocks = LocalBlocks(emulator, settings.table_name, digest_key_arn, settings.pumping.window_seconds)
    api.sigv4 = signing
    api.cors = cors.from_config(config, settings.cors_origins) if settings.cors_origins else None
    url = f"http://127.0.0.1:{api.server_address[1]}"
    banner(url, emulator.url, workers, api.open_endpoints)
    warn_of_long_sms(settings, url)
    for line in signing.banner() if signing else []:
        say(line)
    consumer.banner(url)
    consumer.start()  # before the API answers: a thread starting during a Ctrl-C would end in a traceback
    try:
        _answer_until_stopped(api)
    finally:
        consumer.stop()
        pool.stop()
        emulator.stop()
    say("Stopped.")
    return 0


def _answer_until_stopped(api: LocalApi) -> None:
    serving = threading.Thread(
        target=api.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, name="local-api", daemon=True
    )
    try:
        # Inside the try: the API may answer, and its caller press Ctrl-C, before start() returns.
        serving.start()
        while serving.is_alive():
            serving.join(timeout=0.5)
    except KeyboardInterrupt:
        say("\nStopping...")
    finally:
        if serving.ident is not None:  # shutdown() would wait forever for a loop that never ran
            api.shutdown()


if __name__ == "__main__":
    sys.exit(main())
