"""The fast path for ASCII addresses answers exactly what email_validator answers, or leaves
the address to it."""

from __future__ import annotations

import random
import string

from email_validator import EmailNotValidError, validate_email

from api.petitions.validation import _normalised_ascii

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-."
DOMAINS = [
    *("example.org", "Example.ORG", "gmail.com", "sub.domain.co.uk", "x.y", "mail.x.museum"),
    *("xn--bcher-kva.de", "b\u00fccher.de", "localhost", "foo.test", "EXAMPLE.invalid"),
    *("a.123", "-a.org", "a-.org", "a..b.org", "192.168.0.1", "[127.0.0.1]", "xn--.org"),
    *("a" * 64 + ".org", "a" * 63 + ".org", "ex ample.org", "example.org.", ".example.org"),
    *("exa_mple.org", "a.b"),
]


def _full_check(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def test_fast_path_agrees_with_email_validator() -> None:
    rng = random.Random(1)
    taken = 0
    for _ in range(3000):
        local = "".join(rng.choice(ATEXT) for _ in range(rng.randint(0, 70)))
        address = f"{local}@{rng.choice(DOMAINS)}"
        fast = _normalised_ascii(address)
        if fast is not None:
            taken += 1
            assert fast == _full_check(address), address
    assert taken > 500  # the corpus does exercise the fast path


def test_what_the_fast_path_leaves_alone() -> None:
    for address in ("Jos\u00e9@example.org", "a@b@example.org", "no-at-sign", '"q"@example.org'):
        assert _normalised_ascii(address) is None
