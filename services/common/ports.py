"""Local TCP ports."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port that was free on this machine a moment ago (for local processes and tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
