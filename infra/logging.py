"""Logging: structlog everywhere, JSON when not on a terminal, stdlib records included."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from infra.settings import Settings

QUIET = {"pika": logging.WARNING, "uvicorn.access": logging.WARNING, "apscheduler": logging.WARNING}


def configure_logging(settings: Settings, *, process: str) -> None:
    """Route structlog and stdlib (Dramatiq, uvicorn, pika) records through one renderer."""
    json_output = settings.log_format == "json" or (settings.log_format == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_process(process),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(WithoutQueryStrings())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(max(level, root.level))


class WithoutQueryStrings(logging.Filter):
    """Cut the query string off the paths uvicorn logs (it names a WebSocket's path with it): a
    client may have put a key there, which must not reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, its path arguments without `?…`."""
        if record.name.startswith("uvicorn") and isinstance(record.args, tuple):
            record.args = tuple(
                arg.split("?", 1)[0] if isinstance(arg, str) and arg.startswith("/") else arg for arg in record.args
            )
        return True


def _add_process(process: str) -> Any:
    def add_process(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("process", process)
        return event

    return add_process
