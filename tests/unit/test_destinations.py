import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from otp.domain.destinations import channel_of, mask_email, normalize_email, normalize_phone
from otp.domain.errors import DestinationNotAllowed, InvalidRequest


def example(region: str, kind: int) -> str:
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None, (region, kind)
    assert phonenumbers.number_type(number) == kind
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize(
    ("raw", "e164", "masked", "region"),
    [
        ("+91 98765 43210", "+919876543210", "+91******3210", "IN"),
        ("+1 (415) 555-2671", "+14155552671", "+1******2671", "US"),
        ("+61491570156", "+61491570156", "+61*****0156", "AU"),
        (" +33 6 12 34 56 78 ", "+33612345678", "+33*****5678", "FR"),
    ],
)
def test_phone_numbers_normalize_to_e164_and_mask(raw, e164, masked, region):
    destination = normalize_phone(raw)
    assert destination.address == e164
    assert destination.masked == masked
    assert destination.region == region
    assert destination.channel == "sms"


@pytest.mark.parametrize(
    "raw",
    ["+15555550100", "+447700900123", "9876543210", "+1-800-FLOWERS", "+", "++14155552671", "+1 415 555 2671 ext 5"],
)
def test_invalid_numbers_are_bad_requests(raw):
    with pytest.raises(InvalidRequest) as caught:
        normalize_phone(raw)
    assert caught.value.problems[0].field == "destination"


@pytest.mark.parametrize(
    ("region", "kind"),
    [
        ("US", PhoneNumberType.TOLL_FREE),
        ("GB", PhoneNumberType.PREMIUM_RATE),
        ("FR", PhoneNumberType.SHARED_COST),
        ("GB", PhoneNumberType.VOIP),
        ("GB", PhoneNumberType.PAGER),
        ("GB", PhoneNumberType.UAN),
        ("GB", PhoneNumberType.PERSONAL_NUMBER),
        ("FR", PhoneNumberType.FIXED_LINE),
    ],
)
def test_numbers_that_cannot_receive_sms_are_not_allowed(region, kind):
    with pytest.raises(DestinationNotAllowed):
        normalize_phone(example(region, kind))


@pytest.mark.parametrize(
    ("region", "kind"), [("GB", PhoneNumberType.MOBILE), ("US", PhoneNumberType.FIXED_LINE_OR_MOBILE)]
)
def test_mobile_classes_are_accepted(region, kind):
    assert normalize_phone(example(region, kind)).region == region


def test_country_allow_list_gates_by_the_numbers_region():
    assert normalize_phone("+14155552671", frozenset({"US", "IN"})).region == "US"
    with pytest.raises(DestinationNotAllowed):
        normalize_phone("+33612345678", frozenset({"US", "IN"}))


def test_verify_side_normalization_skips_the_class_check():
    toll_free = example("US", PhoneNumberType.TOLL_FREE)
    assert normalize_phone(toll_free, check_sms_capable=False).address == toll_free


@pytest.mark.parametrize(
    ("raw", "address", "masked"),
    [
        ("Ada@Example.COM", "Ada@example.com", "A***@example.com"),
        ("  bob@mail.example.org ", "bob@mail.example.org", "b***@mail.example.org"),
        ("user@bücher.de", "user@xn--bcher-kva.de", "u***@xn--bcher-kva.de"),
    ],
)
def test_email_addresses_normalize_domain_and_mask(raw, address, masked):
    destination = normalize_email(raw)
    assert destination.address == address
    assert destination.masked == masked
    assert destination.channel == "email"


@pytest.mark.parametrize(
    "raw", ["no-at-sign", "a@b", "a@@example.com", "@example.com", "a b@example.com", "ü@example.com"]
)
def test_invalid_addresses_are_bad_requests(raw):
    with pytest.raises(InvalidRequest):
        normalize_email(raw)


def test_masks_never_contain_the_full_destination():
    for raw in ("+919876543210", "+14155552671"):
        destination = normalize_phone(raw)
        assert destination.address not in destination.masked
    assert mask_email("alice@example.com") == "a***@example.com"


def test_an_at_sign_makes_an_address():
    assert channel_of("a@example.com") == "email"
    assert channel_of("+14155552671") == "sms"


def test_identity_is_one_per_phone_or_mailbox():
    assert normalize_phone("+14155552671").identity != normalize_phone("+12025550123").identity
    assert normalize_phone("+1 415 555 2671").identity == normalize_phone("+14155552671").identity
    spellings = ["Victim@Example.com", "victim@example.com", "VICTIM@EXAMPLE.COM", "vIcTiM@example.COM"]
    assert len({normalize_email(s).identity for s in spellings}) == 1


def test_an_email_goes_to_the_address_as_written():
    destination = normalize_email("Victim@Example.COM")
    assert destination.address == "Victim@example.com"  # the domain is normalized, the local part kept
    assert destination.canonical == "victim@example.com"
