"""The gateway's Request: JSON bodies are measured before they are decoded."""

from __future__ import annotations

from typing import Any

from litestar import Request

from schemas.errors import FieldError
from schemas.nesting import NESTING_MESSAGE, too_deep
from services.gateway.errors import ApiError


class GatewayRequest(Request[Any, Any, Any]):
    """A request whose JSON body nesting deeper than MAX_NESTING is refused (422 naming where)
    before any decoder walks it."""

    async def json(self) -> Any:
        """The decoded JSON body."""
        if (at := too_deep(await self.body())) is not None:
            raise ApiError(422, "invalid_request", f"{at} {NESTING_MESSAGE}", [FieldError(at, NESTING_MESSAGE)])
        return await super().json()
