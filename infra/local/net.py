"""Small network helpers for local services."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit


def port_open(host: str, port: int, *, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, *, timeout: float, closed: bool = False) -> bool:
    """Wait until host:port accepts connections (or, with `closed`, stops accepting them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port) != closed:
            return True
        time.sleep(0.2)
    return False


def free_port() -> int:
    """A TCP port nothing listens on right now."""
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
