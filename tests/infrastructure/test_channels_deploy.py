"""The phone channels' deployment: per-provider IAM on the generate role, proven with the requests
the real adapters make, and the protect configuration the stack can create.

The templates come from `serverless package` with each provider's parameters (conftest.py). The
policies are resolved as CloudFormation would resolve them in an account, and each request the
adapters make (captured from their botocore clients, answered before it leaves the process) is
evaluated against them with @cloud-copilot/iam-simulate, as the IAM proof does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from botocore.awsrequest import AWSResponse
from botocore.session import Session

from deploy import iam_proof
from deploy.recorder import IamRequest, Recorder
from deploy.scenario import DeployedFunction
from deploy.template_values import Resolver, StackValues
from tests.infrastructure.conftest import CHANNELS_ACCOUNT, ROOT, package
from tests.infrastructure.policies import listed_actions

pytestmark = pytest.mark.deploy

REGION = "ap-south-1"
STACK_PROTECT_ID = "protect-stackmade0123456789"
PHONE = "+919876543210"
ROLES = {
    "generate": "GenerateRole",
    "verify": "VerifyRole",
    "verifications": "VerificationsRole",
    "pumpingGuard": "PumpingGuardRole",
}
SEND_PREFIXES = ("sns:", "sms-voice:", "social-messaging:")


def stack_values(template: dict, **overrides: str) -> StackValues:
    """What a stack in the test account would give the template: its parameters' defaults, unless overridden."""
    parameters = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}
    physical = {name: f"otp-ci-{name}" for name in template["Resources"]}
    physical["OtpProtectConfiguration"] = STACK_PROTECT_ID
    arns = {name: f"arn:aws:test:{REGION}:{CHANNELS_ACCOUNT}:resource/{name}" for name in template["Resources"]}
    arns["OtpProtectConfiguration"] = (
        f"arn:aws:sms-voice:{REGION}:{CHANNELS_ACCOUNT}:protect-configuration/{STACK_PROTECT_ID}"
    )
    return StackValues(REGION, CHANNELS_ACCOUNT, {**parameters, **overrides}, physical, arns)


def policy(template: dict, values: StackValues, name: str) -> list[dict]:
    return Resolver(template, values).resolve(template["Resources"][name]["Properties"]["PolicyDocument"])["Statement"]


def send_grants(template: dict, values: StackValues, name: str) -> dict[str, list[str]]:
    """action -> the resources an Allow statement grants it on, for the send actions."""
    found: dict[str, list[str]] = {}
    for statement in policy(template, values, name):
        listed = listed_actions(statement)
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        for action in listed:
            if statement["Effect"] == "Allow" and action.startswith(SEND_PREFIXES):
                found.setdefault(action, []).extend(resources)
    return found


def environment(template: dict, values: StackValues) -> dict[str, str]:
    variables = template["Resources"]["GenerateLambdaFunction"]["Properties"]["Environment"]["Variables"]
    return {k: str(v) for k, v in Resolver(template, values).resolve(variables).items()}


def sent_requests(template: dict, values: StackValues, monkeypatch) -> list[IamRequest]:
    """The requests generate's adapters make for one message per phone channel, as IAM authorizes them."""
    from otp.aws import factories
    from otp.aws.clients import reset_clients
    from otp.config import load_settings
    from otp.domain.outbound import SmsMessage, VoiceMessage, WhatsAppMessage

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings = load_settings({k: v for k, v in environment(template, values).items() if v})
    recorder = Recorder("generate", REGION, CHANNELS_ACCOUNT, "id")
    original = Session.create_client

    def answered_here(session: Any, *args: Any, **kwargs: Any) -> Any:
        created = original(session, *args, **kwargs)
        created.meta.events.register("before-parameter-build", recorder._record)
        ok = AWSResponse("https://answered.invalid", 200, {}, None)
        created.meta.events.register("before-call", lambda **_: (ok, {"MessageId": "m-1", "messageId": "m-1"}))
        return created

    monkeypatch.setattr(Session, "create_client", answered_here)
    reset_clients()
    try:
        senders = factories.senders(settings)
        senders.sms.send_sms(SmsMessage(PHONE, "123456 is your code", "123456", 300, "IN"))
        if senders.voice is not None:
            senders.voice.send_voice(
                VoiceMessage(PHONE, "<speak>1 2 3</speak>", "1 2 3", "123456", "en", "Joanna", 300)
            )
        if senders.whatsapp is not None:
            senders.whatsapp.send_whatsapp(WhatsAppMessage(PHONE, "123456", "otp_code", "en_US"))
    finally:
        reset_clients()
    return recorder.requests


