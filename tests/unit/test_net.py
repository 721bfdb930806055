"""Picking ports for the servers tests start."""

from __future__ import annotations

import socket

from infra.local.net import ephemeral_ports, free_port


def test_a_free_port_is_bindable_and_outside_the_ephemeral_range() -> None:
    # Given the range outgoing connections take their source ports from
    ephemeral = ephemeral_ports()
    for _ in range(50):
        # When a port is picked for a server
        port = free_port()
        # Then no outgoing connection can hold it, and a server can bind it
        assert port not in ephemeral
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_taken_by_a_listener_is_not_picked() -> None:
    # Given listeners on many ports below the ephemeral range
    ports = range(10000, ephemeral_ports().start)
    listeners = []
    try:
        for port in ports[:200]:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            sock.listen()
            listeners.append(sock)
        taken = {sock.getsockname()[1] for sock in listeners}
        # When ports are picked, then none of them is a taken one
        assert all(free_port() not in taken for _ in range(50))
    finally:
        for sock in listeners:
            sock.close()
