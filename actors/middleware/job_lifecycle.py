"""Claim the job before its message runs; record how it ended after.

Delivery is at-least-once; this is what makes a run to success exactly-once: a message whose
job is finished, cancelled, or running on a live worker is skipped, and only the worker that
owns a job can record its outcome.
"""

from __future__ import annotations

import uuid
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import SkipMessage

from actors.release import release_stranded, republish
from actors.runtime import WorkerRuntime
from actors.sdk import JobError, JobInterrupt
from infra.broker import defer
from schemas.jobs import JobStatus

log = structlog.get_logger("conveyor.worker")

#: What every actor declares as `throws`: errors that end a job the way the operation meant.
EXPECTED = (JobError, JobInterrupt)


class JobLifecycle(dramatiq.Middleware):
    """Moves jobs through running → succeeded / retrying / failed / cancelled in PostgreSQL."""

    #: `throws` is set on every actor: Dramatiq then logs our expected job errors at INFO.
    actor_options = {"throws"}

    def __init__(self, runtime: WorkerRuntime) -> None:
        self.runtime = runtime

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Open the process's database side before any thread takes a message."""
        self.runtime.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Give running jobs the shutdown timeout to finish; release (requeue) those that do not."""
        self.runtime.running.drain(self.runtime.settings.shutdown_timeout_seconds)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        """Release jobs whose threads are still busy, then close the database side."""
        release_stranded(broker, self.runtime)
        self.runtime.stop()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        """Claim the message's job, or skip the message (or give it back, if the job is held)."""
        engine, _, name = message.actor_name.partition(".")
        op = self.runtime.registry.get(engine, name)
        if op is None:  # checked before claiming: another worker may have the operation
            log.warning("job_given_back", reason="this worker lacks the operation")
            defer(message)
            raise SkipMessage()
        try:
            job = self.runtime.claim(uuid.UUID(message.message_id), engine)
        except ValueError:
            log.error("message_rejected", reason="message id is not a job id")
            message.fail()
            raise SkipMessage() from None
        except Exception:
            log.exception("job_claim_failed")
            self._requeue(broker, message)
            raise SkipMessage() from None
        if job is None:
            log.info("job_skipped", reason="finished, cancelled or running elsewhere")
            raise SkipMessage()
        if isinstance(job, str):  # held back by a pause or a limit: the message keeps its place
            log.debug("job_held", reason=self.runtime.gate.controls.waiting_reason(engine) or "queue_controls")
            defer(message)
            raise SkipMessage()
        structlog.contextvars.bind_contextvars(attempt=job.attempts)
        if job.status is not JobStatus.RUNNING:
            log.warning("job_settled_at_claim", status=job.status.value, error=job.error)
            if job.status is JobStatus.FAILED:
                message.fail()
            raise SkipMessage()
        self.runtime.running.begin(job, op)
        log.info("job_started", tenant=job.tenant)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        """Record the outcome (in the background); a failed job's message goes to the dead-letter queue."""
        running = self.runtime.running.current()
        if running is None:
            return
        outcome = self.runtime.finish(running, exception)
        if outcome.dead_letter:
            message.fail()
        elif outcome.status is JobStatus.QUEUED:
            republish(broker, self.runtime, running.job)

    def _requeue(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        """Put a message we could not claim back on its queue rather than lose it."""
        try:
            broker.enqueue(message.copy())
        except Exception:
            log.exception("message_requeue_failed")
            message.fail()
