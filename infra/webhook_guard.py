"""Which addresses a webhook may reach (the SSRF guard), decided once per connection.

A URL passes when its scheme is http or https and every address its host resolves to is
globally routable; the caller then connects to the address that was checked (never resolving
again), so a name cannot answer one address to the check and another to the connection.
`exemptions` are (host, port) pairs let through anyway (CONVEYOR_WEBHOOK_ALLOW_PRIVATE).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]


class AddressRefused(ValueError):
    """A webhook URL that may not be reached; the message says why, without the secret parts."""


@dataclass(frozen=True)
class Target:
    """Where a webhook connects: the URL as given, and the checked address for its host."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def is_public(address: IPAddress) -> bool:
    """Whether an address is globally routable unicast (not loopback, private, link-local,
    CGNAT, multicast, reserved, unique-local, nor an IPv4 one of those inside IPv6)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not address.is_multicast


def split_url(url: str) -> tuple[str, str, int]:
    """The scheme, host (lower-case, no brackets) and port of a webhook URL, or AddressRefused."""
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"is not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise AddressRefused("must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("must not carry a user name or password")
    host = (parts.hostname or "").lower()
    if not host:
        raise AddressRefused("has no host")
    return scheme, host, port or SCHEMES[scheme]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (blocking)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"host {host} does not resolve: {exc}") from None
    return [str(info[4][0]) for info in infos]


def check(url: str, exemptions: frozenset[tuple[str, int]], resolve: Resolver = system_resolver) -> Target:
    """The target of `url`, or AddressRefused if any address of its host is not public."""
    scheme, host, port = split_url(url)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
    if not addresses:
        raise AddressRefused(f"host {host} has no address")
    exempt = (host, port) in exemptions or any((str(a), port) in exemptions for a in addresses)
    if not exempt:
        for address in addresses:
            if not is_public(address):
                raise AddressRefused(f"resolves to {address}, which is not a public address")
    return Target(url=url, scheme=scheme, host=host, port=port, address=str(addresses[0]))


async def check_async(url: str, exemptions: frozenset[tuple[str, int]]) -> Target:
    """`check` without blocking the event loop on DNS."""
    return await asyncio.get_running_loop().run_in_executor(None, check, url, exemptions)
