"""The mails about a signature (its confirmation, a reminder, "already signed") and the
confirm and withdraw links they carry: queued with their tokens in the transaction that
decided to send them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from api.db import table_of, utcnow
from api.mail import links
from api.mail import service as mail
from api.petitions.models import SignatureToken, TokenPurpose
from api.rowinsert import RowInsert
from api.security import new_token

CONFIRM_TOKEN_LIFETIME = dt.timedelta(days=7)

CONFIRMING_TEMPLATES = ("confirm", "reminder")  # mails that carry a confirm link

_TOKEN = table_of(SignatureToken)
_TOKEN_INSERT = RowInsert(_TOKEN, [column.name for column in _TOKEN.c])


@dataclass(frozen=True)
class LinkTokens:
    """A mail's confirm and withdraw tokens, each with the hash that is stored: made before
    the writer takes the database (`os.urandom` and hashing need no lock), used if a mail goes
    out."""

    confirm: tuple[str, str]
    withdraw: tuple[str, str]

    @classmethod
    def new(cls) -> LinkTokens:
        return cls(new_token(), new_token())


@dataclass(frozen=True)
class Letter:
    """A mail about one signature, to be queued with a fresh withdraw link and, for the
    templates that ask to confirm, a fresh confirm link."""

    petition_title: str  # in the signer's language: a Spanish subject must not switch to English
    signature_id: int
    email: str
    email_hash: str
    first_name: str
    locale: str
    template: str
    public_base_url: str
    recipient_limit: mail.RecipientLimit | None
    tokens: LinkTokens | None = None  # None: made when the mail is queued


def queue_letters(
    session: Session, letters: list[Letter], recent_mail: mail.RecentMail | None = None
) -> None:
    """Queue the letters, in order, each within its recipient's cap: one query for the caps
    (none if the caller read them already in `recent_mail`, for every recipient over the
    longest window of the letters' limits), one statement for the tokens and one for the
    mails, however many letters."""
    if not letters:
        return
    limits = {letter.recipient_limit for letter in letters} - {None}
    window = max((limit.window for limit in limits if limit), default=None)
    read = recent_mail.counts_within(window) if recent_mail and window else None
    if window is None:
        sent: dict[str, int] = {}
    elif read is not None:
        sent = dict(read)
    else:
        sent = mail.recent_counts(session, [letter.email_hash for letter in letters], window)
    now = utcnow()
    # One timestamp object per column for the whole batch, and the rows grouped by purpose:
    # RowInsert converts a value once while the rows before it had the very same one.
    expires_at = now + CONFIRM_TOKEN_LIFETIME
    confirm_tokens: list[dict[str, Any]] = []
    withdraw_tokens: list[dict[str, Any]] = []
    mails: list[dict[str, Any]] = []
    for letter in letters:
        limit = letter.recipient_limit
        if limit is not None:
            if sent.get(letter.email_hash, 0) >= limit.mails:
                continue  # no mail, and so no links to make
            sent[letter.email_hash] = sent.get(letter.email_hash, 0) + 1
        mails.append(_mail_of(letter, confirm_tokens, withdraw_tokens, now, expires_at))
    if confirm_tokens or withdraw_tokens:
        _TOKEN_INSERT.execute(session.connection(), confirm_tokens + withdraw_tokens)
    mail.enqueue_rows(session, mails)


def _mail_of(
    letter: Letter,
    confirm_tokens: list[dict[str, Any]],
    withdraw_tokens: list[dict[str, Any]],
    now: dt.datetime,
    expires_at: dt.datetime,
) -> dict[str, Any]:
    """The letter's outbox row; its tokens' rows are added to the lists of their purpose."""
    base, locale = letter.public_base_url, letter.locale
    payload: dict[str, Any] = {
        "first_name": letter.first_name,
        "petition_title": letter.petition_title,
        "about_url": links.about_url(base, locale),
    }
    tokens = letter.tokens or LinkTokens.new()
    if letter.template in CONFIRMING_TEMPLATES:
        confirm_token, confirm_hash = tokens.confirm
        confirm_tokens.append(
            _token_row(
                confirm_hash, letter.signature_id, TokenPurpose.confirm, now, expires_at=expires_at
            )
        )
        payload["confirm_url"] = links.confirm_url(base, confirm_token, locale)
    withdraw_token, withdraw_hash = tokens.withdraw
    withdraw_tokens.append(
        _token_row(withdraw_hash, letter.signature_id, TokenPurpose.withdraw, now)
    )
    payload["withdraw_url"] = links.withdraw_url(base, withdraw_token, locale)
    return mail.mail_row(
        template=letter.template,
        locale=locale,
        to_address=letter.email,
        payload=payload,
        signature_id=letter.signature_id,
        recipient_hash=letter.email_hash,
        now=now,
    )


def _token_row(
    digest: str,
    signature_id: int,
    purpose: TokenPurpose,
    now: dt.datetime,
    *,
    expires_at: dt.datetime | None = None,
) -> dict[str, Any]:
    return {
        "token_hash": digest,
        "signature_id": signature_id,
        "purpose": purpose,
        "created_at": now,
        "expires_at": expires_at,
        "used_at": None,
    }
