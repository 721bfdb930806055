"""Jobs a stopping worker gives back: recorded as `queued` again and their message re-published.

Recording `queued` writes the job's publish intent (outbox row) in the same statement, so a
publish that fails here only delays the job until the scheduler's outbox relay sends it.
"""

from __future__ import annotations

import dramatiq
import msgspec
import structlog

from actors.outcome import ClaimedJob
from actors.runtime import WorkerRuntime
from infra import jobs
from infra.broker import job_message
from infra.jobs import to_dispatch
from infra.sql import QUERIES
from schemas.jobs import JobStatus

log = structlog.get_logger("conveyor.worker")


def republish(broker: dramatiq.Broker, runtime: WorkerRuntime, job: ClaimedJob) -> None:
    """Publish the message of a job this worker released, then forget its publish intent."""
    try:
        broker.enqueue(job_message(runtime.settings, to_dispatch(msgspec.structs.asdict(job))))
        runtime.call(runtime.pool.execute(QUERIES.delete_outbox, [job.id], [job.attempts]), timeout=10)
    except Exception as exc:
        log.warning("job_release_publish_deferred", job_id=str(job.id), relay="outbox", error=str(exc) or repr(exc))


def release_stranded(broker: dramatiq.Broker, runtime: WorkerRuntime) -> list[ClaimedJob]:
    """Give back the jobs whose threads still run after the drain; those this worker still owned."""
    stranded = runtime.running.jobs()
    if not stranded:
        return []
    finishes = [jobs.Finish(job.id, JobStatus.QUEUED) for job in stranded]
    try:
        released = runtime.call(jobs.finish_jobs(runtime.pool, runtime.worker_id, finishes), timeout=10)
    except Exception as exc:
        log.warning("job_release_failed", jobs=len(stranded), error=str(exc) or repr(exc))
        return []
    given_back = [job for job in stranded if job.id in released]
    for job in given_back:
        log.info("job_released", job_id=str(job.id), reason="its thread outlived the shutdown timeout")
        republish(broker, runtime, job)
    return given_back
