"""Every call of the API, declared once for both clients (see `endpoint`)."""

from __future__ import annotations

from services.client import jobs, operations, standing
from services.client.endpoint import endpoint


class Api:
    """The API's calls: `Client` answers them at once, `AsyncClient` as awaitables."""

    # jobs
    submit = endpoint(jobs.submit)
    submit_job = endpoint(jobs.submit_job)
    submit_batch = endpoint(jobs.submit_batch)
    get_job = endpoint(jobs.get_job)
    list_jobs = endpoint(jobs.list_jobs)
    cancel_job = endpoint(jobs.cancel_job)
    retry_job = endpoint(jobs.retry_job)
    delete_job = endpoint(jobs.delete_job)
    job_events = endpoint(jobs.job_events)
    cancel_jobs = endpoint(jobs.cancel_jobs)
    retry_jobs = endpoint(jobs.retry_jobs)
    # workflows
    submit_workflow = endpoint(jobs.submit_workflow)
    get_workflow = endpoint(jobs.get_workflow)
    list_workflows = endpoint(jobs.list_workflows)
    cancel_workflow = endpoint(jobs.cancel_workflow)
    retry_workflow = endpoint(jobs.retry_workflow)
    # operating
    list_queues = endpoint(operations.list_queues)
    get_queue = endpoint(operations.get_queue)
    pause_queue = endpoint(operations.pause_queue)
    resume_queue = endpoint(operations.resume_queue)
    set_queue_limits = endpoint(operations.set_queue_limits)
    global_limits = endpoint(operations.global_limits)
    set_global_limits = endpoint(operations.set_global_limits)
    list_dead_letters = endpoint(operations.list_dead_letters)
    replay_dead_letters = endpoint(operations.replay_dead_letters)
    purge_dead_letters = endpoint(operations.purge_dead_letters)
    stats = endpoint(operations.stats)
    timeseries = endpoint(operations.timeseries)
    health = endpoint(operations.health)
    list_workers = endpoint(operations.list_workers)
    engines = endpoint(operations.engines)
    # standing orders and the event log
    create_schedule = endpoint(standing.create_schedule)
    get_schedule = endpoint(standing.get_schedule)
    list_schedules = endpoint(standing.list_schedules)
    update_schedule = endpoint(standing.update_schedule)
    enable_schedule = endpoint(standing.enable_schedule)
    delete_schedule = endpoint(standing.delete_schedule)
    create_subscription = endpoint(standing.create_subscription)
    get_subscription = endpoint(standing.get_subscription)
    list_subscriptions = endpoint(standing.list_subscriptions)
    delete_subscription = endpoint(standing.delete_subscription)
    enable_subscription = endpoint(standing.enable_subscription)
    test_subscription = endpoint(standing.test_subscription)
    list_deliveries = endpoint(standing.list_deliveries)
    list_events = endpoint(standing.list_events)


def headers(key: str | None) -> dict[str, str]:
    """The headers every request carries: the key as bearer token."""
    return {"Authorization": f"Bearer {key}"} if key else {}
