"""Defences on signing: the emergency pause, block lists, disposable addresses, rate limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy
from sqlmodel import Session, col, select

from api.abuse.client import Network, in_networks, networks_of
from api.abuse.models import ALL_PETITIONS, BlockedEmailDomain, BlockedIpRange, SigningPause
from api.caches import BLOCK_LISTS, TtlCache, caches_of
from api.errors import BlockedNetwork, SigningPaused, invalid_field


@dataclass(frozen=True)
class BlockLists:
    email_domains: frozenset[str]
    ip_ranges: tuple[Network, ...]  # parsed once per load, not once per signature


def block_list_cache() -> TtlCache[BlockLists]:
    """The app's cache of the lists (registered as `blocklists`, api.caches). A staff edit
    empties it in its own process; the others read the lists again within this many seconds."""
    return TtlCache(ttl_seconds=5.0)


def block_lists(session: Session) -> BlockLists:
    def load() -> BlockLists:
        return BlockLists(
            email_domains=frozenset(session.exec(select(BlockedEmailDomain.domain)).all()),
            ip_ranges=networks_of(session.exec(select(BlockedIpRange.cidr)).all()),
        )

    cache = caches_of(session).ttl_if_any(BLOCK_LISTS)
    lists: BlockLists = load() if cache is None else cache.get("all", load)
    return lists


def longest_pause(slug: Any) -> Any:
    """The longest Retry-After of the pauses that stop signing on the petition `slug` (its own,
    or every petition's), as a scalar subquery (NULL when signing is not paused): read in the
    same query as the petition itself (api.petitions.taking)."""
    return (
        sqlalchemy.select(sqlalchemy.func.max(SigningPause.retry_after_seconds))
        .where(col(SigningPause.scope).in_([slug, ALL_PETITIONS]))
        .scalar_subquery()
    )


def refuse_if_paused(retry_after_seconds: int | None) -> None:
    if retry_after_seconds is not None:
        raise SigningPaused(
            "Signing is paused for now; please try again later.",
            headers={"Retry-After": str(retry_after_seconds)},
        )


def check_signer(session: Session, email: str, client_ip: str | None) -> None:
    lists = block_lists(session)
    if in_networks(client_ip, lists.ip_ranges):
        raise BlockedNetwork(
            "Signing from this network is blocked. Contact the campaign if in error."
        )
    domain = email.rpartition("@")[2].casefold()
    # Disposable providers are refused with the other field checks (api.petitions.validation);
    # this is the list staff keep, read from the database.
    if _blocked_domain(domain, lists.email_domains):
        raise invalid_field("email", "email_domain_blocked")


def _blocked_domain(domain: str, blocked: frozenset[str]) -> bool:
    # A blocked domain blocks its subdomains too.
    parts = domain.split(".")
    return any(".".join(parts[i:]) in blocked for i in range(len(parts) - 1))
