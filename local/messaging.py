"""A local stand-in for the AWS messaging APIs moto lacks: End User Messaging SMS and voice, its
Notify templates (``pinpoint-sms-voice-v2``) and End User Messaging Social (``socialmessaging``).

It answers the operations the adapters call, on the wire as AWS does (JSON 1.0 with X-Amz-Target;
REST JSON for Social), so the same adapters and botocore clients run against it unchanged. Every
request is checked against botocore's own service model (required and unknown members, types,
lengths, patterns, enums, ranges) and refused with a ValidationException as AWS would. What it
accepts is recorded as the user would get it: the SMS text, the words a call speaks, the WhatsApp
template as it reads, with the raw parameters for tests. ``fail_next`` makes the next calls of an
operation fail with a modeled error, on the wire, beneath botocore's retries.

Mount it beside moto: ``handles(environ)`` tells whether a request is for it, ``app`` is WSGI.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel, Shape

SMS_VOICE_TARGET = "PinpointSMSVoiceV2."
SOCIAL_SIGNING_NAME = "social-messaging"
_SOCIAL_PATHS = {("POST", "/v1/whatsapp/send"): "SendWhatsAppMessage"}
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/[0-9]{8}/[^/]+/([^/]+)/aws4_request")
# What AWS's Notify templates say, for the outbox: the real text is AWS's pre-approved template.
NOTIFY_TEXT = "Your verification code is {code}. Do not share it with anyone."
NOTIFY_VOICE = "Your verification code is {digits}. Again, your code is {digits}."
# Meta's authentication template as the user reads it, and its copy-code button.
WHATSAPP_TEXT = "{code} is your verification code. For your security, do not share this code. [Copy code]"
ResponseStart = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class Sent:
    channel: str  # "sms" | "voice" | "whatsapp"
    destination: str
    subject: str | None
    body: str  # as the user reads or hears it
    sent_at: str
    operation: str
    parameters: dict[str, Any] = field(repr=False)  # the request as sent, blobs decoded

    def as_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "destination": self.destination,
            "subject": self.subject,
            "body": self.body,
            "sent_at": self.sent_at,
        }


class Refusal(Exception):
    def __init__(self, code: str, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(message)
        self.code, self.status, self.fields = code, status, fields


class LocalMessaging:
    def __init__(self) -> None:
        from otp.aws.clients import new_session

        session = new_session()  # the models the adapters use: the shipped ones first
        self._models = {
            "sms-voice": session.get_service_model("pinpoint-sms-voice-v2"),
            "social": session.get_service_model("socialmessaging"),
        }
        self._lock = threading.Lock()
        self._sent: list[Sent] = []
        self._feedback: list[dict[str, Any]] = []
        self._failures: dict[str, list[tuple[str, int | None]]] = {}

    # What the runner and tests use.
    def handles(self, environ: dict[str, Any]) -> bool:
        if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(SMS_VOICE_TARGET):
            return True
        scope = _CREDENTIAL_SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
        return scope is not None and scope.group(1) == SOCIAL_SIGNING_NAME

    def messages(self) -> list[Sent]:
        with self._lock:
            return list(self._sent)

    def feedback(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._feedback)

    def fail_next(self, operation: str, error_code: str, times: int = 1, status: int | None = None) -> None:
        """The next ``times`` calls of ``operation`` answer ``error_code`` (with its modeled status)."""
        operation_model = self._operation(operation)
        if error_code not in {shape.name for shape in operation_model.error_shapes}:
            raise ValueError(f"{operation} does not return {error_code}")
        with self._lock:
            self._failures.setdefault(operation, []).extend([(error_code, status)] * times)

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()
            self._feedback.clear()
            self._failures.clear()

    # The WSGI application.
    def app(self, environ: dict[str, Any], start_response: ResponseStart) -> Iterable[bytes]:
        service, operation = self._route(environ)
        try:
            if operation is None:
                raise Refusal("UnknownOperationException", "this emulator does not answer that operation")
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            try:
                params = json.loads(raw or b"{}")
            except ValueError:
                raise Refusal("SerializationException", "the body is not JSON") from None
            operation_model = self._models[service].operation_model(operation)
            problems = check(operation_model.input_shape, params, "") if operation_model.input_shape else []
            if problems:
                raise Refusal("ValidationException", "; ".join(problems), Reason="FIELD_VALIDATION_FAILED")
            self._fail_if_armed(operation_model)
            if operation == "SendWhatsAppMessage":  # a blob: base64 on the wire, the JSON body inside
                params = {**params, "message": base64.b64decode(params["message"]).decode("utf-8", "replace")}
            answer = self._accept(operation, params)
            return _reply(service, start_response, 200, answer)
        except Refusal as refusal:
            return _reply(service, start_response, refusal.status, None, refusal)

    __call__ = app

    def _route(self, environ: dict[str, Any]) -> tuple[str, str | None]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target.startswith(SMS_VOICE_TARGET):
            name = target[len(SMS_VOICE_TARGET) :]
            return "sms-voice", name if name in self._models["sms-voice"].operation_names else None
        return "social", _SOCIAL_PATHS.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))

    def _operation(self, name: str) -> OperationModel:
        for model in self._models.values():
            if name in model.operation_names:
                return model.operation_model(name)
        raise ValueError(f"unknown operation {name}")

    def _fail_if_armed(self, operation_model: OperationModel) -> None:
        with self._lock:
            armed = self._failures.get(operation_model.name)
            failure = armed.pop(0) if armed else None
        if failure is None:
            return
        code, status = failure
        error = next(shape for shape in operation_model.error_shapes if shape.name == code)
        server_side = error.metadata.get("fault") or "Internal" in code  # End User Messaging models no status
        modeled = error.metadata.get("error", {}).get("httpStatusCode", 500 if server_side else 400)
        raise Refusal(code, "injected by fail_next", status or modeled)

    def _accept(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        message_id = str(uuid.uuid4())
        if operation == "PutMessageFeedback":
            with self._lock:
                self._feedback.append(dict(params))
            return {"MessageId": params["MessageId"], "MessageFeedbackStatus": params["MessageFeedbackStatus"]}
        channel, destination, body = _what_the_user_gets(operation, params)
        sent = Sent(channel, destination, None, body, _now(), operation, params)
        with self._lock:
            self._sent.append(sent)
        if operation == "SendWhatsAppMessage":
            return {"messageId": message_id}
        if operation.startswith("SendNotify"):
            return {
                "MessageId": message_id,
                "TemplateId": params.get("TemplateId") or "default",
                "ResolvedMessageBody": body,
            }
        return {"MessageId": message_id}


def _what_the_user_gets(operation: str, params: dict[str, Any]) -> tuple[str, str, str]:
    if operation == "SendTextMessage":
        return "sms", params["DestinationPhoneNumber"], params.get("MessageBody", "")
    if operation == "SendNotifyTextMessage":
        return "sms", params["DestinationPhoneNumber"], _notify(NOTIFY_TEXT, params)
    if operation == "SendVoiceMessage":
        body = params.get("MessageBody", "")
        spoken = heard(body) if params.get("MessageBodyTextType") == "SSML" else body
        return "voice", params["DestinationPhoneNumber"], spoken
    if operation == "SendNotifyVoiceMessage":
        return "voice", params["DestinationPhoneNumber"], _notify(NOTIFY_VOICE, params)
    if operation == "SendWhatsAppMessage":
        return whatsapp_read(params)
    raise Refusal("UnknownOperationException", f"this emulator does not send {operation}")


def _notify(template: str, params: dict[str, Any]) -> str:
    code = params["TemplateVariables"].get("code")
    if not code:
        raise Refusal("ValidationException", "the template variable code is missing", Reason="FIELD_VALIDATION_FAILED")
    return template.replace("{digits}", " ".join(code)).replace("{code}", code)


def heard(ssml: str) -> str:
    """What a text-to-speech engine says for the SSML: its text, pauses as spaces."""
    try:
        root = ElementTree.fromstring(ssml)  # noqa: S314  (our own adapters' SSML, on 127.0.0.1)
    except ElementTree.ParseError as exc:
        raise Refusal(
            "ValidationException", f"MessageBody is not valid SSML: {exc}", Reason="INVALID_PARAMETER"
        ) from None
    if root.tag != "speak":
        raise Refusal("ValidationException", "SSML must be one <speak> element", Reason="INVALID_PARAMETER")
    return re.sub(r"\s+", " ", " ".join(root.itertext())).strip()


def whatsapp_read(params: dict[str, Any]) -> tuple[str, str, str]:
    """The WhatsApp Cloud API body: an authentication template with the code in body and button."""
    try:
        message = json.loads(params["message"])
        template = message["template"]
        components = {component["type"]: component for component in template["components"]}
        code = components["body"]["parameters"][0]["text"]
        button = components["button"]
        copy_code = button["sub_type"] == "url" and str(button["index"]) == "0"
        if not (message["messaging_product"] == "whatsapp" and message["type"] == "template" and copy_code):
            raise ValueError("not an authentication template")
        if button["parameters"][0]["text"] != code:
            raise ValueError("the copy-code button does not carry the code")
        name, language = template["name"], template["language"]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise Refusal("ValidationException", "message is not a WhatsApp authentication template") from None
    return "whatsapp", str(message["to"]), f"[{name} {language}] " + WHATSAPP_TEXT.replace("{code}", code)


def check(shape: Shape, value: Any, path: str) -> list[str]:  # noqa: C901  (one branch per botocore shape type)
    """Every way ``value`` breaks ``shape``, as botocore's model describes it."""
    where = path or "input"
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where} must be an object"]
        members = shape.members  # type: ignore[attr-defined]
        problems = [f"{where}.{name} is required" for name in shape.required_members if name not in value]
        problems += [f"{where}.{name} is not a member" for name in value if name not in members]
        for name, item in value.items():
            if name in members:
                problems += check(members[name], item, f"{path}.{name}" if path else name)
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where} must be an object"]
        problems = _bounds(shape, len(value), where, "entries")
        for key, item in value.items():
            problems += check(shape.key, key, f"{where} key") + check(shape.value, item, f"{where}.{key}")  # type: ignore[attr-defined]
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where} must be a list"]
        problems = _bounds(shape, len(value), where, "items")
        for index, item in enumerate(value):
            problems += check(shape.member, item, f"{where}[{index}]")  # type: ignore[attr-defined]
        return problems
    return _scalar(shape, value, where)


