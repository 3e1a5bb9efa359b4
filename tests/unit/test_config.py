import pytest

from otp.config import load_settings
from otp.domain.errors import ConfigurationError

BASE = {"OTP_KMS_KEY_ID": "alias/otp", "OTP_DIGEST_KEY_ID": "alias/otp-digests"}


def test_defaults_follow_the_contract():
    settings = load_settings(BASE)
    assert settings.table_name == "otp_main"
    assert settings.code_length == 6
    assert settings.ttl_seconds == 300
    assert settings.max_attempts == 5
    assert settings.resend_cooldown_seconds == 30
    assert settings.max_sends_per_window == 5
    assert settings.send_window_seconds == 900
    assert settings.max_sends_per_ip == 50
    assert settings.sms_allowed_countries is None
    assert settings.email_sender is None
    assert settings.brand_name == "OTP Service"
    assert settings.sms_sender_id is None
    assert settings.max_failures_per_destination == 30
    assert settings.max_failures_per_network == 10
    assert settings.failure_window_seconds == 86400
    assert settings.require_verification_id is False


def test_values_are_parsed():
    settings = load_settings(
        {
            **BASE,
            "OTP_CODE_LENGTH": "8",
            "OTP_TTL_SECONDS": "600",
            "OTP_SMS_ALLOWED_COUNTRIES": " in, us ,GB",
            "OTP_EMAIL_SENDER": "no-reply@example.com",
            "OTP_SMS_SENDER_ID": "Acme",
            "OTP_BRAND_NAME": "Acme Bank",
            "OTP_RESEND_COOLDOWN_SECONDS": "0",
        }
    )
    assert settings.code_length == 8
    assert settings.ttl_seconds == 600
    assert settings.sms_allowed_countries == frozenset({"IN", "US", "GB"})
    assert settings.resend_cooldown_seconds == 0
    assert settings.email_enabled


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTP_CODE_LENGTH", "3"),
        ("OTP_CODE_LENGTH", "11"),
        ("OTP_CODE_LENGTH", "six"),
        ("OTP_TTL_SECONDS", "0"),
        ("OTP_TTL_SECONDS", "3601"),
        ("OTP_MAX_ATTEMPTS", "0"),
        ("OTP_MAX_ATTEMPTS", "11"),
        ("OTP_RESEND_COOLDOWN_SECONDS", "-1"),
        ("OTP_MAX_SENDS_PER_WINDOW", "-1"),
        ("OTP_SEND_WINDOW_SECONDS", "0"),
        ("OTP_MAX_SENDS_PER_IP", "-5"),
        ("OTP_SMS_ALLOWED_COUNTRIES", "US,XX"),
        ("OTP_SMS_ALLOWED_COUNTRIES", ","),
        ("OTP_EMAIL_SENDER", "not-an-address"),
        ("OTP_SMS_SENDER_ID", "WayTooLongSenderId"),
        ("OTP_SMS_SENDER_ID", "12345"),
        ("OTP_BRAND_NAME", "x" * 41),
        ("OTP_TABLE_NAME", "a b"),
        ("OTP_MAX_FAILURES_PER_DESTINATION", "0"),
        ("OTP_MAX_FAILURES_PER_DESTINATION", "101"),
        ("OTP_FAILURE_WINDOW_SECONDS", "59"),
        ("OTP_FAILURE_WINDOW_SECONDS", "604801"),
        ("OTP_REQUIRE_VERIFICATION_ID", "maybe"),
    ],
)
def test_a_bad_value_names_its_variable(name, value):
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, name: value})
    assert name in str(caught.value)


def test_the_kms_key_is_required():
    with pytest.raises(ConfigurationError, match="OTP_KMS_KEY_ID"):
        load_settings({})


def test_the_digest_key_is_required():
    with pytest.raises(ConfigurationError, match="OTP_DIGEST_KEY_ID"):
        load_settings({"OTP_KMS_KEY_ID": "alias/otp"})


def test_failure_bound_settings_are_parsed():
    settings = load_settings(
        {
            **BASE,
            "OTP_MAX_FAILURES_PER_DESTINATION": "100",
            "OTP_FAILURE_WINDOW_SECONDS": "60",
            "OTP_REQUIRE_VERIFICATION_ID": "true",
        }
    )
    assert settings.max_failures_per_destination == 100
    assert settings.failure_window_seconds == 60
    assert settings.require_verification_id is True


def test_empty_variables_count_as_unset():
    assert load_settings({**BASE, "OTP_CODE_LENGTH": "", "OTP_EMAIL_SENDER": " "}).code_length == 6


def test_every_bad_variable_is_reported_at_once():
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, "OTP_CODE_LENGTH": "2", "OTP_MAX_ATTEMPTS": "99"})
    assert "OTP_CODE_LENGTH" in str(caught.value)
    assert "OTP_MAX_ATTEMPTS" in str(caught.value)


@pytest.mark.parametrize("sender", ["no-reply@example.com", "otp+auth@mail.example.co.uk", "A.B@x.io"])
def test_a_well_formed_sender_passes_the_cold_start_check(sender):
    assert load_settings({**BASE, "OTP_EMAIL_SENDER": sender}).email_sender == sender


@pytest.mark.parametrize("sender", ["a b@example.com", "a@@example.com", "a@localhost", "ü@example.com", "@x.io"])
def test_a_malformed_sender_stops_the_cold_start(sender):
    with pytest.raises(ConfigurationError, match="OTP_EMAIL_SENDER"):
        load_settings({**BASE, "OTP_EMAIL_SENDER": sender})


def test_the_full_sender_check_catches_what_the_cheap_one_lets_through():
    from otp.config import sender_problem

    assert sender_problem("no-reply@example.com") is None
    assert "OTP_EMAIL_SENDER" in (sender_problem("a..b@example.com") or "")
