"""Every log line of a job's message carries job_id, queue, actor (and attempt, once claimed)."""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog


class LogContext(dramatiq.Middleware):
    """Binds the message's identity to the worker thread's log context while it is processed."""

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        """Bind job_id, queue and actor."""
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            job_id=message.message_id, queue=message.queue_name, actor=message.actor_name
        )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: Any = None,
    ) -> None:
        """Forget them."""
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        """Forget them."""
        structlog.contextvars.clear_contextvars()
