"""The IAM proof: every AWS request the handlers made is allowed by their role, and no more.

Each recorded request is evaluated with @cloud-copilot/iam-simulate (deploy/iam-simulate.cjs)
against the function role's identity policies from the packaged template, resolved with the
emulated stack's values, together with the key policy when it is a KMS request. Twice: with the
stack's own key policies, and with the AWS default key policy an operator's own key usually has
(it defers to IAM), so that the role policies alone must hold the line. Negative controls, built
from real requests, must be denied in both. Allow statements no request used must say why,
beside them in deploy/resources/iam.yml ("# Unused by the handler: ...").
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deploy.recorder import Context, IamRequest
from deploy.scenario import DeployedFunction
from deploy.template_values import Resolver, StackValues

ROOT = Path(__file__).resolve().parent.parent
SIMULATOR = ROOT / "deploy" / "iam-simulate.cjs"
POLICY_SOURCE = ROOT / "deploy" / "resources" / "iam.yml"
# "# Unused by the handler: why" beside a statement; "(dynamodb:GetItem)" before the colon names one action.
UNUSED_MARK = re.compile(r"#\s*Unused by the handler(?: \(([\w:]+)\))?:\s*(.*)")
SIMULATOR_TIMEOUT_SECONDS = 120


@dataclass
class Control:
    """A request the function must not be able to make."""

    description: str
    request: IamRequest


@dataclass
class Proof:
    requests: int = 0
    functions: int = 0
    denied: list[str] = field(default_factory=list)
    controls: int = 0
    controls_denied: int = 0
    controls_allowed: list[str] = field(default_factory=list)
    unused: dict[str, str] = field(default_factory=dict)  # "Policy/Sid" -> the reason given
    unexplained: list[str] = field(default_factory=list)  # unused, and no reason beside it
    stale: list[str] = field(default_factory=list)  # said to be unused, but a request used it

    @property
    def holds(self) -> bool:
        clean = not (self.denied or self.controls_allowed or self.unexplained or self.stale)
        return clean and self.requests > 0 and self.controls_denied == self.controls > 0

    def summary(self) -> str:
        return (
            f"iam: {self.requests - len(self.denied)} requests by {self.functions} functions allowed, "
            f"{len(self.denied)} denied; "
            f"negative controls denied: {self.controls_denied} of {self.controls}"
        )


def controls_from(requests: list[IamRequest]) -> list[Control]:
    """Negative controls, one or more per function, each a real request moved to where it must fail."""

    def first(function: str, action: str, leading: str = "") -> IamRequest:
        for request in requests:
            keys = request.context.get("dynamodb:LeadingKeys", [""])
            if (request.function, request.action) == (function, action) and str(keys[0]).startswith(leading):
                return request
        raise RuntimeError(f"no {action} by {function} was recorded")

    decrypt, encrypt = first("verify", "kms:Decrypt"), first("generate", "kms:Encrypt")
    sms, mac = first("generate", "sns:Publish"), first("verify", "kms:GenerateMac")
    update = "dynamodb:UpdateItem"
    destination, idempotency = first("generate", update, "dest#"), first("generate", "dynamodb:PutItem")
    code_keys = decrypt.context["kms:EncryptionContextKeys"]
    other_keys = {**decrypt.context, "kms:EncryptionContextKeys": [*code_keys, "otp:other"]}
    other_algorithm: Context = {"kms:MacAlgorithm": "HMAC_SHA_512"}
    no_context = {k: v for k, v in encrypt.context.items() if not k.startswith("kms:EncryptionContext")}
    return [
        *guard_controls(requests),
        Control("verify sends an SMS", replace(sms, function="verify")),
        Control("generate decrypts a code", replace(decrypt, function="generate")),
        Control("verifications encrypts a code", replace(encrypt, function="verifications")),
        Control("verifications decrypts a code", replace(decrypt, function="verifications")),
        Control("verify decrypts with other context keys than a code's", replace(decrypt, context=other_keys)),
        Control("generate encrypts without an encryption context", replace(encrypt, context=no_context)),
        Control("verify derives a MAC with another algorithm", replace(mac, context=other_algorithm)),
        Control(
            "verifications derives a MAC with another algorithm",
            replace(first("verifications", "kms:GenerateMac"), context=other_algorithm),
        ),
        Control("generate deletes a destination record", replace(destination, action="dynamodb:DeleteItem")),
        Control("verifications writes an idempotency record", replace(idempotency, function="verifications")),
        Control("verify updates an idempotency record", replace(idempotency, function="verify", action=update)),
    ]


GUARD = "pumpingGuard"
BLOCKS_KEY = "pumping#blocks"


def _with_key(request: IamRequest, key: str, **changes: str) -> IamRequest:
    return replace(request, context={**request.context, "dynamodb:LeadingKeys": [key]}, **changes)


def feedback_request(function: str, like: IamRequest, message_id: str = "emulated-message-0001") -> IamRequest:
    """A PutMessageFeedback as the recorder records one, in the account and region of ``like``."""
    _, _, _, region, account, *_ = like.resource.split(":")
    arn = f"arn:aws:sms-voice:{region}:{account}:message/{message_id}"
    return IamRequest(function, "sms-voice:PutMessageFeedback", arn, {}, "PutMessageFeedback")


def guard_controls(requests: list[IamRequest], feedback_allowed: bool = False) -> list[Control]:
    """The pumping guard reaches its own items only, and only it reaches them beyond generate's one read.

    Built from the requests there are (none without a guard's): each moved to where it must fail.
    ``feedback_allowed``: the template reports delivery feedback (eum or notify with smsFeedback
    on), so the guard's own PutMessageFeedback is no control there.
    """

    def first(function: str, action: str, leading: str = "") -> IamRequest | None:
        for request in requests:
            keys = request.context.get("dynamodb:LeadingKeys", [""])
            if (request.function, request.action) == (function, action) and str(keys[0]).startswith(leading):
                return request
        return None

    read = first(GUARD, "dynamodb:GetItem", BLOCKS_KEY)
    if read is None:
        return []
    moved: list[tuple[str, IamRequest | None, dict[str, Any]]] = [
        ("the guard updates a destination record", first("generate", "dynamodb:UpdateItem", "dest#"), {}),
        ("the guard counts an IP's sends", first("generate", "dynamodb:UpdateItem", "ip#"), {}),
        ("the guard writes an idempotency record", first("generate", "dynamodb:PutItem", "idem#"), {}),
        ("the guard decrypts a code", first("verify", "kms:Decrypt"), {}),
        ("the guard encrypts a code", first("generate", "kms:Encrypt"), {}),
        ("the guard sends an SMS", first("generate", "sns:Publish"), {}),
    ]
    controls = [Control(what, replace(r, function=GUARD, **extra)) for what, r, extra in moved if r is not None]
    destination = first("generate", "dynamodb:UpdateItem", "dest#") or first("verify", "dynamodb:UpdateItem", "dest#")
    if destination is not None:
        record_key = str(destination.context["dynamodb:LeadingKeys"][0])
        controls.append(Control("the guard reads a destination record", _with_key(read, record_key)))
    controls += [
        Control("generate reads a prefix's counts", _with_key(read, "pumping#somedigest#600#1", function="generate")),
        Control("generate writes the block list", replace(read, function="generate", action="dynamodb:UpdateItem")),
        Control("verify reads the block list", replace(read, function="verify")),
        Control("verifications reads the block list", replace(read, function="verifications")),
        Control("generate reports delivery feedback", feedback_request("generate", read)),
        Control("verify reports delivery feedback", feedback_request("verify", read)),
    ]
    count = first(GUARD, "dynamodb:UpdateItem", "pumping#")
    if count is not None and count.context["dynamodb:LeadingKeys"] != [BLOCKS_KEY]:
        controls.append(Control("generate writes a prefix's counts", replace(count, function="generate")))
    if not feedback_allowed:
        sns_only = Control("the guard reports delivery feedback with this provider", feedback_request(GUARD, read))
        controls.append(sns_only)
    return controls


# The phone and WhatsApp send actions: only generate's role may hold them, for its configured identities.
SEND_ACTIONS = frozenset(
    {
        "sns:Publish",
        "sms-voice:SendTextMessage",
        "sms-voice:SendNotifyTextMessage",
        "sms-voice:SendVoiceMessage",
        "sms-voice:SendNotifyVoiceMessage",
        "social-messaging:SendWhatsAppMessage",
    }
)


def send_controls(requests: list[IamRequest], others: tuple[str, ...] = ("verify", "verifications")) -> list[Control]:
    """Each send generate made, by the other functions, and (where IAM names one) from another identity."""
    controls = []
    for request in requests:
        if request.function != "generate" or request.action not in SEND_ACTIONS:
            continue
        for function in others:
            controls.append(Control(f"{function} {request.action}", replace(request, function=function)))
        if request.resource != "*":
            other = re.sub(r"[^/]+$", lambda m: "other-" + m.group(0), request.resource)
            controls.append(Control(f"generate {request.action} on {other}", replace(request, resource=other)))
    return controls


def decide(
    requests: list[IamRequest], functions: dict[str, DeployedFunction], template: dict[str, Any], values: StackValues
) -> list[str]:
    """Each request's decision under its function's role policies (and a KMS request's key policy)."""
    entries = _entries(requests, functions, template, values)
    return [answer["result"] for answer in simulate(entries[: len(requests)])]


def _policies(template: dict[str, Any], resolver: Resolver, role: str) -> list[dict[str, Any]]:
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]:
            found.append({"name": logical_id, "policy": resolver.resolve(resource["Properties"]["PolicyDocument"])})
    return found


def _key_policies(template: dict[str, Any], resolver: Resolver, values: StackValues) -> dict[str, Any]:
    return {
        values.arns[logical_id]: resolver.resolve(resource["Properties"]["KeyPolicy"])
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::KMS::Key" and logical_id in values.arns
    }


def default_key_policy(account: str) -> dict[str, Any]:
    """The policy KMS gives a key made without one: the account's IAM policies decide."""
    root = f"arn:aws:iam::{account}:root"
    statement = {"Sid": "EnableIamPolicies", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*"}
    return {"Version": "2012-10-17", "Statement": [{**statement, "Resource": "*"}]}


def _session(function: DeployedFunction) -> str:
    account, role_name = re.fullmatch(r"arn:aws:iam::(\d+):role/(?:.*/)?([^/]+)", function.role_arn).groups()  # type: ignore[union-attr]
    return f"arn:aws:sts::{account}:assumed-role/{role_name}/{function.function_name}"


def _entries(
    requests: list[IamRequest], functions: dict[str, DeployedFunction], template: dict[str, Any], values: StackValues
) -> list[dict[str, Any]]:
    resolver = Resolver(template, values)
    stack_keys = _key_policies(template, resolver, values)
    own_keys = {arn: default_key_policy(values.account) for arn in stack_keys}
    entries = []
    for key_policies in (stack_keys, own_keys):
        for request in requests:
            function = functions[request.function]
            entries.append(
                {
                    "identityPolicies": _policies(template, resolver, function.role_logical_id),
                    "resourcePolicy": key_policies.get(request.resource) if request.action.startswith("kms:") else None,
                    "request": {
                        "action": request.action,
                        "principal": _session(function),
                        "resource": {"accountId": values.account, "resource": request.resource},
                        "contextVariables": request.context,
                    },
                }
            )
    return entries


def simulate(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    finished = subprocess.run(  # noqa: S603 (a fixed command)
        ["node", str(SIMULATOR)],  # noqa: S607 (node as the Makefile finds it, on PATH)
        input=json.dumps(entries),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=SIMULATOR_TIMEOUT_SECONDS,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"iam-simulate failed: {finished.stderr[-3000:]}")
    answers: list[dict[str, Any]] = json.loads(finished.stdout)
    errors = [a["errors"] for a in answers if a["result"] == "Error"]
    if errors:
        raise RuntimeError(f"iam-simulate refused a request as malformed: {json.dumps(errors[0])[:2000]}")
    return answers


def unused_reasons(source: Path = POLICY_SOURCE) -> dict[str, str]:
    """'Policy/Sid' (or 'Policy/Sid/action') -> the reason written beside it, for those marked unused."""
    reasons: dict[str, str] = {}
    resource, sid, sid_indent, marked = "", "", -1, ""
    for line in source.read_text().splitlines():
        top = re.fullmatch(r"  (\w+):\s*", line)
        item = re.match(r"(\s*)- (?:Sid: (\w+))?", line)
        mark = UNUSED_MARK.search(line)
        if marked and line.strip().startswith("#") and not mark:  # the reason goes on
            reasons[marked] += " " + line.strip().lstrip("#").strip()
            continue
        marked = ""
        if top:
            resource, sid, sid_indent = top.group(1), "", -1
        elif item and item.group(2):
            sid, sid_indent = item.group(2), len(item.group(1))
        elif item and len(item.group(1)) <= sid_indent:  # the next statement, or an !If around one
            sid, sid_indent = "", -1
        elif mark and sid:
            marked = f"{resource}/{sid}" + (f"/{mark.group(1)}" if mark.group(1) else "")
            reasons[marked] = mark.group(2).strip()
    return reasons


def _allow_statements(template: dict[str, Any], resolver: Resolver, roles: set[str]) -> dict[str, set[str]]:
    """'Policy/Sid' -> the actions it allows, for every Allow statement of the roles."""
    found = {}
    for role in roles:
        for policy in _policies(template, resolver, role):
            for statement in policy["policy"]["Statement"]:
                if statement["Effect"] == "Allow":
                    listed = statement["Action"]
                    found[f"{policy['name']}/{statement['Sid']}"] = {listed} if isinstance(listed, str) else set(listed)
    return found


def _unused(allowed: dict[str, set[str]], used: set[str]) -> list[str]:
    """Statements no request used, and actions no request used in statements that others used."""
    unused = []
    for statement, actions in sorted(allowed.items()):
        if statement not in used:
            unused.append(statement)
        else:
            unused += [f"{statement}/{action}" for action in sorted(actions) if f"{statement}/{action}" not in used]
    return unused


def prove(
    requests: list[IamRequest],
    functions: dict[str, DeployedFunction],
    template: dict[str, Any],
    values: StackValues,
    reasons: dict[str, str] | None = None,
) -> Proof:
    controls = controls_from(requests)
    checked = requests + [control.request for control in controls]
    answers = simulate(_entries(checked, functions, template, values))
    stack_keys, own_keys = answers[: len(checked)], answers[len(checked) :]
    proof = Proof(requests=len(requests), functions=len({r.function for r in requests}), controls=len(controls))
    used: set[str] = set()
    for index, request in enumerate(requests):
        results = (stack_keys[index]["result"], own_keys[index]["result"])
        if results != ("Allowed", "Allowed"):
            proof.denied.append(f"{request.function} {request.action} {request.resource} {request.context}: {results}")
        for statement in {*stack_keys[index]["identityAllows"], *own_keys[index]["identityAllows"]}:
            used.update((statement, f"{statement}/{request.action}"))
    for offset, control in enumerate(controls, start=len(requests)):
        if "Allowed" in (stack_keys[offset]["result"], own_keys[offset]["result"]):
            proof.controls_allowed.append(control.description)
        else:
            proof.controls_denied += 1
    reasons = unused_reasons() if reasons is None else reasons
    roles = {f.role_logical_id for f in functions.values()}
    for statement in _unused(_allow_statements(template, Resolver(template, values), roles), used):
        if statement in reasons:
            proof.unused[statement] = reasons[statement]
        else:
            proof.unexplained.append(statement)
    proof.stale = sorted(set(reasons) & used)
    return proof


def report(proof: Proof) -> list[str]:
    lines = [f"  denied: {line}" for line in proof.denied]
    lines += [f"  negative control ALLOWED: {line}" for line in proof.controls_allowed]
    lines += [f"  unused statement {name}: {reason}" for name, reason in proof.unused.items()]
    lines += [f"  unused statement {name} has no reason beside it in iam.yml" for name in proof.unexplained]
    lines += [f"  {name} is marked unused but a request used it: drop the mark" for name in proof.stale]
    return [*lines, proof.summary()]