def deployed_functions(account: str = CHANNELS_ACCOUNT) -> dict[str, DeployedFunction]:
    return {
        name: DeployedFunction(
            name,
            f"otp-ci-{name}",
            f"handlers/{name}.lambda_handler",
            f"arn:aws:iam::{account}:role/{role}",
            role,
            {},
        )
        for name, role in ROLES.items()
    }


def test_every_send_the_adapters_make_is_allowed_and_nothing_else(channel_templates, monkeypatch):
    expected = {
        "eum": {"sms-voice:SendTextMessage", "sms-voice:SendVoiceMessage", "social-messaging:SendWhatsAppMessage"},
        "notify": {
            "sms-voice:SendNotifyTextMessage",
            "sms-voice:SendNotifyVoiceMessage",
            "social-messaging:SendWhatsAppMessage",
        },
    }
    for name, template in channel_templates.items():
        values = stack_values(template)
        requests = sent_requests(template, values, monkeypatch)
        assert {r.action for r in requests} == expected[name]
        controls = iam_proof.send_controls(requests)
        decisions = iam_proof.decide(requests + [c.request for c in controls], deployed_functions(), template, values)
        assert decisions[: len(requests)] == ["Allowed"] * len(requests), (name, requests)
        allowed = [c.description for c, d in zip(controls, decisions[len(requests) :], strict=True) if d == "Allowed"]
        assert allowed == [], name
        # Each send the role may make it may make only as the adapters do: no statement is unused.
        assert set(send_grants(template, values, "GeneratePolicy")) == expected[name]


def test_eum_sms_names_the_identity_protect_configuration_and_configuration_set(channel_templates, monkeypatch):
    template = channel_templates["eum"]
    values = stack_values(template)
    arn = f"arn:aws:sms-voice:{REGION}:{CHANNELS_ACCOUNT}"
    text = [r.resource for r in sent_requests(template, values, monkeypatch) if r.action.endswith("SendTextMessage")]
    assert sorted(text) == sorted(
        [
            f"{arn}:phone-number/phone-0123456789abcdef",
            f"{arn}:protect-configuration/{STACK_PROTECT_ID}",
            f"{arn}:configuration-set/otp-events",
        ]
    )
    assert sorted(send_grants(template, values, "GeneratePolicy")["sms-voice:SendTextMessage"]) == sorted(text)
    # SendVoiceMessage has no resource type in the Service Authorization Reference: '*' or nothing.
    assert send_grants(template, values, "GeneratePolicy")["sms-voice:SendVoiceMessage"] == ["*"]
    social = f"arn:aws:social-messaging:{REGION}:{CHANNELS_ACCOUNT}:phone-number-id/0123456789abcdef0123456789abcdef"
    assert send_grants(template, values, "GeneratePolicy")["social-messaging:SendWhatsAppMessage"] == [social]


def test_a_protect_configuration_of_ones_own_is_named_by_id_or_arn(channel_templates, monkeypatch):
    template = channel_templates["eum"]
    arn = f"arn:aws:sms-voice:{REGION}:{CHANNELS_ACCOUNT}:protect-configuration/protect-own0123"
    for given in ("protect-own0123", arn):
        values = stack_values(template, CreateProtectConfiguration="false", SmsProtectConfigurationId=given)
        assert environment(template, values)["OTP_SMS_PROTECT_CONFIGURATION_ID"] == given
        requests = sent_requests(template, values, monkeypatch)
        assert arn in [r.resource for r in requests]
        assert iam_proof.decide(requests, deployed_functions(), template, values) == ["Allowed"] * len(requests)


def test_notify_is_scoped_to_its_configuration(channel_templates):
    template = channel_templates["notify"]
    grants = send_grants(template, stack_values(template), "GeneratePolicy")
    arn = f"arn:aws:sms-voice:{REGION}:{CHANNELS_ACCOUNT}"
    scoped = [f"{arn}:notify-configuration/nc-0123456789abcdef", f"{arn}:configuration-set/otp-events"]
    assert grants["sms-voice:SendNotifyTextMessage"] == scoped
    assert grants["sms-voice:SendNotifyVoiceMessage"] == scoped


