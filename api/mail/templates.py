"""Render mail from templates, in English or Spanish, as plain text and HTML.

The message is written straight to wire bytes (RFC 5322 with MIME, CRLF line endings) instead
of through `email.message.EmailMessage`: building one parses every header again through
`email.policy.default`'s header registry and then serialises it, which cost about half of
the worker's time. Headers that can need RFC 2047 encoding (Subject, From) still go through
the standard library's folding, but once per distinct value; the recipient, the date, the
Message-ID and the MIME headers are ASCII the worker generates itself.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy as email_policy
from email.headerregistry import AddressHeader
from email.utils import formatdate, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
LOCALES = ("en", "es")

# The line length the standard library's policies fold and choose 7bit by (RFC 5322 advises
# 78; 998 is the hard limit).
MAX_LINE_LENGTH = 78
CRLF = b"\r\n"

# A bare addr-spec that needs neither quoting nor encoding, as email_validator normalises
# ASCII addresses: such a recipient is written as it is, without the header parser.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


@dataclass(frozen=True)
class OutgoingMail:
    """One rendered message: what SMTP needs to send it, and its bytes."""

    envelope_from: str
    recipients: tuple[str, ...]
    data: bytes  # the whole message, CRLF line endings
    # An address is not ASCII: the server must offer SMTPUTF8, and the headers are UTF-8.
    smtputf8: bool
    links: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates ship with the code: without this every render stats each file.
        auto_reload=False,
    )


def _parse_header(name: str, value: str) -> Any:
    # header_store_parse refuses CR and LF in the value (no header injection).
    return email_policy.SMTP.header_store_parse(name, value)[1]


def _fold(name: str, value: str, smtputf8: bool) -> bytes:
    # The policies smtplib's send_message serialised with: UTF-8 headers only for non-ASCII
    # addresses (which need the server's SMTPUTF8 anyway).
    policy = email_policy.SMTPUTF8 if smtputf8 else email_policy.SMTP
    return _parse_header(name, value).fold(policy=policy).encode("utf-8")


@lru_cache(maxsize=1024)
def _cached_fold(name: str, value: str, smtputf8: bool) -> bytes:
    """Subjects and the sender repeat from mail to mail: fold each once."""
    return _fold(name, value, smtputf8)


@lru_cache(maxsize=16)
def _envelope_address(sender: str) -> str:
    header: AddressHeader = _parse_header("From", sender)
    return header.addresses[0].addr_spec


def _parsed_recipients(to: str) -> tuple[str, ...]:
    header: AddressHeader = _parse_header("To", to)
    return tuple(address.addr_spec for address in header.addresses)


def _body(text: str) -> tuple[str, bytes]:
    """The part's Content-Transfer-Encoding and its encoded lines (CRLF, ending with one).

    7bit when every line is ASCII and short, as the standard library chooses; otherwise
    quoted-printable, which keeps the message 7-bit clean (the standard library's default
    policy would send UTF-8 as 8bit without asking the server for 8BITMIME).
    """
    lines = text.encode("utf-8").splitlines()
    if max(map(len, lines), default=0) <= MAX_LINE_LENGTH and all(line.isascii() for line in lines):
        return "7bit", CRLF.join(lines) + CRLF
    encoded = binascii.b2a_qp(b"\n".join(lines) + b"\n", istext=True)
    return "quoted-printable", encoded.replace(b"\n", CRLF)


def _part(subtype: str, text: str) -> bytes:
    encoding, body = _body(text)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode("ascii") + body


def _boundary(*parts: bytes) -> bytes:
    # "=_" never occurs in quoted-printable output; a 7bit part is checked.
    while True:
        boundary = b"=_" + secrets.token_hex(16).encode("ascii")
        if not any(boundary in part for part in parts):
            return boundary


def render(
    template: str,
    locale: str,
    payload: dict[str, Any],
    *,
    sender: str,
    to: str,
    links: Sequence[str] = (),
    message_id: str | None = None,
) -> OutgoingMail:
    """multipart/alternative (text, then HTML). `links`, if any, go in an X-Advocacy-Links
    header for the .eml file backend. `message_id` (with its angle brackets) is the outbox
    row's stable one, so a re-send carries the same; without it a random one is made."""
    locale = locale if locale in LOCALES else "en"
    environment = _environment()
    subject = environment.get_template(f"{template}.{locale}.subject.txt").render(**payload)
    text = environment.get_template(f"{template}.{locale}.txt").render(**payload)
    html = environment.get_template(f"{template}.{locale}.html").render(**payload)

    envelope_from = _envelope_address(sender)
    plain_to = _PLAIN_ADDRESS.fullmatch(to) is not None
    recipients = (to,) if plain_to else _parsed_recipients(to)
    smtputf8 = not all(address.isascii() for address in (envelope_from, *recipients))

    headers = [
        _cached_fold("Subject", subject.strip(), smtputf8),
        _cached_fold("From", sender, smtputf8),
        b"To: " + to.encode("ascii") + CRLF if plain_to else _fold("To", to, smtputf8),
        f"Date: {formatdate(localtime=False)}\r\n".encode("ascii"),
        f"Message-ID: {message_id or make_msgid(domain='advocacy.invalid')}\r\n".encode("ascii"),
    ]
    if links:
        headers.append(_fold("X-Advocacy-Links", " ".join(links), smtputf8))
    plain, rich = _part("plain", text), _part("html", html)
    boundary = _boundary(plain, rich)
    data = b"".join(
        (
            *headers,
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative;\r\n boundary="' + boundary + b'"\r\n',
            f"Content-Language: {locale}\r\n\r\n".encode("ascii"),
            b"--" + boundary + CRLF,
            plain,
            CRLF + b"--" + boundary + CRLF,
            rich,
            CRLF + b"--" + boundary + b"--" + CRLF,
        )
    )
    return OutgoingMail(
        envelope_from=envelope_from,
        recipients=recipients,
        data=data,
        smtputf8=smtputf8,
        links=tuple(links),
    )
