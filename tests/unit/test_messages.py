"""The messages: every built-in language, at its worst case, is one SMS segment by a real GSM 03.38 codec."""

import json

import gsm0338  # noqa: F401  (registers the codec the assertions below use)
import pytest

from otp.messages import (
    LOCALES,
    ONE_SEGMENT_BRAND_LENGTH,
    MalformedLocale,
    catalog,
    languages_over_one_segment,
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
def test_each_text_starts_with_the_code_and_names_brand_and_minutes(locale):
    sms = render_sms(locale, "482910", "Acme", 600)
    assert sms.text.startswith("482910 ") and "Acme" in sms.text and "10" in sms.text
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


@pytest.mark.parametrize("tag", ["und", "und-US", "x-klingon", "x-a", "i-klingon", "zh-min-nan", "art-lojban", "qaa"])
def test_well_formed_tags_of_no_language_here_fall_back_to_the_default(tag):
    assert resolve_locale(tag, "de") == "de"


@pytest.mark.parametrize("tag", ["", "123", "en-", "-en", "e", "en_US_x", "a" * 9, "en--US", "x", "en-a", "x-"])
def test_malformed_tags_are_refused(tag):
    with pytest.raises(MalformedLocale):
        resolve_locale(tag, "en")


def test_html_escapes_what_it_interpolates_and_reads_as_text():
    email = render_email("en", "123456", "Acme <Bank> & Co", 300)
    assert "Acme &lt;Bank&gt; &amp; Co" in email.html and "<Bank>" not in email.html
    assert "Acme <Bank> & Co" in email.subject and "Acme <Bank> & Co" in email.text


DO_NOT_SHARE = {
    "de": "Nicht weitergeben",
    "en": "Don't share",
    "es": "No la compartas",
    "fr": "Ne le partagez pas",
    "hi": "साझा न करें",
    "id": "Jangan dibagikan",
    "it": "Non condividerlo",
    "pt": "Nao compartilhe",
}


@pytest.mark.parametrize("locale", sorted(catalog()))
def test_every_language_warns_against_sharing_the_code(locale):
    assert DO_NOT_SHARE[locale] in render_sms(locale, "482910", WORST_BRAND, 600).text


@pytest.mark.parametrize("autofill", [{}, {"webotp_domain": "example.com"}, {"android_app_hash": "FA+9qCX9VSu"}])
def test_the_hindi_warning_fits_one_ucs2_segment_with_a_20_character_brand(autofill):
    sms = render_sms("hi", "482910", WORST_BRAND, 600, **autofill)
    assert sms.encoding == "UCS-2" and sms.segments == 1 and DO_NOT_SHARE["hi"] in sms.text


def test_with_both_autofill_lines_hindi_drops_only_the_warning_to_stay_in_one_segment():
    # 70 UCS-2 units: the two autofill lines take 33, code and brand 27, leaving 10 for "code",
    # the validity and the warning, which alone takes 11. The shorter text keeps the rest.
    sms = render_sms("hi", "482910", WORST_BRAND, 600, **WORST)
    assert sms.segments == 1 and sms.text.startswith(f"482910 {WORST_BRAND} कोड 10मि")
    assert DO_NOT_SHARE["hi"] not in sms.text


def test_the_documented_brand_length_is_the_longest_that_keeps_every_language_at_one_segment():
    autofill = dict(webotp_domain="example.com", android_app_hash="FA+9qCX9VSu")
    assert ONE_SEGMENT_BRAND_LENGTH >= 20
    assert languages_over_one_segment("B" * ONE_SEGMENT_BRAND_LENGTH, **autofill) == {}
    over = languages_over_one_segment("B" * (ONE_SEGMENT_BRAND_LENGTH + 1), **autofill)
    assert over and set(over.values()) == {2}


def test_the_segment_report_names_the_languages_a_long_brand_pushes_over():
    over = languages_over_one_segment("Ü" * 40, webotp_domain="example.com", code_length=10)
    assert "hi" in over and over["hi"] >= 2
    assert languages_over_one_segment("Acme") == {}


@pytest.mark.parametrize(
    "template",
    [
        "{code:.3} at {brand}",
        "{code!r} at {brand}",
        "{code[0]} at {brand}",
        "{code} at {brand.upper}",
        "{code} at {0}",
        "{code} at {}",
        "{code} for {user}",
        "{{code}}",
        "{code} {",
        "{code} }",
        "{code",
    ],
)
def test_anything_but_the_three_placeholders_is_a_configuration_error(template):
    problem = template_problem(template)
    assert problem is not None and "the only placeholders are {code}, {brand} and {minutes}" in problem


@pytest.mark.parametrize(
    ("template", "problem"),
    [("{brand} for {minutes} min", "must contain {code}"), ("{code} again {code}", "exactly once")],
)
def test_the_code_is_required_exactly_once(template, problem):
    assert problem in (template_problem(template) or "")


def test_a_template_that_cannot_fit_three_segments_at_worst_is_refused():
    # 3 GSM-7 segments are 459 septets; the worst case adds a 40-character brand, a 10-digit
    # code and both autofill lines (56 with a 40-character WebOTP domain and an app hash).
    fits = "{code} {brand} " + "x" * 341  # 459 septets at worst: exactly 3 segments
    assert template_problem(fits) is None
    assert template_problem(fits + "x") is not None  # one septet more: 460
    long = "{code} {brand} " + "x" * 400
    problem = template_problem(long)
    assert problem is not None and "needs 4 SMS segments at worst" in problem
    # The configured brand and autofill lines are the worst case when they are given.
    assert template_problem(long, brand="Acme", webotp_domain="a.io") is None


def test_rendering_is_plain_replacement_so_values_are_never_read_as_placeholders():
    sms = render_sms("en", "482910", "{code} {brand.__class__} {0}", 300, template="{code} from {brand}, {minutes} min")
    assert sms.text == "482910 from {code} {brand.__class__} {0}, 5 min"
    email = render_email("en", "482910", "{minutes}", 300)
    assert "{minutes}" in email.subject and "{minutes}" in email.text


def test_a_configured_template_is_used_as_written_without_a_shorter_fallback():
    long = "{code} " + "y" * 200
    assert render_sms("hi", "482910", "Acme", 300, template=long).segments == 2


def test_a_message_file_with_a_format_spec_is_refused(tmp_path, monkeypatch):
    import otp.messages as messages

    broken = json.loads((LOCALES / "en.json").read_text()) | {"sms": "{code:>10} is your {brand} code"}
    (tmp_path / "en.json").write_text(json.dumps(broken))
    monkeypatch.setattr(messages, "LOCALES", tmp_path)
    messages.catalog.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"en\.json: an SMS text has \{code:>10\}"):
            catalog()
    finally:
        messages.catalog.cache_clear()
