"""An embedded AWS emulator (moto) on 127.0.0.1, and the outbox of what it delivered.

The emulator holds every code the runner issued and the keys that decrypt them, so it answers only
its own clients: requests for 127.0.0.1:<its port>, from no browser, signed (SigV4) with the
credentials of this run. moto's own control API (/moto-api: its state as JSON, reset) stays shut;
the runner reads deliveries in-process instead.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import html.parser
import io
import json
import logging
import os
import re
import secrets
import threading
import urllib.parse
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import make_server
from werkzeug.wsgi import get_input_stream

from local.messaging import LocalMessaging
from local.stack import TableShape

MAX_SIGNATURE_SKEW = timedelta(minutes=5)  # as AWS allows
MAX_EMULATED_BODY_BYTES = 16 * 1024 * 1024
SHUTDOWN_POLL_SECONDS = 0.05
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[A-Za-z0-9]+)/(?P<day>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


def isolate_from_real_aws(emulator_url: str, region: str) -> None:
    """Point every AWS client of this process and its workers at the emulator, whatever the shell says.

    The credentials left in the environment are the public `local` pair, which the runner's emulator
    refuses: its workers get this run's secret pair through their pipe (local.workers).
    """
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
            del os.environ[name]
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": emulator_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )


@dataclass(frozen=True)
class EmulatorCredentials:
    """The access key the emulator accepts signatures from. repr never shows the secret."""

    access_key_id: str
    secret_access_key: str = field(repr=False)

    @classmethod
    def fresh(cls) -> EmulatorCredentials:
        """A random pair for one run: known only to the runner and its workers."""
        # Not 12 digits: moto would read those as an account id, and the outbox reads the default account.
        return cls(f"LOCALRUN{secrets.token_hex(6).upper()}", secrets.token_urlsafe(32))

    def environment(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


# For short-lived emulators inside tests and tools, whose clients sign with the public pair. The
# runner, which stays up beside a browser, makes a fresh pair for every run instead.
PUBLIC_TEST_CREDENTIALS = EmulatorCredentials("local", "local")


def _header(environ: dict[str, Any], name: str) -> str | None:
    key = name.upper().replace("-", "_")
    return environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}")


def _refuse(environ: dict[str, Any], start_response: Any, reason: str) -> list[bytes]:
    """A 403 that the caller's AWS SDK reads as AccessDenied: XML for query-protocol calls, else JSON."""
    if (_header(environ, "content-type") or "").startswith("application/x-www-form-urlencoded"):
        payload = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{html.escape(reason)}</Message></Error></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    else:
        payload = json.dumps({"__type": "AccessDeniedException", "message": reason}).encode()
        content_type = "application/json"
    start_response("403 Forbidden", [("Content-Type", content_type), ("Content-Length", str(len(payload)))])
    return [payload]


