"""One mailbox signs once: plus and dash tags of the providers that deliver them to one
mailbox, full-width and other compatibility forms, and look-alike mixed-script addresses."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import select

from api.db import Database
from api.petitions.models import Signature
from api.petitions.validation import MAILBOXES, canonical_email
from tests.petitions.helpers import SIGN_URL, signer
from tests.test_errors import assert_problem


def fullwidth(ascii_text: str) -> str:
    """The full-width forms (U+FF01..U+FF5E) of printable ASCII."""
    return "".join(chr(ord(ch) + 0xFEE0) for ch in ascii_text)


def canonical_before(email: str) -> str:
    """canonical_email as it was before provider tags and NFKC (hashes stored then)."""
    local, _, domain = email.casefold().rpartition("@")
    if domain in ("gmail.com", "googlemail.com"):
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


@pytest.mark.parametrize(
    ("address", "canonical"),
    [
        ("alice+1@outlook.com", "alice@outlook.com"),
        ("Alice+news@Hotmail.com", "alice@hotmail.com"),
        ("alice+x@live.com", "alice@live.com"),
        ("alice+x@msn.com", "alice@msn.com"),
        ("alice+shop@icloud.com", "alice@icloud.com"),
        ("alice+shop@me.com", "alice@me.com"),
        ("alice+shop@mac.com", "alice@mac.com"),
        ("alice+a@fastmail.com", "alice@fastmail.com"),
        ("alice+a@fastmail.fm", "alice@fastmail.fm"),
        ("alice+a@proton.me", "alice@proton.me"),
        ("alice+a@protonmail.com", "alice@protonmail.com"),
        ("alice+a@pm.me", "alice@pm.me"),
        ("alice-shopping@yahoo.com", "alice@yahoo.com"),
        ("alice-x@ymail.com", "alice@ymail.com"),
        ("a.l.i.c.e+x@googlemail.com", "alice@gmail.com"),
        (fullwidth("alice") + "@example.org", "alice@example.org"),
        (fullwidth("ALICE+1@outlook") + ".com", "alice@outlook.com"),
        ("alice+1@example.org", "alice+1@example.org"),  # unknown provider: a tag may matter
        ("first.last@outlook.com", "first.last@outlook.com"),  # only Gmail ignores dots
    ],
)
def test_canonical_email_folds_provider_tags(address: str, canonical: str) -> None:
    assert canonical_email(address) == canonical


@pytest.mark.parametrize(
    "address",
    [
        "alice@example.org",
        "Mixed.Case@Example.ORG",
        "jo.doe@gmail.com",
        "J.O.Doe+news@googlemail.com",
        *(f"someone.{i}@{domain}" for i, domain in enumerate(MAILBOXES) if domain != "gmail.com"),
        "o'neil_99@sub.example.co.uk",
    ],
)
def test_addresses_without_new_tags_keep_the_canonical_form_stored_hashes_were_made_from(
    address: str,
) -> None:
    assert canonical_email(address) == canonical_before(address)


def signatures(database: Database) -> int:
    with database.session() as session:
        return session.exec(select(func.count()).select_from(Signature)).one()


def test_one_mailbox_signs_once(client, clean_database: Database) -> None:
    for address in (
        "alice+1@outlook.com",
        "alice+2@outlook.com",
        "Alice@Outlook.com",
        "bob-a@yahoo.com",
        "bob-b@yahoo.com",
        fullwidth("carol") + "@example.org",
        "carol@example.org",
    ):
        assert client.post(SIGN_URL, json=signer(email=address)).status_code == 202
    assert signatures(clean_database) == 3


@pytest.mark.parametrize(
    "address",
    [
        "p\u0430ypal@example.org",  # a Cyrillic a among Latin letters
        "\u03b1lice@example.org",  # a Greek alpha
    ],
)
def test_look_alike_mixed_script_addresses_are_refused(client, clean_database, address) -> None:
    body = assert_problem(client.post(SIGN_URL, json=signer(email=address)), 422)
    [error] = body["errors"]
    assert error["field"] == "email" and error["code"] == "invalid_email"
    assert signatures(clean_database) == 0


@pytest.mark.parametrize("address", ["josé@example.org", "日本語ひらがなカタカナ@example.jp"])
def test_one_script_or_an_allowed_mix_is_accepted(client, clean_database, address) -> None:
    assert client.post(SIGN_URL, json=signer(email=address)).status_code == 202
