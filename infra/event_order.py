"""Which events a reader of the log may pass on, when commits land out of id order.

Event ids are taken from a sequence before the transaction that wrote them commits, so a reader
can see id 12 while id 11 is still uncommitted (and will appear later) or was rolled back (and
never will). A stream that passed 12 on and moved past 11 would lose 11; one that waited for 11
forever would stall.

The rule: pass on only ids that follow each other. A missing id below one that is seen is a
gap; remember the next transaction id to be handed out when the read that first saw it ran.
The transaction that took the missing id had a transaction id before it took the event id
(every event is written by a trigger after a row write), and it took the event id before the
higher one that is seen, so its transaction id lies below the remembered one. Once a later
read's oldest running transaction (its snapshot's `xmin`, or the oldest of this database
asked just before the read: transactions of other databases hold no event id, and must not
hold streams up; conveyor_xid_horizon) reaches the remembered id, that
transaction has ended: if it committed, that read sees the event; if the event is still
missing, it never will be, and the gap is skipped.

(The remembered id must be the next to be handed out, not the snapshot's `xmax`: that is one
past the latest completed transaction, and a running one may hold a higher id.)
"""

from __future__ import annotations

from collections.abc import Sequence


class Sequencer:
    """The cursor of a reader of the event log: every id at or below it is delivered or known
    never to exist.

    Feed it the ids of each read (`id > cursor`, ascending) with that read's oldest running
    transaction id (`xmin`) and next transaction id to be handed out (`next_xid`); it answers
    which of them may be delivered now, and moves the cursor.

    It can start at an id whose lower neighbours may still be uncommitted (the newest id at
    start-up): it is not `ready`, and delivers nothing, until a read's `xmin` reaches the
    `next_xid` of the moment that id was read.
    """

    def __init__(self, cursor: int = 0, *, settles_at: int | None = None) -> None:
        self.cursor = cursor
        self._settles_at = settles_at
        #: Missing id → the next transaction id when a read first saw it missing.
        self._gaps: dict[int, int] = {}

    @property
    def ready(self) -> bool:
        """Whether every id at or below the start is known: delivered, or never to exist."""
        return self._settles_at is None

    @property
    def gaps(self) -> list[int]:
        """The missing ids the cursor waits on or will pass once settled, ascending."""
        return sorted(self._gaps)

    def advance(self, ids: Sequence[int], xmin: int, next_xid: int) -> list[int]:
        """Which of `ids` (ascending, read while `xmin` was the oldest running transaction and
        `next_xid` the next to be handed out) may be delivered now, in order; the cursor moves
        past them and the settled gaps among them."""
        if self._settles_at is not None:
            if xmin < self._settles_at:
                return []
            self._settles_at = None
        delivered: list[int] = []
        blocked, expected = False, self.cursor + 1
        for event_id in ids:
            if event_id < expected:  # at or below the cursor: passed on before
                continue
            for missing in range(expected, event_id):
                if not blocked and xmin >= self._gaps.get(missing, next_xid):
                    self._gaps.pop(missing, None)
                    self.cursor = missing
                else:
                    blocked = True
                    self._gaps.setdefault(missing, next_xid)
            self._gaps.pop(event_id, None)
            if not blocked:
                self.cursor = event_id
                delivered.append(event_id)
            expected = event_id + 1
        return delivered
