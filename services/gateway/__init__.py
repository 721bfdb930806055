"""The HTTP gateway: a Litestar app built by `create_app`."""

from __future__ import annotations

from services.gateway.app import create_app

__all__ = ["create_app"]
