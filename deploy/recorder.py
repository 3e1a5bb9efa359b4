"""Records each AWS request a process makes as IAM authorizes it: action, resource ARN, condition keys.

Installed on botocore's Session.create_client, so it sees every client whoever creates it (our
adapters, Powertools idempotency) without knowing how they are built. A request that IAM
authorizes as several (a TransactWriteItems is one UpdateItem per item) is recorded as several.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import botocore.session

Context = dict[str, str | list[str]]
# IAM authorizes each item of a transaction as the single-item action it performs.
_TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


@dataclass
class IamRequest:
    function: str
    action: str
    resource: str
    context: Context = field(default_factory=dict)
    operation: str = ""  # the API call, when it differs from the action (TransactWriteItems)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IamRequest:
        return cls(**data)


def _dynamodb(params: dict[str, Any], operation: str, arn: Callable[[str], str], key: str) -> list[tuple]:
    def one(action: str, part: dict[str, Any], enclosing: str | None) -> tuple:
        item = part.get("Key") or part.get("Item") or {}
        leading = [value for value in item.get(key, {}).values()]
        context: Context = {"dynamodb:LeadingKeys": [str(v) for v in leading]} if leading else {}
        if enclosing:
            context["dynamodb:EnclosingOperation"] = enclosing
        return f"dynamodb:{action}", arn(part["TableName"]), context

    if operation == "BatchGetItem":
        # One authorization per table, with every key's partition value among its LeadingKeys.
        found = []
        for table, request in params["RequestItems"].items():
            leading = [str(v) for k in request["Keys"] for v in k.get(key, {}).values()]
            found.append((f"dynamodb:{operation}", arn(table), {"dynamodb:LeadingKeys": leading}))
        return found
    if operation == "TransactWriteItems":
        parts = [(kind, part) for entry in params["TransactItems"] for kind, part in entry.items()]
        return [one(_TRANSACTION_ACTIONS[kind], part, operation) for kind, part in parts]
    return [one(operation, params, None)]


def _kms(params: dict[str, Any], operation: str) -> list[tuple]:
    context: Context = {}
    encryption_context = params.get("EncryptionContext")
    if encryption_context:
        context["kms:EncryptionContextKeys"] = sorted(encryption_context)
        for name, value in encryption_context.items():
            context[f"kms:EncryptionContext:{name}"] = str(value)
    if "MacAlgorithm" in params:
        context["kms:MacAlgorithm"] = params["MacAlgorithm"]
    return [(f"kms:{operation}", params["KeyId"], context)]


class Recorder:
    def __init__(self, function: str, region: str, account: str, partition_key: str) -> None:
        self.function = function
        self.region = region
        self.account = account
        self.partition_key = partition_key
        self.requests: list[IamRequest] = []
        self._original: Any = None

    def install(self) -> None:
        original = botocore.session.Session.create_client
        recorder = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            client.meta.events.register("before-parameter-build", recorder._record)
            return client

        self._original = original
        botocore.session.Session.create_client = create_client  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        if self._original is not None:
            botocore.session.Session.create_client = self._original  # type: ignore[method-assign]
            self._original = None

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.signing_name
        for action, resource, context in self.describe(service, model.name, params):
            self.requests.append(IamRequest(self.function, action, resource, context, model.name))

    def describe(self, service: str, operation: str, params: dict[str, Any]) -> list[tuple]:
        """(action, resource, context) for each authorization the call needs."""
        if service == "dynamodb":
            table = f"arn:aws:dynamodb:{self.region}:{self.account}:table/"
            return _dynamodb(params, operation, lambda name: table + name, self.partition_key)
        if service == "kms":
            return _kms(params, operation)
        if service == "sns":
            # A publish to a phone number names no resource; IAM authorizes it against '*'.
            return [("sns:Publish", params.get("TopicArn") or params.get("TargetArn") or "*", {})]
        if service == "ses":
            return self._ses(operation, params)
        if service == "sms-voice":
            return [(f"sms-voice:{operation}", arn, {}) for arn in self._sms_voice(operation, params)]
        if service == "social-messaging":
            return [(f"social-messaging:{operation}", self._whatsapp_number(params["originationPhoneNumberId"]), {})]
        return [(f"{service}:{operation}", "*", {})]

    def _arn(self, service: str, kind: str, value: str) -> str:
        if value.startswith("arn:"):
            return value
        return f"arn:aws:{service}:{self.region}:{self.account}:{kind}/{value}"

    def _sms_voice(self, operation: str, params: dict[str, Any]) -> list[str]:
        """The resources IAM authorizes a send against, per the Service Authorization Reference."""
        if operation == "SendVoiceMessage":
            return ["*"]  # no resource type: authorized against '*' whatever it names
        if operation == "PutMessageFeedback":
            return [self._arn("sms-voice", "message", params["MessageId"])]
        found = []
        identity = params.get("OriginationIdentity")
        if identity:
            kind = "pool" if identity.startswith("pool-") else "phone-number"
            found.append(self._arn("sms-voice", kind, identity))
        if params.get("NotifyConfigurationId"):
            found.append(self._arn("sms-voice", "notify-configuration", params["NotifyConfigurationId"]))
        if params.get("ProtectConfigurationId"):
            found.append(self._arn("sms-voice", "protect-configuration", params["ProtectConfigurationId"]))
        if params.get("ConfigurationSetName"):
            found.append(self._arn("sms-voice", "configuration-set", params["ConfigurationSetName"]))
        return found or ["*"]

    def _whatsapp_number(self, number: str) -> str:
        """phone-number-id-<hex> is authorized as ...:phone-number-id/<hex>."""
        return self._arn("social-messaging", "phone-number-id", number.removeprefix("phone-number-id-"))

    def _ses(self, operation: str, params: dict[str, Any]) -> list[tuple]:
        prefix = f"arn:aws:ses:{self.region}:{self.account}:"
        sender = params.get("FromEmailAddress", "")
        found = [(f"ses:{operation}", f"{prefix}identity/{sender}", {"ses:FromAddress": sender})]
        if params.get("ConfigurationSetName"):
            found.append((f"ses:{operation}", f"{prefix}configuration-set/{params['ConfigurationSetName']}", {}))
        return found