def _scalar(shape: Shape, value: Any, where: str) -> list[str]:  # noqa: C901  (one branch per botocore scalar type)
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where} must be a string"]
        problems = _bounds(shape, len(value), where, "characters")
        enum = list(getattr(shape, "enum", None) or [])
        if enum and value not in enum:
            problems.append(f"{where} must be one of {', '.join(enum)}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.search(pattern, value):
            problems.append(f"{where} does not match {pattern}")
        return problems
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{where} must be an integer"]
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            return [f"{where} must be between {low} and {high}"]
        return []
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where} must be true or false"]
    if kind == "blob":
        try:
            size = len(base64.b64decode(value, validate=True))
        except (binascii.Error, TypeError, ValueError):
            return [f"{where} must be base64"]
        return _bounds(shape, size, where, "bytes")
    return []


def _bounds(shape: Shape, size: int, where: str, unit: str) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        return [f"{where} needs at least {low} {unit}"]
    if high is not None and size > high:
        return [f"{where} takes at most {high} {unit}"]
    return []


def _reply(
    service: str, start_response: ResponseStart, status: int, answer: Any, refusal: Refusal | None = None
) -> list[bytes]:
    content_type = "application/x-amz-json-1.0" if service == "sms-voice" else "application/json"
    headers = [("Content-Type", content_type), ("x-amzn-RequestId", str(uuid.uuid4()))]
    if refusal is not None:
        answer = {"__type": refusal.code, "message": str(refusal), **refusal.fields}
        headers.append(("x-amzn-ErrorType", refusal.code))
    body = json.dumps(answer).encode()
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {'OK' if status == 200 else 'Error'}", headers)
    return [body]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
