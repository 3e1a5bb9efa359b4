"""The messages: every built-in language, at its worst case, is one SMS segment by a real GSM 03.38 codec."""

import json

import gsm0338  # noqa: F401  (registers the codec the assertions below use)
import pytest

from otp.messages import (
    LOCALES,
    MalformedLocale,
    catalog,
    render_email,
    render_sms,
    resolve_locale,
    segments_of,
    template_problem,
)

# The worst case each built-in text must fit in one segment: a 20-character brand, a validity of two
# digits of minutes, the Android app hash and a WebOTP line for an 11-character domain.
WORST_BRAND = "B" * 20
WORST = dict(webotp_domain="example.com", android_app_hash="FA+9qCX9VSu")


def test_at_least_eight_languages_one_of_them_ucs2():
    languages = set(catalog())
    assert len(languages) >= 8
    encodings = {render_sms(locale, "123456", "Acme", 300).encoding for locale in languages}
    assert encodings == {"GSM-7", "UCS-2"}


@pytest.mark.parametrize("locale", sorted(catalog()))
def test_every_built_in_sms_is_one_segment_at_its_worst(locale):
    sms = render_sms(locale, "123456", WORST_BRAND, 600, **WORST)
    assert sms.segments == 1, (locale, sms.encoding, len(sms.text))
    if sms.encoding == "GSM-7":
        assert len(sms.text.encode("gsm03.38")) <= 160
    else:
        with pytest.raises(UnicodeEncodeError):
            sms.text.encode("gsm03.38")
        assert len(sms.text.encode("utf-16-le")) // 2 <= 70


@pytest.mark.parametrize("locale", sorted(catalog()))
def test_each_text_starts_with_the_code_or_brand_and_names_brand_and_minutes(locale):
    sms = render_sms(locale, "482910", "Acme", 600)
    assert "482910" in sms.text.split("\n")[0][:30] and "Acme" in sms.text and "10" in sms.text
    email = render_email(locale, "482910", "Acme", 600)
    assert "Acme" in email.subject and "482910" in email.text and "10" in email.text
    assert "<strong>482910</strong>" in email.html and f'lang="{locale}"' in email.html


def test_autofill_lines_follow_the_one_time_code_format():
    sms = render_sms("en", "482910", "Acme", 300, **WORST)
    lines = sms.text.split("\n")
    assert lines[-1] == "@example.com #482910"  # the origin-bound line is the last
    assert lines[-2] == "FA+9qCX9VSu"  # the SMS Retriever hash on its own line


def test_segments_are_counted_as_carriers_bill_them():
    assert segments_of("a" * 160) == ("GSM-7", 1)
    assert segments_of("a" * 161) == ("GSM-7", 2)
    assert segments_of("{" * 80) == ("GSM-7", 1)  # extension characters take two septets
    assert segments_of("{" * 81) == ("GSM-7", 2)
    assert segments_of("ó" * 70) == ("UCS-2", 1)
    assert segments_of("ó" * 71) == ("UCS-2", 2)
    assert segments_of("ó" * 135) == ("UCS-2", 3)


def test_a_long_custom_template_still_renders_and_says_how_many_segments():
    template = "{code} " + "is the code you asked for at {brand}, valid for {minutes} minutes. " * 4
    sms = render_sms("en", "123456", "Acme", 300, template=template)
    assert sms.encoding == "GSM-7" and sms.segments == 2


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("pt-BR", "pt"),
        ("pt", "pt"),
        ("es-419", "es"),
        ("hi-IN", "hi"),
        ("EN-gb", "en"),
        ("xx", "en"),
        ("zh-Hant", "en"),
    ],
)
def test_locales_fall_back_from_region_to_language_to_default(tag, expected):
    assert resolve_locale(tag, "en") == expected


def test_a_regional_file_wins_over_its_language(tmp_path, monkeypatch):
    import otp.messages as messages

    for name in ("en", "pt"):
        (tmp_path / f"{name}.json").write_text((LOCALES / f"{name}.json").read_text())
    brazil = json.loads((LOCALES / "pt.json").read_text()) | {"sms": "{code} e seu codigo {brand}, {minutes} min"}
    (tmp_path / "pt-BR.json").write_text(json.dumps(brazil))
    monkeypatch.setattr(messages, "LOCALES", tmp_path)
    messages.catalog.cache_clear()
    try:
        assert resolve_locale("pt-BR", "en") == "pt-BR"
        assert resolve_locale("pt-PT", "en") == "pt"
    finally:
        messages.catalog.cache_clear()


@pytest.mark.parametrize("tag", ["", "123", "en-", "-en", "e", "en_US_x", "a" * 9, "en--US"])
def test_malformed_tags_are_refused(tag):
    with pytest.raises(MalformedLocale):
        resolve_locale(tag, "en")


def test_html_escapes_what_it_interpolates_and_reads_as_text():
    email = render_email("en", "123456", "Acme <Bank> & Co", 300)
    assert "Acme &lt;Bank&gt; &amp; Co" in email.html and "<Bank>" not in email.html
    assert "Acme <Bank> & Co" in email.subject and "Acme <Bank> & Co" in email.text


@pytest.mark.parametrize(
    ("template", "problem"),
    [("{brand}", "must contain {code}"), ("{code} {user}", "{user}"), ("{code", "not a valid template")],
)
def test_template_problems_name_the_problem(template, problem):
    assert problem in (template_problem(template) or "")
    assert template_problem("{code} at {brand} for {minutes} min") is None