class _OwnClientsOnly:
    """WSGI guard in front of the emulator: refuses what did not come from the runner's own AWS clients."""

    def __init__(self, app: Any, credentials: EmulatorCredentials) -> None:
        self._app = app
        self._credentials = credentials
        self.host = ""  # 127.0.0.1:<port>, set once the server is bound

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            body = get_input_stream(environ, max_content_length=MAX_EMULATED_BODY_BYTES).read()
        except RequestEntityTooLarge:
            return _refuse(environ, start_response, "The body is too large.")
        refusal = self._refusal(environ, body)
        if refusal is not None:
            return _refuse(environ, start_response, refusal)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)

        def without_cors(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            # moto answers every origin (Access-Control-Allow-Origin: *); no page may read it.
            kept = [(name, value) for name, value in headers if not name.lower().startswith("access-control-")]
            return start_response(status, kept, *rest)

        return self._app(environ, without_cors)

    def _refusal(self, environ: dict[str, Any], body: bytes) -> str | None:
        """Why the request is refused, or None for a call from this run's own clients."""
        if environ.get("HTTP_HOST") != self.host:
            return "This emulator answers only requests for its own address."
        if environ.get("REQUEST_METHOD") == "OPTIONS" or any(
            _header(environ, name) is not None for name in ("origin", "sec-fetch-mode", "sec-fetch-site")
        ):
            return "This emulator does not answer browsers."
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return "The emulator's control API is closed."
        return self._signature_problem(environ, body)

    def _signature_problem(self, environ: dict[str, Any], body: bytes) -> str | None:
        found = _AUTHORIZATION.fullmatch(_header(environ, "authorization") or "")
        if found is None:
            return "Sign requests with Signature Version 4 (AWS4-HMAC-SHA256 in the Authorization header)."
        if not hmac.compare_digest(found["key"], self._credentials.access_key_id):
            return "The access key is not this emulator's."
        stamp = _header(environ, "x-amz-date") or ""
        try:
            signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return "X-Amz-Date is missing or malformed."
        if found["day"] != stamp[:8] or abs(datetime.now(UTC) - signed_at) > MAX_SIGNATURE_SKEW:
            return "The signature is not from now."
        names = found["signed"].split(";")
        if "host" not in names or "x-amz-date" not in names:
            return "The signature must cover Host and X-Amz-Date."
        declared_hash = _header(environ, "x-amz-content-sha256")
        if declared_hash is not None and declared_hash != hashlib.sha256(body).hexdigest():
            return "X-Amz-Content-SHA256 is not the body's hash."
        headers: dict[str, str] = {}
        for name in names:
            value = _header(environ, name)
            if value is None:
                return f"The signed header {name} is missing."
            headers[name] = value
        expected = self._expected_signature(environ, headers, body, found)
        if not hmac.compare_digest(expected, found["signature"]):
            return "The request signature does not match."
        return None

    def _expected_signature(
        self, environ: dict[str, Any], headers: dict[str, str], body: bytes, found: re.Match[str]
    ) -> str:
        """What botocore's own signer computes for this request with this run's secret."""
        target = urllib.parse.urlsplit(environ.get("RAW_URI") or environ.get("PATH_INFO", "/"))
        url = f"http://{self.host}{target.path or '/'}" + (f"?{target.query}" if target.query else "")
        request = AWSRequest(method=environ["REQUEST_METHOD"], url=url, headers=headers, data=body)
        request.context["timestamp"] = headers["x-amz-date"]
        credentials = Credentials(self._credentials.access_key_id, self._credentials.secret_access_key)
        signer = SigV4Auth(credentials, found["service"], found["region"])
        return str(signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request))


class _OneRequestAtATime:
    """DynamoDB applies each conditional write atomically; moto checks a condition and writes in
    separate Python steps. Serving one emulator request at a time restores that guarantee, so
    concurrent requests to the runner race the way they would against AWS."""

    def __init__(self, app: Any, lock: threading.Lock) -> None:
        self._app = app
        self._lock = lock

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self._lock:
            return list(self._app(environ, start_response))


@dataclass(frozen=True)
class DeliveredMessage:
    channel: str
    destination: str
    subject: str | None
    body: str
    sent_at: str

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "channel": self.channel,
            "destination": self.destination,
            "subject": self.subject,
            "body": self.body,
            "sent_at": self.sent_at,
        }
        if self.channel == "sms":
            from otp.messages import segments_of

            shown["encoding"], shown["segments"] = segments_of(self.body)
        return shown


