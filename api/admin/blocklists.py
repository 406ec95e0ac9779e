"""Admin rules for the block lists that signing checks: email domains and IP ranges.

Each change is audited, then every process is told to re-read the lists.
"""

from __future__ import annotations

import ipaddress
from typing import TypeVar

from sqlmodel import Session, select

from api.abuse.models import BlockedEmailDomain, BlockedIpRange
from api.abuse.service import forget_block_lists
from api.admin.audit import audited, snapshot
from api.admin.auth import Actor
from api.admin.schemas import (
    BlockedDomainCreate,
    BlockedDomainPublic,
    BlockedRangeCreate,
    BlockedRangePublic,
)
from api.errors import Conflict, NotFound, UnprocessableContent, field_error
from api.pagination import PageParams, paginate

BlockedRow = BlockedEmailDomain | BlockedIpRange
BlockedPublic = BlockedDomainPublic | BlockedRangePublic
Public = TypeVar("Public", BlockedDomainPublic, BlockedRangePublic)

# --- what an entry may be -----------------------------------------------------------------


def normalise_domain(value: str, where: str = "body") -> str:
    """The form the signing check compares: case-folded Unicode, without a trailing dot."""
    domain = value.strip().rstrip(".").casefold()
    if "xn--" in domain:
        try:
            domain = domain.encode("ascii").decode("idna")
        except (UnicodeError, ValueError) as exc:
            raise _invalid(
                where, "domain", "Is not a valid domain name.", "invalid_domain"
            ) from exc
    labels = domain.split(".")
    valid = len(labels) >= 2 and all(
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(ch.isalnum() or ch == "-" for ch in label)
        for label in labels
    )
    if not valid:
        raise _invalid(
            where,
            "domain",
            "Is not a domain name like `example.org` (no `@`, no spaces).",
            "invalid_domain",
        )
    return domain


def normalise_cidr(value: str, where: str = "body") -> str:
    text = value.strip()
    try:
        return str(ipaddress.ip_network(text))
    except ValueError as exc:
        try:
            suggestion = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise _invalid(
                where,
                "cidr",
                "Is not an IP network like `203.0.113.0/24`, nor one address.",
                "invalid_cidr",
            ) from exc
        raise _invalid(
            where, "cidr", f"Has host bits set; did you mean `{suggestion}`?", "host_bits_set"
        ) from exc


def _invalid(where: str, name: str, message: str, code: str) -> UnprocessableContent:
    return UnprocessableContent(
        f"{name}: {message}", errors=[field_error([where, name], message, code)]
    )


# --- adding and removing, for either list -------------------------------------------------


def _block(
    session: Session, actor: Actor, row: BlockedRow, key: str, public_type: type[Public], what: str
) -> Public:
    """Add one block-list entry, audit it, and make every process re-read the lists."""
    if session.get(type(row), key) is not None:
        raise Conflict(f"The {what} '{key}' is already blocked.")
    table = str(type(row).__tablename__)
    with audited(session, actor, "blocklist.add", table, key) as step:
        session.add(row)
        session.flush()
        public = public_type.model_validate(row, from_attributes=True)
        step.after = snapshot(public)
    forget_block_lists()
    return public


def _unblock(
    session: Session,
    actor: Actor,
    model: type[BlockedRow],
    key: str,
    public_type: type[BlockedPublic],
    what: str,
) -> None:
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"The {what} '{key}' is not blocked.")
    before = snapshot(public_type.model_validate(row, from_attributes=True))
    with audited(session, actor, "blocklist.remove", str(model.__tablename__), key, before=before):
        session.delete(row)
        session.flush()
    forget_block_lists()


# --- email domains ------------------------------------------------------------------------


def list_blocked_domains(
    session: Session, page: PageParams
) -> tuple[list[BlockedDomainPublic], str | None]:
    rows, cursor = paginate(
        session,
        select(BlockedEmailDomain),
        [BlockedEmailDomain.domain],
        page,
        key=lambda row: (row.domain,),
    )
    return [BlockedDomainPublic.model_validate(r, from_attributes=True) for r in rows], cursor


def block_domain(session: Session, actor: Actor, data: BlockedDomainCreate) -> BlockedDomainPublic:
    domain = normalise_domain(data.domain)
    row = BlockedEmailDomain(domain=domain, reason=data.reason)
    return _block(session, actor, row, domain, BlockedDomainPublic, "domain")


def unblock_domain(session: Session, actor: Actor, domain: str) -> None:
    domain = normalise_domain(domain, "query")
    _unblock(session, actor, BlockedEmailDomain, domain, BlockedDomainPublic, "domain")


# --- IP ranges ----------------------------------------------------------------------------


def list_blocked_ranges(
    session: Session, page: PageParams
) -> tuple[list[BlockedRangePublic], str | None]:
    rows, cursor = paginate(
        session, select(BlockedIpRange), [BlockedIpRange.cidr], page, key=lambda r: (r.cidr,)
    )
    return [BlockedRangePublic.model_validate(r, from_attributes=True) for r in rows], cursor


def block_range(session: Session, actor: Actor, data: BlockedRangeCreate) -> BlockedRangePublic:
    cidr = normalise_cidr(data.cidr)
    row = BlockedIpRange(cidr=cidr, reason=data.reason)
    return _block(session, actor, row, cidr, BlockedRangePublic, "range")


def unblock_range(session: Session, actor: Actor, cidr: str) -> None:
    cidr = normalise_cidr(cidr, "query")
    _unblock(session, actor, BlockedIpRange, cidr, BlockedRangePublic, "range")
