"""Conveyor's Python client: submit jobs and workflows, wait for them, follow their events.

`Client` (blocking) and `AsyncClient` (asyncio) have the same methods, answer with the API's
own Structs (schemas.jobs.JobView, schemas.workflows.WorkflowView, …) and raise ConveyorError,
carrying the HTTP status and the API's error body, for an error answer::

    from services.client import Client

    with Client("http://127.0.0.1:8000", key) as conveyor:
        job = conveyor.submit("general", "sleep", {"seconds": 2}, priority="high", tags=["demo"])
        done = conveyor.wait(job.id, timeout=60)          # follows the event stream
        print(done.status, done.result)
"""

from __future__ import annotations

from services.client.aio import AsyncClient
from services.client.errors import ConveyorError, ConveyorUnreachable, WaitTimeout
from services.client.sync import Client

__all__ = ["AsyncClient", "Client", "ConveyorError", "ConveyorUnreachable", "WaitTimeout"]
