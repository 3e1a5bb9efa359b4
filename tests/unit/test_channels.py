"""Voice and WhatsApp beside SMS and email: number classes per channel, one record per number (semantics 15)."""

from __future__ import annotations

import pytest

from otp.domain.errors import DestinationNotAllowed, InvalidRequest, NotFound, RateLimited
from otp.use_cases.issue_code import IssueRequest, issue_code
from otp.use_cases.read_verification import read_verification
from tests.helpers import GOOD_IN, GOOD_US
from tests.unit.test_use_cases import check, wire

LANDLINE_GB = "+442079460000"
PREMIUM_US = "+19005550199"
ALL_CHANNELS = {
    "OTP_VOICE_PROVIDER": "eum",
    "OTP_VOICE_ORIGINATION_IDENTITY": "+12065550100",
    "OTP_WHATSAPP_PHONE_NUMBER_ID": "phone-number-id-0123456789",
    "OTP_WHATSAPP_LANGUAGES": "en_US,pt_BR,hi",
}


@pytest.fixture
def deps():
    return wire(**ALL_CHANNELS, OTP_RESEND_COOLDOWN_SECONDS="0")


def test_a_channel_that_is_not_configured_is_a_400_on_channel():
    deps = wire()
    for channel in ("voice", "whatsapp"):
        with pytest.raises(InvalidRequest) as refused:
            issue_code(deps, IssueRequest(channel, GOOD_US))  # type: ignore[arg-type]
        assert refused.value.problems[0].field == "channel"


def test_voice_reaches_a_landline_and_text_channels_do_not(deps):
    issued = issue_code(deps, IssueRequest("voice", LANDLINE_GB))
    assert issued.channel == "voice"
    call = deps.senders.sms.calls[-1]
    assert call.phone_number == LANDLINE_GB
    for channel in ("sms", "whatsapp"):
        with pytest.raises(DestinationNotAllowed) as refused:
            issue_code(deps, IssueRequest(channel, LANDLINE_GB))  # type: ignore[arg-type]
        assert refused.value.reason == "number_type"


@pytest.mark.parametrize("channel", ["sms", "voice", "whatsapp"])
def test_premium_rate_is_refused_on_every_phone_channel_with_its_reason(deps, channel):
    with pytest.raises(DestinationNotAllowed) as refused:
        issue_code(deps, IssueRequest(channel, PREMIUM_US))  # type: ignore[arg-type]
    assert refused.value.reason == "number_type"
    assert refused.value.extra() == {"reason": "number_type"}


def test_the_country_list_applies_to_every_phone_channel():
    deps = wire(**ALL_CHANNELS, OTP_SMS_ALLOWED_COUNTRIES="IN")
    for channel in ("sms", "voice", "whatsapp"):
        with pytest.raises(DestinationNotAllowed) as refused:
            issue_code(deps, IssueRequest(channel, GOOD_US))  # type: ignore[arg-type]
        assert refused.value.reason == "country"
    assert issue_code(deps, IssueRequest("whatsapp", GOOD_IN)).channel == "whatsapp"


def test_a_voice_code_supersedes_a_pending_sms_code_and_verify_reports_its_channel(deps):
    first = issue_code(deps, IssueRequest("sms", GOOD_US))
    sms_code = deps.senders.sms.sms[-1][1].split()[0]
    second = issue_code(deps, IssueRequest("voice", GOOD_US))
    spoken = deps.senders.sms.calls[-1].code
    with pytest.raises(NotFound):
        check(deps, sms_code, verification_id=first.verification_id)  # the SMS code stopped verifying
    assert read_verification(deps, first.verification_id).status == "superseded"
    verified = check(deps, spoken)
    assert verified.channel == "voice"
    assert verified.verification_id == second.verification_id


def test_the_cooldown_counts_across_channels():
    deps = wire(**ALL_CHANNELS)
    issue_code(deps, IssueRequest("sms", GOOD_US))
    with pytest.raises(RateLimited) as refused:
        issue_code(deps, IssueRequest("whatsapp", GOOD_US))
    assert refused.value.reason == "cooldown"


def test_voice_speaks_the_closest_language_with_a_voice_and_the_201_names_it(deps):
    issued = issue_code(deps, IssueRequest("voice", GOOD_IN, locale="hi"))
    call = deps.senders.sms.calls[-1]
    assert issued.locale == call.language == "en"  # no Hindi voice: the default locale is spoken
    assert call.ssml.count('<say-as interpret-as="characters">') == 2 * len(call.code)


def test_whatsapp_uses_the_closest_registered_template_language(deps):
    issued = issue_code(deps, IssueRequest("whatsapp", GOOD_IN, locale="pt-BR"))
    sent = deps.senders.sms.whatsapp[-1]
    assert sent.language == "pt_BR"
    assert issued.locale == "pt-BR"
    assert issued.sms_segments is None
