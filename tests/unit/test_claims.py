"""How a batch of claims is answered, message by message."""

from __future__ import annotations

import uuid
from typing import Any

from actors.runtime import HELD, answer_claims
from infra.jobs import Claims


def test_two_messages_of_one_job_in_a_batch_run_it_once() -> None:
    # Given a batch in which one job's message came twice (a duplicate publish) beside another job
    twice, once = uuid.uuid4(), uuid.uuid4()
    rows: dict[uuid.UUID, Any] = {twice: {"id": twice}, once: {"id": once}}
    # When the batch's claims are answered
    answers = answer_claims([twice, once, twice], Claims(rows, set()))
    # Then only the first message of the job gets the claim; the other is skipped
    assert answers == [{"id": twice}, {"id": once}, None]


def test_held_and_unclaimed_jobs_are_answered_as_such() -> None:
    held, gone = uuid.uuid4(), uuid.uuid4()
    assert answer_claims([held, gone, held], Claims({}, {held})) == [HELD, None, None]
