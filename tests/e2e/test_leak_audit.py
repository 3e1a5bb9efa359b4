"""The log audit that every runner's shutdown applies can actually find a leak."""

from tests.e2e.conftest import leaks, secrets_in

MESSAGES = [
    {"channel": "sms", "destination": "+14155552671", "body": "482913 is your OTP Service verification code."},
    {"channel": "email", "destination": "ada@example.com", "body": "Your code is 0071"},
]


def test_the_audit_finds_codes_and_destinations():
    secrets = secrets_in(MESSAGES)
    assert secrets == {"+14155552671", "14155552671", "482913", "ada@example.com", "0071"}
    assert leaks('{"message": "sent 482913 to +1******2671"}', secrets) == ["482913"]
    assert leaks('{"destination": "14155552671"}', secrets) == ["14155552671"]
    assert leaks('{"to": "ada@example.com"}', secrets) == ["ada@example.com"]


def test_digits_inside_longer_tokens_are_not_codes():
    assert leaks('{"Timestamp": 1795898248291300}', secrets_in(MESSAGES)) == []
    assert leaks('{"correlation_id": "ab482913cd0071ef"}', secrets_in(MESSAGES)) == []


def test_codes_next_to_punctuation_are_leaks():
    assert leaks('{"code":"482913"}', secrets_in(MESSAGES)) == ["482913"]
    assert leaks("code=0071;", secrets_in(MESSAGES)) == ["0071"]


def test_masked_destinations_are_not_leaks():
    assert leaks('{"destination": "+1******2671", "email": "a***@example.com"}', secrets_in(MESSAGES)) == []
