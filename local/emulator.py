"""An embedded AWS emulator (moto) on 127.0.0.1, and the outbox of what it delivered."""

from __future__ import annotations

import html.parser
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local.stack import TableShape


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
    def __init__(self, region: str) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per emulated AWS call otherwise
        self.region = region
        self.lock = threading.Lock()
        app = _OneRequestAtATime(DomainDispatcherApplication(create_backend_app), self.lock)
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-emulator", daemon=True)
        self._outbox: list[DeliveredMessage] = []
        self._seen_sms = 0
        self._seen_email = 0
        self._outbox_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def _client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 (the emulator's dummy credentials)
        )

    def provision(self, shape: TableShape, table_name: str, email_sender: str) -> tuple[str, str]:
        """Create the table, keys and sender identity the handlers expect.

        Returns the ARNs of the encryption key and of the HMAC key that keys the table's digests.
        """
        dynamodb = self._client("dynamodb")
        dynamodb.create_table(
            TableName=table_name,
            KeySchema=shape.key_schema,
            AttributeDefinitions=shape.attribute_definitions,
            BillingMode="PAY_PER_REQUEST",
        )
        if shape.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": shape.ttl_attribute}
            )
        kms = self._client("kms")
        key = kms.create_key(Description="otp local codes")["KeyMetadata"]
        digest_key = kms.create_key(
            Description="otp local digests", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
        )["KeyMetadata"]
        self._client("ses").verify_email_identity(EmailAddress=email_sender)
        return key["Arn"], digest_key["Arn"]

    def describe_table(self, table_name: str) -> dict[str, Any]:
        dynamodb = self._client("dynamodb")
        table = dynamodb.describe_table(TableName=table_name)["Table"]
        table["TimeToLive"] = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        return table

    def collect(self) -> list[DeliveredMessage]:
        """Messages delivered since the last call, oldest first."""
        from moto.ses.models import ses_backends
        from moto.sns.models import sns_backends

        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self.lock, self._outbox_lock:
            sms = list(sns_backends[DEFAULT_ACCOUNT_ID][self.region].sms_messages.values())
            emails = list(ses_backends[DEFAULT_ACCOUNT_ID][self.region].sent_messages)
            fresh = [DeliveredMessage("sms", phone, None, text, now) for phone, text in sms[self._seen_sms :]]
            for email in emails[self._seen_email :]:
                for address in email.destinations.get("ToAddresses", []):
                    fresh.append(DeliveredMessage("email", address, email.subject, html_to_text(email.body), now))
            self._seen_sms, self._seen_email = len(sms), len(emails)
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
