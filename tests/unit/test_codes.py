import collections
import random

import pytest

from otp.domain import codes


@pytest.mark.parametrize("length", [4, 6, 10])
def test_codes_are_exactly_length_decimal_digits(length):
    for _ in range(500):
        code = codes.generate_code(length)
        assert len(code) == length
        assert set(code) <= set("0123456789")


def test_codes_keep_leading_zeros_and_cover_every_digit_evenly():
    samples = [codes.generate_code(6) for _ in range(20_000)]
    assert any(code.startswith("0") for code in samples)
    counts = collections.Counter("".join(samples))
    expected = 20_000 * 6 / 10
    chi_square = sum((counts[d] - expected) ** 2 / expected for d in "0123456789")
    # 9 degrees of freedom: 27.9 is the 0.1% critical value; a biased generator lands far beyond it.
    assert chi_square < 27.9, counts


def test_codes_do_not_follow_the_random_modules_seed():
    random.seed(1)
    first = codes.generate_code(10)
    random.seed(1)
    assert codes.generate_code(10) != first


def test_comparison_is_exact():
    assert codes.codes_match("012345", "012345")
    assert not codes.codes_match("012345", "012346")
    assert not codes.codes_match("012345", "12345")


def test_comparison_uses_hmac_compare_digest(monkeypatch):
    calls = []
    import hmac

    real = hmac.compare_digest
    monkeypatch.setattr(codes.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    assert codes.codes_match("123456", "123456")
    assert calls == [(b"123456", b"123456")]


def test_no_module_of_the_service_uses_the_random_module():
    # SECURITY.md: nothing random is drawn at import time, and only `secrets` draws at all, so
    # SnapStart copies of one snapshot never share a code.
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sources = [*root.joinpath("otp").rglob("*.py"), *root.joinpath("handlers").rglob("*.py")]
    assert sources
    for source in sources:
        text = source.read_text()
        assert "import random" not in text, source
        assert "from random" not in text, source