def test_a_channel_that_is_off_gets_no_send_permission(template, channel_templates):
    eum = channel_templates["eum"]
    assert set(send_grants(template, stack_values(template), "GeneratePolicy")) == {"sns:Publish"}
    voice_off = stack_values(eum, VoiceProvider="", WhatsappPhoneNumberId="")
    assert set(send_grants(eum, voice_off, "GeneratePolicy")) == {"sms-voice:SendTextMessage"}
    sns_sms = stack_values(eum, SmsProvider="sns", VoiceProvider="", WhatsappPhoneNumberId="")
    assert set(send_grants(eum, sns_sms, "GeneratePolicy")) == {"sns:Publish"}

    # SNS's Deny on every topic goes with its Allow, and only with it.
    def denied(each: dict, values: StackValues) -> list[str]:
        return [s["Action"] for s in policy(each, values, "GeneratePolicy") if s["Effect"] == "Deny"]

    assert denied(template, stack_values(template)) == ["sns:Publish"]
    assert denied(eum, stack_values(eum)) == []


def test_verify_and_verifications_never_get_a_send_permission(template, channel_templates):
    for name, each in {"sns": template, **channel_templates}.items():
        for role_policy in ("VerifyPolicy", "VerificationsPolicy"):
            assert send_grants(each, stack_values(each), role_policy) == {}, (name, role_policy)
            text = json.dumps(each["Resources"][role_policy])
            assert not any(prefix in text for prefix in SEND_PREFIXES), (name, role_policy)


def test_the_functions_get_each_providers_settings(channel_templates):
    eum = environment(channel_templates["eum"], stack_values(channel_templates["eum"]))
    assert eum["OTP_SMS_PROVIDER"] == "eum" and eum["OTP_VOICE_PROVIDER"] == "eum"
    assert eum["OTP_SMS_PROTECT_CONFIGURATION_ID"] == STACK_PROTECT_ID
    assert eum["OTP_WHATSAPP_LANGUAGES"] == "en_US,pt_BR"
    notify = environment(channel_templates["notify"], stack_values(channel_templates["notify"]))
    assert (notify["OTP_NOTIFY_CONFIGURATION_ID"], notify["OTP_NOTIFY_TEMPLATE_ID"]) == (
        "nc-0123456789abcdef",
        "otp-template-1",
    )
    assert notify["OTP_SMS_PROTECT_CONFIGURATION_ID"] == ""


def test_the_created_protect_configuration_allows_the_listed_countries_and_blocks_the_rest(
    channel_templates, resources
):
    rules = channel_templates["eum"]["Resources"]["OtpProtectConfiguration"]
    assert rules["Condition"] == "CreateProtectConfiguration"
    for capability in ("SMS", "VOICE"):
        listed = {r["CountryCode"]: r["ProtectStatus"] for r in rules["Properties"]["CountryRuleSet"][capability]}
        assert {code for code, status in listed.items() if status == "ALLOW"} == {"IN", "US"}
        assert set(listed) == phonenumbers.SUPPORTED_REGIONS
        assert set(listed.values()) == {"ALLOW", "BLOCK"}
    # smsAllowedCountries='*' (the default): no country blocked.
    assert resources["OtpProtectConfiguration"]["Properties"]["CountryRuleSet"] == {"SMS": [], "VOICE": []}


def test_the_packaging_plugins_country_list_is_libphonenumbers():
    source = (ROOT / "deploy" / "channels.js").read_text()
    listed = re.findall(r"'([A-Z]{2})'", source[source.index("const COUNTRIES") : source.index("];")])
    assert listed == sorted(phonenumbers.SUPPORTED_REGIONS)


# The parameter check reports every problem at once, so two packagings cover four problems.
@pytest.mark.parametrize(
    ("params", "problems"),
    [
        (
            (
                "smsProvider=eum",
                "voiceProvider=notify",
                "createProtectConfiguration=true",
                "smsProtectConfigurationId=p-0",
            ),
            (
                "smsProvider=eum needs smsOriginationIdentity",
                "the notify provider needs notifyConfigurationId",
                "leave smsProtectConfigurationId",
            ),
        ),
        (("voiceProvider=eum",), ("voiceProvider=eum needs voiceOriginationIdentity",)),
        (("createProtectConfiguration=true", "smsAllowedCountries=IN,ZZ"), ("unknown region code(s): ZZ",)),
    ],
)
def test_packaging_refuses_a_provider_without_its_identity(tmp_path, params, problems):
    with pytest.raises(AssertionError) as refused:
        package(tmp_path, *params)
    for problem in problems:
        assert problem in str(refused.value)


def test_cfn_lint_passes_with_every_provider(channel_templates, tmp_path):
    paths = []
    for variant, template in channel_templates.items():
        paths.append(tmp_path / f"{variant}.json")
        paths[-1].write_text(json.dumps(template))
    cfn_lint = str(Path(sys.executable).with_name("cfn-lint"))
    result = subprocess.run(
        [cfn_lint, "--ignore-checks", "W3005", "--", *map(str, paths)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
