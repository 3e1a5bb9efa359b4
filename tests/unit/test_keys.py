"""Keyed digests and verification ids."""

import base64
import hashlib
import hmac

import pytest

from otp.domain.destinations import normalize_email, normalize_phone
from otp.domain.keys import DIGEST_LABEL, Digests
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
    digests = Digests(CountingDeriver())
    key = "dest#" + "ab" * 16
    first, second = digests.new_verification_id(key, "login"), digests.new_verification_id(key, "login")
    assert first != second
    for vid in (first, second):
        ref = digests.locate(vid)
        assert ref is not None
        assert ref.record_key == key
        assert ref.purpose == "login"
        assert len(vid) == len("vrf_") + 36 + len("_login")


@pytest.mark.parametrize(
    "text", ["", "vrf_", "vrf_short_default", "x" * 200, "vrf_" + "A" * 36 + "_UPPER", "../../etc/passwd", "vrf_é"]
)
def test_malformed_ids_name_nothing_and_cost_no_derivation(text):
    deriver = CountingDeriver()
    assert Digests(deriver).locate(text) is None
    assert deriver.calls == []  # a malformed id is a 400 even while KMS is down


def test_digests_are_hmac_sha256_of_the_identity():
    secret = b"s" * 32
    number = normalize_phone("+14155552671")
    expected = hmac.new(secret, b"destination\x00" + number.identity.encode(), hashlib.sha256).hexdigest()[:32]
    assert Digests(CountingDeriver(secret)).record_key(number) == "dest#" + expected


def locator(vid: str) -> bytes:
    return base64.urlsafe_b64decode(vid[4:40])


def test_ids_are_a_fresh_nonce_and_the_record_masked_by_a_pad_of_it():
    secret = b"p" * 32
    digests = Digests(CountingDeriver(secret))
    key = "dest#" + "cd" * 16
    locators = [locator(digests.new_verification_id(key, "login")) for _ in range(200)]
    assert {len(found) for found in locators} == {27}
    assert len({found[:11] for found in locators}) == 200  # 11 bytes from secrets, never repeated
    for found in locators:
        pad = hmac.new(secret, b"verification-id\x00" + found[:11], hashlib.sha256).digest()[:16]
        assert bytes(a ^ b for a, b in zip(found[11:], pad, strict=True)).hex() == "cd" * 16


def test_two_ids_of_one_destination_are_unlinkable_without_the_secret():
    """1,000 ids of one destination against 1,000 of 1,000 others: no byte or substring tells them apart."""
    digests = Digests(CountingDeriver())
    one = digests.record_key(normalize_phone("+14155552671"))
    same = [locator(digests.new_verification_id(one, "login")) for _ in range(1000)]
    others = [
        locator(digests.new_verification_id(digests.record_key(normalize_email(f"user{n}@example.com")), "login"))
        for n in range(1000)
    ]
    digest = bytes.fromhex(one.removeprefix("dest#"))
    for ids in (same, others):
        assert not any(digest[i : i + 4] in found for found in ids for i in range(13))
        # Every byte position takes many values, in either set alike: nothing is fixed per destination.
        for position in range(27):
            assert len({found[position] for found in ids}) > 200
    # No substring of 3 or more characters is common to all the ids of the one destination.
    texts = [base64.urlsafe_b64encode(found).decode() for found in same]
    first = texts[0]
    shared = {first[i : i + 3] for i in range(len(first) - 2) if all(first[i : i + 3] in text for text in texts)}
    assert shared == set()


def test_another_secret_unmasks_an_id_to_another_record():
    key = "dest#" + "ef" * 16
    vid = Digests(CountingDeriver(b"a" * 32)).new_verification_id(key, "login")
    theirs = Digests(CountingDeriver(b"b" * 32)).locate(vid)
    assert theirs is not None and theirs.record_key != key


def test_a_tampered_nonce_names_another_record_never_the_same():
    digests = Digests(CountingDeriver())
    key = "dest#" + "12" * 16
    found = bytearray(locator(digests.new_verification_id(key, "login")))
    for position in range(11):
        tampered = bytearray(found)
        tampered[position] ^= 0x01
        vid = f"vrf_{base64.urlsafe_b64encode(bytes(tampered)).decode()}_login"
        ref = digests.locate(vid)
        assert ref is not None and ref.record_key != key
