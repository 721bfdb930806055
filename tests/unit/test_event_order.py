"""The event log reader's gap rule, and a subscriber's bounded buffer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from infra.event_hub import StreamsEnded, SubscriberDropped, Subscription
from infra.event_order import Sequencer
from infra.events import Published
from schemas.events import EventFilter, EventView


def test_contiguous_ids_pass_at_once() -> None:
    sequencer = Sequencer(0)
    assert sequencer.advance([1, 2, 3], xmin=100, next_xid=105) == [1, 2, 3]
    assert sequencer.cursor == 3


def test_ids_above_a_gap_wait_while_its_transaction_may_commit() -> None:
    # Given id 2 missing while transactions 100…104 run
    sequencer = Sequencer(0)
    assert sequencer.advance([1, 3, 4], xmin=100, next_xid=105) == [1]
    # Then the cursor stays below the gap, however often 3 and 4 are read again
    assert sequencer.advance([3, 4], xmin=102, next_xid=110) == []
    assert sequencer.cursor == 1 and sequencer.gaps == [2]
    # When the missing event commits, it passes in order with those after it
    assert sequencer.advance([2, 3, 4], xmin=102, next_xid=110) == [2, 3, 4]
    assert sequencer.cursor == 4 and sequencer.gaps == []


def test_a_gap_is_skipped_once_every_transaction_running_when_it_was_seen_has_ended() -> None:
    sequencer = Sequencer(0)
    assert sequencer.advance([1, 3], xmin=100, next_xid=105) == [1]
    # a later read whose oldest running transaction is still below the remembered next transaction id
    assert sequencer.advance([3, 4], xmin=104, next_xid=120) == []
    # once xmin reaches it, the event can never commit: skipped
    assert sequencer.advance([3, 4], xmin=105, next_xid=120) == [3, 4]
    assert sequencer.cursor == 4 and sequencer.gaps == []


def test_the_next_xid_remembered_is_that_of_the_first_read_that_saw_the_gap() -> None:
    sequencer = Sequencer(0)
    sequencer.advance([2], xmin=100, next_xid=105)
    sequencer.advance([2], xmin=101, next_xid=300)  # seen again later: still waits for 105, not 300
    assert sequencer.advance([2], xmin=105, next_xid=310) == [2]


def test_a_gap_with_no_transaction_running_is_skipped_in_the_read_that_sees_it() -> None:
    sequencer = Sequencer(0)
    assert sequencer.advance([1, 3], xmin=200, next_xid=200) == [1, 3]


def test_gaps_settle_one_by_one_in_order() -> None:
    sequencer = Sequencer(0)
    sequencer.advance([1, 3], xmin=100, next_xid=105)  # gap 2, remembered 105
    sequencer.advance([3, 5], xmin=100, next_xid=110)  # gap 4, remembered 110
    assert sequencer.advance([3, 5], xmin=107, next_xid=112) == [3]
    assert sequencer.gaps == [4]
    assert sequencer.advance([5], xmin=110, next_xid=112) == [5]


def test_ids_at_or_below_the_cursor_are_not_passed_twice() -> None:
    sequencer = Sequencer(5)
    assert sequencer.advance([4, 5, 6], xmin=10, next_xid=10) == [6]


def test_a_start_with_transactions_in_flight_delivers_nothing_until_they_end() -> None:
    # Given the hub starts at the newest id 10, read while transactions below 50 ran
    sequencer = Sequencer(10, settles_at=50)
    assert not sequencer.ready
    assert sequencer.advance([11], xmin=40, next_xid=55) == []
    # When they have ended, ids after the start pass
    assert sequencer.advance([11], xmin=50, next_xid=55) == [11]
    assert sequencer.ready


def published(event_id: int, tenant: str = "t", type_: str = "job.queued") -> Published:
    view = EventView(
        id=event_id, type=type_, job_id=uuid.uuid4(), workflow_id=None, tags=[], data={}, created_at=datetime.now(UTC)
    )
    return Published.of(tenant, view)


async def test_a_subscriber_gets_what_was_buffered_in_order() -> None:
    subscription = Subscription("t", EventFilter(), start=0, capacity=3)
    assert subscription.offer([published(1)]) and subscription.offer([published(2)])
    assert [event.id for event in await subscription.next(idle=1.0)] == [1, 2]
    assert await subscription.next(idle=0.01) == []


async def test_a_subscriber_that_falls_behind_its_buffer_is_dropped() -> None:
    # Given a buffer of 2 that nobody reads
    subscription = Subscription("t", EventFilter(), start=0, capacity=2)
    assert subscription.offer([published(1), published(2)])
    # When a third event comes, it is refused and the subscriber dropped, its buffer freed
    assert not subscription.offer([published(3)])
    assert subscription.dropped
    with pytest.raises(SubscriberDropped):
        await subscription.next(idle=1.0)


async def test_an_ended_subscription_hands_out_its_buffer_then_ends() -> None:
    subscription = Subscription("t", EventFilter(), start=0, capacity=5)
    subscription.offer([published(1)])
    subscription.end()
    assert [event.id for event in await subscription.next(idle=1.0)] == [1]
    with pytest.raises(StreamsEnded):
        await subscription.next(idle=1.0)


def test_an_sse_frame_carries_id_type_and_the_view_as_json() -> None:
    event = published(7, type_="job.succeeded")
    head, _, rest = event.sse.partition(b"data: ")
    assert head == b"id: 7\nevent: job.succeeded\n"
    assert rest == event.json + b"\n\n"


def test_filters_match_as_the_listing_does() -> None:
    event = published(1, type_="job.failed").view
    event.tags = ["a", "b"]
    assert EventFilter(types=["job.*"], tags=["a"]).matches(event)
    assert not EventFilter(types=["workflow.*"]).matches(event)
    assert not EventFilter(tags=["a", "c"]).matches(event)
    assert not EventFilter(job_id=uuid.uuid4()).matches(event)
    assert EventFilter().is_empty and not EventFilter(tags=["a"]).is_empty