class _TextOf(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.parts.append(data.strip())


def html_to_text(markup: str) -> str:
    parser = _TextOf()
    parser.feed(markup)
    return " ".join(parser.parts)


class Emulator:
    def __init__(self, region: str, credentials: EmulatorCredentials = PUBLIC_TEST_CREDENTIALS) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per emulated AWS call otherwise
        self.region = region
        self.credentials = credentials
        self.lock = threading.Lock()
        moto = _OneRequestAtATime(DomainDispatcherApplication(create_backend_app), self.lock)
        # moto has no End User Messaging or Social backend: their calls go to the local emulation,
        # behind the same guard, so the same adapters run unchanged and nothing else can call it.
        self.messaging = LocalMessaging()

        def dispatch(environ: dict[str, Any], start_response: Any) -> Any:
            if self.messaging.handles(environ):
                return self.messaging.app(environ, start_response)
            return moto(environ, start_response)

        guard = _OwnClientsOnly(dispatch, credentials)
        self._server = make_server("127.0.0.1", 0, guard, threaded=True, request_handler=MotoRequestHandler)
        guard.host = f"127.0.0.1:{self._server.server_address[1]}"
        # A short poll: shutdown() waits for the next one, and every runner stop pays it.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="aws-emulator",
            daemon=True,
        )
        self._outbox: list[DeliveredMessage] = []
        self.stream_arn: str | None = None  # the provisioned table's stream, when it has one
        self._seen_sms = 0
        self._seen_email = 0
        self._seen_messaging = 0
        self._outbox_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def client(self, service: str) -> Any:
        """A boto3 client of this emulator, signing with its credentials, for code in the runner's process."""
        make: Any = boto3.client  # typed per service literal; the name here is any service's
        return make(
            service,
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id=self.credentials.access_key_id,
            aws_secret_access_key=self.credentials.secret_access_key,
        )

    def provision(self, shape: TableShape, table_name: str, email_sender: str) -> tuple[str, str]:
        """Create the table, keys and sender identity the handlers expect.

        Returns the ARNs of the encryption key and of the HMAC key that keys the table's digests.
        """
        dynamodb = self.client("dynamodb")
        table: dict[str, Any] = {}
        if shape.stream_view_type:
            table["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": shape.stream_view_type}
        created = dynamodb.create_table(
            TableName=table_name,
            KeySchema=shape.key_schema,
            AttributeDefinitions=shape.attribute_definitions,
            BillingMode="PAY_PER_REQUEST",
            **table,
        )
        self.stream_arn = created["TableDescription"].get("LatestStreamArn")
        if shape.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": shape.ttl_attribute}
            )
        kms = self.client("kms")
        key = kms.create_key(Description="otp local codes")["KeyMetadata"]
        digest_key = kms.create_key(
            Description="otp local digests", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
        )["KeyMetadata"]
        self.client("ses").verify_email_identity(EmailAddress=email_sender)
        return key["Arn"], digest_key["Arn"]

    def describe_table(self, table_name: str) -> dict[str, Any]:
        dynamodb = self.client("dynamodb")
        table = dynamodb.describe_table(TableName=table_name)["Table"]
        table["TimeToLive"] = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        return table

    def forget_shard_iterators(self, keep: Collection[str]) -> None:
        """moto stores every shard iterator it hands out, for ever: a runner polling its stream a few
        times a second would grow without bound. Only ``keep``, the poller's next ones, are still used."""
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        with self.lock:
            iterators = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][self.region].shard_iterators
            for name in [name for name in iterators if name not in keep]:
                del iterators[name]

    def collect(self) -> list[DeliveredMessage]:
        """Messages delivered since the last call, oldest first."""
        from moto.ses.models import ses_backends
        from moto.sns.models import sns_backends

        with self.lock, self._outbox_lock:
            # Taken under the lock: two collections at once still stamp in the order they append.
            now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            sms = list(sns_backends[DEFAULT_ACCOUNT_ID][self.region].sms_messages.values())
            emails = list(ses_backends[DEFAULT_ACCOUNT_ID][self.region].sent_messages)
            fresh = [DeliveredMessage("sms", phone, None, text, now) for phone, text in sms[self._seen_sms :]]
            for email in emails[self._seen_email :]:
                for address in email.destinations.get("ToAddresses", []):
                    fresh.append(DeliveredMessage("email", address, email.subject, html_to_text(email.body), now))
            sent = self.messaging.messages()
            for other in sent[self._seen_messaging :]:
                # Stamped when collected, as SNS and SES messages are, so the outbox stays in time order.
                fresh.append(DeliveredMessage(other.channel, other.destination, None, other.body, now))
            self._seen_sms, self._seen_email, self._seen_messaging = len(sms), len(emails), len(sent)
            self._outbox.extend(fresh)
        return fresh

    def outbox(self) -> list[DeliveredMessage]:
        self.collect()
        with self._outbox_lock:
            return list(self._outbox)

    def clear_outbox(self) -> None:
        self.collect()
        with self._outbox_lock:
            self._outbox.clear()
