"""Admin rules for the block lists that signing checks: email domains and IP ranges.

Each change is audited, then every process is told to re-read the lists.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlmodel import Session, select

from api.abuse.models import BlockedEmailDomain, BlockedIpRange
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

Row = TypeVar("Row", BlockedEmailDomain, BlockedIpRange)
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


# --- either list -------------------------------------------------------------------------


@dataclass(frozen=True)
class _BlockList(Generic[Row, Public]):
    """One block list: its table, its key column, how staff see an entry, what it holds (for
    messages)."""

    table: type[Row]
    key: str
    public: type[Public]
    what: str

    def entries(self, session: Session, page: PageParams) -> tuple[list[Public], str | None]:
        column = getattr(self.table, self.key)
        rows, cursor = paginate(
            session, select(self.table), [column], page, key=lambda r: (getattr(r, self.key),)
        )
        return [self.public.model_validate(r, from_attributes=True) for r in rows], cursor

    def add(self, session: Session, actor: Actor, row: Row) -> Public:
        """Add one entry, audit it, and make every process re-read the lists."""
        key = getattr(row, self.key)
        if session.get(self.table, key) is not None:
            raise Conflict(f"The {self.what} '{key}' is already blocked.")
        with audited(session, actor, "blocklist.add", self._target_type, key) as step:
            session.add(row)
            session.flush()
            public = self.public.model_validate(row, from_attributes=True)
            step.after = snapshot(public)
        return public

    def remove(self, session: Session, actor: Actor, key: str) -> None:
        row = session.get(self.table, key)
        if row is None:
            raise NotFound(f"The {self.what} '{key}' is not blocked.")
        before = snapshot(self.public.model_validate(row, from_attributes=True))
        with audited(session, actor, "blocklist.remove", self._target_type, key, before=before):
            session.delete(row)
            session.flush()

    @property
    def _target_type(self) -> str:
        return str(self.table.__tablename__)


_DOMAINS = _BlockList(BlockedEmailDomain, "domain", BlockedDomainPublic, "domain")
_RANGES = _BlockList(BlockedIpRange, "cidr", BlockedRangePublic, "range")


# --- email domains ------------------------------------------------------------------------


def list_blocked_domains(
    session: Session, page: PageParams
) -> tuple[list[BlockedDomainPublic], str | None]:
    return _DOMAINS.entries(session, page)


def block_domain(session: Session, actor: Actor, data: BlockedDomainCreate) -> BlockedDomainPublic:
    domain = normalise_domain(data.domain)
    return _DOMAINS.add(session, actor, BlockedEmailDomain(domain=domain, reason=data.reason))


def unblock_domain(session: Session, actor: Actor, domain: str) -> None:
    _DOMAINS.remove(session, actor, normalise_domain(domain, "query"))


# --- IP ranges ----------------------------------------------------------------------------


def list_blocked_ranges(
    session: Session, page: PageParams
) -> tuple[list[BlockedRangePublic], str | None]:
    return _RANGES.entries(session, page)


def block_range(session: Session, actor: Actor, data: BlockedRangeCreate) -> BlockedRangePublic:
    cidr = normalise_cidr(data.cidr)
    return _RANGES.add(session, actor, BlockedIpRange(cidr=cidr, reason=data.reason))


def unblock_range(session: Session, actor: Actor, cidr: str) -> None:
    _RANGES.remove(session, actor, normalise_cidr(cidr, "query"))
