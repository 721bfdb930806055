"""RabbitMQ's management API: the message counts and consumers of Conveyor's queues.

The figures are the broker's own, as its console shows them; the broker refreshes them every
few seconds (`collect_statistics_interval`, 5 s by default), so they lag by that much.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

import httpx
import msgspec

from infra.settings import Settings

#: The columns asked for: the management API answers only these, which keeps answers small.
COLUMNS = "name,messages_ready,messages_unacknowledged,consumers"


class QueueDepth(msgspec.Struct, frozen=True):
    """One RabbitMQ queue as the broker counts it."""

    name: str
    ready: int = 0
    unacked: int = 0
    consumers: int = 0


class ManagementUnavailable(Exception):
    """The management API did not answer, or answered with an error."""


def credentials(settings: Settings) -> tuple[str, str]:
    """The user and password of the AMQP URL, which the management API takes too."""
    parts = urlsplit(settings.rabbitmq_url)
    return unquote(parts.username or "guest"), unquote(parts.password or "guest")


def vhost(settings: Settings) -> str:
    """The virtual host of the AMQP URL (`/` when it names none)."""
    path = urlsplit(settings.rabbitmq_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def management_client(settings: Settings, *, timeout: float = 3.0) -> httpx.AsyncClient:
    """An HTTP client of the management API (the caller closes it)."""
    return httpx.AsyncClient(base_url=settings.rabbitmq_management_url, auth=credentials(settings), timeout=timeout)


async def queue_depths(client: httpx.AsyncClient, settings: Settings) -> dict[str, QueueDepth]:
    """Every queue of the virtual host whose name starts with the queue prefix, by name."""
    path = f"/api/queues/{quote(vhost(settings), safe='')}"
    try:
        response = await client.get(path, params={"columns": COLUMNS})
        response.raise_for_status()
        rows = msgspec.json.decode(response.content, type=list[dict[str, object]])
    except (httpx.HTTPError, msgspec.DecodeError) as exc:
        raise ManagementUnavailable(str(exc) or type(exc).__name__) from exc
    depths: dict[str, QueueDepth] = {}
    for row in rows:
        name = str(row.get("name", ""))
        if not name.startswith(settings.queue_prefix):
            continue
        depths[name] = QueueDepth(
            name=name,
            ready=_count(row.get("messages_ready")),
            unacked=_count(row.get("messages_unacknowledged")),
            consumers=_count(row.get("consumers")),
        )
    return depths


def _count(value: object) -> int:
    """A count the broker gave (absent until its first statistics tick)."""
    return value if isinstance(value, int) else 0
