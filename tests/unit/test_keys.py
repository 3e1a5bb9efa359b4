"""Keyed digests and verification ids."""

import hashlib
import hmac

import pytest

from otp.domain.destinations import normalize_email, normalize_phone
from otp.domain.keys import DIGEST_LABEL, Digests, new_verification_id, parse_verification_id
from otp.domain.limits import end_user_network


class CountingDeriver:
    def __init__(self, secret: bytes = b"k" * 32) -> None:
        self.secret = secret
        self.calls: list[bytes] = []

    def derive(self, label: bytes) -> bytes:
        self.calls.append(label)
        return self.secret


def test_the_secret_is_derived_once_per_container():
    deriver = CountingDeriver()
    digests = Digests(deriver)
    for number in ("+14155552671", "+12025550123", "+919876543210"):
        digests.record_key(normalize_phone(number))
    digests.network_key("203.0.113.7")
    assert deriver.calls == [DIGEST_LABEL]
    digests.forget()
    digests.record_key(normalize_phone("+14155552671"))
    assert len(deriver.calls) == 2


def test_record_keys_depend_on_the_secret_and_never_on_a_plain_hash():
    number = normalize_phone("+14155552671")
    ours = Digests(CountingDeriver(b"a" * 32)).record_key(number)
    theirs = Digests(CountingDeriver(b"b" * 32)).record_key(number)
    assert ours != theirs
    plain = hashlib.sha256(number.identity.encode()).hexdigest()
    assert plain[:32] not in ours


def test_one_mailbox_is_one_record_whatever_the_case():
    digests = Digests(CountingDeriver())
    keys = {digests.record_key(normalize_email(s)) for s in ("Victim@Example.com", "victim@example.com", "VICTIM@x.io")}
    assert len(keys) == 2  # one for each mailbox


def test_destinations_and_networks_never_share_a_key():
    digests = Digests(CountingDeriver())
    assert digests.network_key("sms:+14155552671").removeprefix("ip#") not in digests.record_key(
        normalize_phone("+14155552671")
    )


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # same /64, same counter
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 address written as IPv6 is that IPv4 address
    ],
)
def test_ipv6_is_limited_per_64(address, network):
    assert end_user_network(address) == network


def test_verification_ids_carry_their_record_and_purpose():
    key = "dest#" + "ab" * 16
    first, second = new_verification_id(key, "login"), new_verification_id(key, "login")
    assert first != second
    ref = parse_verification_id(first)
    assert ref is not None
    assert ref.record_key == key
    assert ref.purpose == "login"
    assert len(first) <= 73


@pytest.mark.parametrize(
    "text", ["", "vrf_", "vrf_short_default", "x" * 200, "vrf_" + "A" * 36 + "_UPPER", "../../etc/passwd", "vrf_é"]
)
def test_malformed_ids_name_nothing(text):
    assert parse_verification_id(text) is None


def test_digests_are_hmac_sha256_of_the_identity():
    secret = b"s" * 32
    number = normalize_phone("+14155552671")
    expected = hmac.new(secret, b"destination\x00" + number.identity.encode(), hashlib.sha256).hexdigest()[:32]
    assert Digests(CountingDeriver(secret)).record_key(number) == "dest#" + expected


def test_ids_carry_88_random_bits_beside_the_record():
    import base64

    key = "dest#" + "cd" * 16
    locators = [base64.urlsafe_b64decode(new_verification_id(key, "login")[4:40]) for _ in range(200)]
    assert {len(locator) for locator in locators} == {27}
    assert {locator[:16].hex() for locator in locators} == {"cd" * 16}
    assert len({locator[16:] for locator in locators}) == 200  # 11 bytes from secrets, never repeated
