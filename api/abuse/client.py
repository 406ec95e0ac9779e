"""Who is calling: the client IP, believing X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks_of(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


_networks = lru_cache(maxsize=32)(networks_of)  # the trusted proxies, as a tuple: every request


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(request: Request, trusted_proxies: list[str]) -> str | None:
    """The socket peer, unless it is a trusted proxy: then the right-most X-Forwarded-For hop
    that is not itself a trusted proxy (hops to its left are client-supplied and forgeable)."""
    peer = request.client.host if request.client else None
    if not trusted_proxies:
        return peer  # the usual case, without parsing the address on every request
    if not peer_is_trusted(peer, trusted_proxies):
        return peer
    networks = _networks(tuple(trusted_proxies))
    forwarded = request.headers.get("x-forwarded-for", "")
    for hop in reversed([h for h in forwarded.split(",") if h.strip()]):
        address = _parse(hop)
        if address is None:
            return peer  # a malformed chain: trust nothing in it
        if not any(address in net for net in networks):
            return str(address)
    return peer


def peer_is_trusted(peer: str | None, trusted_proxies: list[str]) -> bool:
    """Whether the socket peer of a request is one of our proxies."""
    peer_address = _parse(peer) if peer else None
    if peer_address is None:
        return False
    return any(peer_address in net for net in _networks(tuple(trusted_proxies)))


def in_networks(ip: str | None, networks: tuple[Network, ...]) -> bool:
    if not networks:
        return False  # the usual case: no address to parse (signing runs inside the write lock)
    address = _parse(ip) if ip else None
    if address is None:
        return False
    return any(address in network for network in networks)
