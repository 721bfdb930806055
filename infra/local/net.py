"""Small network helpers for local services."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit


def port_open(host: str, port: int, *, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now (no other program holds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_port(host: str, port: int, *, timeout: float, closed: bool = False) -> bool:
    """Wait until host:port accepts connections (or, with `closed`, stops accepting them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port) != closed:
            return True
        time.sleep(0.2)
    return False


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_ports() -> range:
    """The ports the kernel hands out as the source port of outgoing connections."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port() -> int:
    """A TCP port nothing listens on right now, outside the ephemeral range.

    A port the kernel picked for a bind to port 0 lies in the ephemeral range, so an outgoing
    connection made before the caller's server binds it (a worker's connection to RabbitMQ, say)
    may take it; a port below that range is never taken that way.
    """
    ephemeral = ephemeral_ports()
    candidates = range(10000, ephemeral.start) if ephemeral.start > 11000 else range(ephemeral.stop, 65536)
    for _ in range(200 if candidates else 0):
        port = random.choice(candidates)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def host_port(url: str, default_port: int) -> tuple[str, int]:
    """The host and port a service URL points at."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def is_local(host: str) -> bool:
    """Whether a host is this machine."""
    return host in {"127.0.0.1", "localhost", "::1", socket.gethostname()}
