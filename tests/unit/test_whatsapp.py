"""WhatsApp: the template language closest to the request, and the authentication template body."""

from __future__ import annotations

import pytest

from otp.aws.whatsapp import authentication_template
from otp.domain.outbound import WhatsAppMessage
from otp.messages import whatsapp_language

CONFIGURED = ["en_US", "pt_BR", "hi", "es_MX", "es_ES"]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("pt-BR", ("pt_BR", "pt-BR")),
        ("pt", ("pt_BR", "pt-BR")),  # the language, in the region registered
        ("pt-PT", ("pt_BR", "pt-BR")),
        ("hi-IN", ("hi", "hi")),  # a template registered without a region
        ("es-ES", ("es_ES", "es-ES")),
        ("es", ("es_MX", "es-MX")),  # the first listed for the language
        ("es-419", ("es_MX", "es-MX")),
        ("EN-gb", ("en_US", "en-US")),
        ("fr", ("en_US", "en-US")),  # not registered: the first language listed
        ("zh-Hant-TW", ("en_US", "en-US")),
    ],
)
def test_the_closest_registered_language_is_chosen(locale, expected):
    assert whatsapp_language(locale, CONFIGURED) == expected


def test_a_region_that_is_registered_wins_over_the_regionless_template():
    assert whatsapp_language("hi-IN", ["hi", "hi_IN"]) == ("hi_IN", "hi-IN")
    assert whatsapp_language("hi", ["hi_IN", "hi"]) == ("hi", "hi")


def test_at_least_one_language_must_be_configured():
    with pytest.raises(ValueError, match="no WhatsApp template language"):
        whatsapp_language("en", [])


def test_the_code_fills_the_body_and_the_copy_code_button():
    body = authentication_template(WhatsAppMessage("+14155552671", "482910", "acme_otp", "pt_BR"))
    assert body["messaging_product"] == "whatsapp" and body["to"] == "+14155552671" and body["type"] == "template"
    template = body["template"]
    assert template["name"] == "acme_otp" and template["language"]["code"] == "pt_BR"
    [body_part] = [c for c in template["components"] if c["type"] == "body"]
    [button] = [c for c in template["components"] if c["type"] == "button"]
    assert body_part["parameters"] == [{"type": "text", "text": "482910"}]
    assert (button["sub_type"], button["index"], button["parameters"]) == (
        "url",
        "0",
        [{"type": "text", "text": "482910"}],
    )
