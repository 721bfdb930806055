"""Settings: one frozen Struct read from `CONVEYOR_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from schemas.generation import Prices, parse_prices

PREFIX = "CONVEYOR_"


class SettingsError(ValueError):
    """A `CONVEYOR_*` variable is unknown or does not parse."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a Conveyor process can be told from its environment (see README)."""

    database_url: str = "postgresql://postgres@127.0.0.1:5432/conveyor"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    rabbitmq_management_url: str = "http://127.0.0.1:15672"
    #: Prepended to every queue name; lets several installations share one RabbitMQ vhost.
    queue_prefix: str = ""
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    db_pool_size: int = 10
    max_body_bytes: int = 1_048_576
    #: The largest artifact a job may store (a larger one fails the job).
    max_artifact_bytes: int = 104_857_600
    #: How long the gateway trusts a looked-up API key (a revoked key works this long at most).
    key_cache_seconds: float = 10.0
    #: Threads per worker process.
    worker_threads: int = 8
    #: Unacknowledged messages a worker process holds per queue; 0 means two per thread. Every
    #: worker runs the highest-priority message it holds first (actors/middleware/work_order.py).
    worker_prefetch: int = 0
    #: How often a worker writes heartbeats and progress of its running jobs.
    heartbeat_seconds: float = 0.5
    #: How often a worker reads queue controls (pause, limits) and says it is alive.
    control_poll_seconds: float = 0.5
    #: A running job whose heartbeat is older than this is taken over.
    lease_seconds: float = 30.0
    #: Losing the worker this many times while running fails a job (category worker_lost).
    max_worker_losses: int = 3
    #: Time limit of jobs that name none and whose operation names none.
    default_timeout_seconds: float = 3600.0
    #: A running job asked to cancel that ignores it is interrupted after this long.
    cancel_grace_seconds: float = 0.5
    #: The outbox relay leaves rows younger than this to the process that wrote them.
    relay_grace_seconds: float = 5.0
    #: How long a draining worker waits for running jobs before releasing them.
    shutdown_timeout_seconds: float = 30.0
    #: Finished jobs (with their events and results) are deleted this many days after they
    #: finished; 0 keeps them forever.
    retention_days: int = 7
    #: Jobs the retention sweep deletes per statement (each batch is one short transaction).
    retention_batch_size: int = 1000
    #: How often the scheduler leader sweeps finished jobs past retention.
    retention_interval_seconds: float = 600.0
    #: Offer the diagnostic operations that nothing can cancel or time out (general.block);
    #: for tests and drills, never for tenants.
    diagnostics: bool = False
    #: Stats rollups (per minute, 5 minutes, hour and day) are deleted this many days after their bucket
    #: began; 0 keeps them forever. Cumulative totals are never deleted.
    stats_retention_days: int = 8
    #: A Server-Sent Events stream sends a comment line after this many quiet seconds (proxies
    #: close silent connections).
    stream_keepalive_seconds: float = 15.0
    #: Events a stream subscriber may fall behind by before it is disconnected (it resumes from
    #: its last event id); a slow client never slows the gateway.
    stream_buffer_events: int = 1000
    #: Whether the gateway serves Prometheus metrics at /metrics (404 when off).
    metrics_enabled: bool = True
    #: When a webhook delivery that failed (429, 5xx, a timeout, no connection) is tried again:
    #: comma-separated delays (`30s`, `5m`, `2h`; a bare number is seconds), jittered; a
    #: receiver's Retry-After stretches one. After the last the delivery is failed.
    webhook_retry_schedule: str = "5s,5m,30m,2h,5h,10h,10h"
    #: How long a webhook receiver has to answer (connecting included).
    webhook_timeout_seconds: float = 15.0
    #: `host:port` pairs (comma-separated) that webhooks may reach although their address is not
    #: globally routable (loopback, private networks); for development and tests. Empty: none.
    webhook_allow_private: str = ""
    #: The SMTP server that sends e-mail notifications: `smtp://host:25`,
    #: `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://user:pass@host:465`.
    #: Empty: e-mail deliveries fail, saying so.
    smtp_url: str = ""
    smtp_from: str = "Conveyor <conveyor@localhost>"
    #: Where people reach this installation (links in e-mail and the inbox).
    public_url: str = "http://127.0.0.1:8000"
    #: An OpenAI-compatible chat-completions endpoint's base URL (`…/v1`: OpenAI, vLLM, Ollama,
    #: llama.cpp's server) for generative operations. Empty: they use the local composer.
    llm_url: str = ""
    #: Its bearer key (empty: none sent). Never shown by repr, logs or results.
    llm_api_key: str = ""
    #: The model asked for (required with llm_url).
    llm_model: str = ""
    #: USD per million tokens per model, `model=input/output[,…]`, e.g. `gpt-4o-mini=0.15/0.60`.
    llm_prices: str = ""
    #: How long the provider may stay silent (connecting, before the first token, between
    #: tokens) before the attempt counts as timed out (and is retried).
    llm_timeout_seconds: float = 60.0
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    #: Where `make services` keeps the data of the RabbitMQ and PostgreSQL it starts.
    local_dir: str = ".local"

    def __post_init__(self) -> None:
        # refuse malformed values at start, not at the first delivery
        try:
            self.webhook_retry_delays()
        except ValueError as exc:
            raise ValueError(f"webhook_retry_schedule: {exc}") from None
        self.webhook_private_exemptions()
        try:
            self.llm_price_table()
        except ValueError as exc:
            raise ValueError(f"llm_prices: {exc}") from None
        if self.llm_url and not self.llm_model:
            raise ValueError("llm_model: required when CONVEYOR_LLM_URL is set (the model to ask for)")
        if self.llm_url and not self.llm_url.startswith(("http://", "https://")):
            raise ValueError(f"llm_url: {self.llm_url!r} is not an http:// or https:// URL")

    def __repr__(self) -> str:
        # the provider key stays out of reprs (and so of logs and tracebacks)
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self.__rich_repr__())})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """The fields, the provider key masked."""
        shown = msgspec.structs.asdict(self)
        return [(name, ("***" if value else "") if name == "llm_api_key" else value) for name, value in shown.items()]

    def llm_price_table(self) -> Prices:
        """CONVEYOR_LLM_PRICES as {model: (input, output)} USD per million tokens."""
        return parse_prices(self.llm_prices)

    def webhook_retry_delays(self) -> tuple[float, ...]:
        """The webhook retry schedule in seconds."""
        return tuple(parse_duration(part) for part in self.webhook_retry_schedule.split(",") if part.strip())

    def webhook_private_exemptions(self) -> frozenset[tuple[str, int]]:
        """The (host, port) pairs exempt from the webhook address guard, hosts lower-cased."""
        pairs = set()
        for item in self.webhook_allow_private.split(","):
            if not (item := item.strip()):
                continue
            host, sep, port = item.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"webhook_allow_private: {item!r} is not host:port")
            pairs.add((host.strip("[]").lower(), int(port)))
        return frozenset(pairs)

    def queue_name(self, engine: str) -> str:
        """The RabbitMQ queue of an engine."""
        return self.queue_prefix + engine


UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in `500ms`, `5s`, `5m`, `2h`, `1d` or a bare number of seconds."""
    text = text.strip().lower()
    for unit in sorted(UNITS, key=len, reverse=True):
        if text.endswith(unit) and text[: -len(unit)].strip():
            number, scale = text[: -len(unit)].strip(), UNITS[unit]
            break
    else:
        number, scale = text, 1.0
    try:
        value = float(number) * scale
    except ValueError:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 2h") from None
    if not 0 <= value <= 7 * 86400:
        raise ValueError(f"{text!r} is not between 0 and 7 days")
    return value


FIELDS = frozenset(field.name for field in msgspec.structs.fields(Settings))
#: What the `conveyor` client commands read (where the gateway is, which key): no settings of
#: the servers, but no mistake either in a shell that exports them.
CLIENT_VARIABLES = frozenset({"CONVEYOR_URL", "CONVEYOR_API_KEY"})


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from `CONVEYOR_*` variables; an unknown or malformed one is an error."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for key, raw in environ.items():
        if not key.startswith(PREFIX) or key in CLIENT_VARIABLES:
            continue
        name = key[len(PREFIX) :].lower()
        if name not in FIELDS:
            raise SettingsError(
                f"unknown setting {key}; known: {', '.join(sorted(PREFIX + f.upper() for f in FIELDS))}"
            )
        values[name] = raw
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"{PREFIX}{_field_of(exc).upper()}: {exc}") from exc


def _field_of(exc: msgspec.ValidationError) -> str:
    message = str(exc)
    if "$." in message:
        return message.rsplit("$.", 1)[-1].rstrip("`")
    named = message.split(":", 1)[0]
    return named if named in FIELDS else "?"


def to_environ(settings: Settings) -> dict[str, str]:
    """The `CONVEYOR_*` variables that reproduce `settings` in a child process."""
    return {PREFIX + name.upper(): str(value) for name, value in msgspec.structs.asdict(settings).items()}
