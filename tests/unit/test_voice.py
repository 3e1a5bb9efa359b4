"""What a call says: brand, code digit by digit, the code again, validity; in a voice the API has."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import botocore.session
import pytest

from otp.messages import catalog, render_voice, voice_language

VOICE_IDS = set(
    botocore.session.get_session()
    .get_service_model("pinpoint-sms-voice-v2")
    .operation_model("SendVoiceMessage")
    .input_shape.members["VoiceId"]
    .enum
)
VOICED = sorted(name for name, texts in catalog().items() if "voice" in texts)


def spoken_digits(ssml: str) -> list[str]:
    return re.findall(r'<say-as interpret-as="characters">(\d)</say-as>', ssml)


@pytest.mark.parametrize("locale", VOICED)
def test_every_voice_is_one_the_api_has(locale):
    assert catalog()[locale]["voice"]["voice_id"] in VOICE_IDS


def test_most_languages_have_a_voice():
    assert {"en", "de", "es", "fr", "it", "pt"} <= set(VOICED)


@pytest.mark.parametrize("locale", VOICED)
def test_the_code_is_spoken_digit_by_digit_twice_between_brand_and_validity(locale):
    voice = render_voice(locale, "120034", "Acme", 600, "en")
    assert voice.language == locale
    assert spoken_digits(voice.ssml) == list("120034") * 2
    assert "120034" not in voice.ssml and "120034" not in voice.text  # never as one number
    ElementTree.fromstring(voice.ssml)  # noqa: S314  (well-formed; our own output)
    assert voice.ssml.startswith("<speak>") and voice.ssml.endswith("</speak>")
    brand_at, first_digit_at, minutes_at = (
        voice.ssml.index("Acme"),
        voice.ssml.index("<say-as"),
        voice.ssml.rindex("10"),
    )
    assert brand_at < first_digit_at < minutes_at
    assert voice.text.count("1 2 0 0 3 4") == 2 and voice.text.index("Acme") < voice.text.index("1 2 0 0 3 4")
    assert "10" in voice.text.split(". ")[-1]  # the validity comes last


def test_each_digit_is_followed_by_a_pause_so_no_engine_joins_them():
    ssml = render_voice("en", "4444", "Acme", 300, "en").ssml
    assert ssml.count('</say-as><break time="300ms"/><say-as') == 2 * 3


def test_the_brand_is_escaped_and_cannot_inject_markup():
    brand = 'Acme & <break time="10s"/> "Co"'
    voice = render_voice("en", "123456", brand, 300, "en")
    root = ElementTree.fromstring(voice.ssml)  # noqa: S314  (our own output)
    plain = ElementTree.fromstring(render_voice("en", "123456", "Acme", 300, "en").ssml)  # noqa: S314
    assert len(list(root.iter("break"))) == len(list(plain.iter("break")))  # the brand added no element
    assert brand in "".join(root.itertext())
    assert brand in voice.text


@pytest.mark.parametrize(
    ("locale", "default", "spoken"),
    [
        ("hi", "en", "en"),  # no Hindi voice: the default locale
        ("id", "en", "en"),  # no Indonesian voice either
        ("hi", "fr", "fr"),
        ("id", "hi", "en"),  # a default without a voice: English
        ("pt", "en", "pt"),
        ("pt-BR", "en", "pt"),  # a regional variant is spoken in its language
    ],
)
def test_a_language_without_a_voice_falls_back_and_says_which_was_spoken(locale, default, spoken):
    assert voice_language(locale, default) == spoken
    assert render_voice(locale, "1234", "Acme", 60, default).language == spoken


def test_the_validity_is_in_minutes_rounded_up():
    assert "It expires in 2 minutes." in render_voice("en", "1234", "Acme", 61, "en").text
