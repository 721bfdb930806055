"""Cron schedules: expressions, time zones and fire times, and the schedule wire contract."""

from __future__ import annotations

import functools
import re
import uuid
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
from apscheduler.triggers.cron import CronTrigger
from msgspec import Meta

from schemas.errors import FieldError
from schemas.jobs import JobSubmit

#: The fields of a 6-field expression; a 5-field one has no seconds (it fires at second 0).
CRON_FIELDS = ("second", "minute", "hour", "day", "month", "day_of_week")
#: Cron's day numbers: 0 (and 7) is Sunday. APScheduler 3 counts from Monday, so day-of-week
#: fields are handed to it as day names.
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
WEEKDAY_TERM = re.compile(r"^(\*|[0-7]|[a-z]{3})(?:-([0-7]|[a-z]{3}))?(?:/([0-9]{1,2}))?$")


class CronError(ValueError):
    """A cron expression or time zone that cannot be used, with the fields at fault."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@functools.cache
def timezone_names() -> frozenset[str]:
    """Every IANA time zone name this machine knows."""
    return frozenset(zoneinfo.available_timezones())


def cron_weekdays(field: str) -> str:
    """A cron day-of-week field (numbers with 0 or 7 for Sunday, names, ranges, steps, lists)
    as APScheduler's day_of_week: the day names it selects. ValueError if it is none of those."""
    if field == "*":
        return field
    days: set[int] = set()
    for term in field.lower().split(","):
        days |= _weekday_term(term)
    return ",".join(WEEKDAYS[day] for day in sorted(days))


def _weekday_term(term: str) -> set[int]:
    match = WEEKDAY_TERM.match(term)
    if match is None:
        raise ValueError(f"day of week {term!r} is not a day (0-7, sun-sat), a range or a step")
    start, end, step = match.groups()
    if int(step or 1) < 1:
        raise ValueError(f"day of week {term!r}: the step must be at least 1")
    first, last = (0, 6) if start == "*" else (_weekday(start), _weekday(end or start))
    if start != "*" and end is None and step is not None:
        last = 6  # `a/n`: from a to the end of the week
    if last < first:
        last += 7  # a range over the week's end (`fri-mon`)
    return {day % 7 for day in range(first, last + 1, int(step or 1))}


def _weekday(token: str) -> int:
    if token.isdigit():
        return int(token)
    if token not in WEEKDAYS:
        raise ValueError(f"{token!r} is not a day name (sun, mon, tue, wed, thu, fri, sat)")
    return WEEKDAYS.index(token)


def cron_trigger(cron: str, timezone: str) -> CronTrigger:
    """The trigger of a cron expression (5 fields, or 6 with seconds first) read in an IANA
    time zone; CronError naming `cron` and/or `timezone` if either cannot be used.

    As in APScheduler, a time must match both day of month and day of week when both are set.
    """
    errors: list[FieldError] = []
    if timezone not in timezone_names():
        errors.append(FieldError("timezone", f"unknown time zone {timezone!r}; use an IANA name such as Europe/Paris"))
    fields = cron.split()
    if len(fields) not in (5, 6):
        message = f"expected 5 fields (minute hour day month weekday) or 6 (seconds first), got {len(fields)}"
        errors.append(FieldError("cron", message))
    if errors:
        raise CronError(errors)
    values = dict(zip(CRON_FIELDS[-len(fields) :], fields, strict=True))
    try:
        values["day_of_week"] = cron_weekdays(values["day_of_week"])
        return CronTrigger(timezone=zoneinfo.ZoneInfo(timezone), **values)
    except (ValueError, TypeError, LookupError, OverflowError) as exc:
        raise CronError([FieldError("cron", str(exc) or type(exc).__name__)]) from None


def next_fire_time(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The trigger's first fire time strictly after `after` (aware), in UTC; None if none is left."""
    fire: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return None if fire is None else fire.astimezone(UTC)


def first_fire_time(cron: str, timezone: str, now: datetime) -> datetime:
    """When a new (or re-timed) schedule first fires; CronError if the expression never fires."""
    fire = next_fire_time(cron_trigger(cron, timezone), now)
    if fire is None:
        raise CronError([FieldError("cron", "matches no date to come")])
    return fire


Name = Annotated[str, Meta(min_length=1, max_length=200)]


def _cron_field(number: str) -> str:
    """A cron field's pattern: `*` or a number (or range), each with an optional step, in a list."""
    item = rf"(\*|({number})(-({number}))?)(/[1-9][0-9]?)?"
    return rf"{item}(,{item})*"


_SIXTY, _HOURS, _DAYS = r"[0-5]?[0-9]", r"[01]?[0-9]|2[0-3]", r"0?[1-9]|[12][0-9]|3[01]"
_MONTHS, _WEEKDAYS = r"0?[1-9]|1[0-2]", r"[0-7]|MON|TUE|WED|THU|FRI|SAT|SUN|mon|tue|wed|thu|fri|sat|sun"
#: The cron expressions a schedule takes, as the OpenAPI document states them.
CRON_PATTERN = (
    rf"^\s*({_cron_field(_SIXTY)}\s+)?{_cron_field(_SIXTY)}\s+{_cron_field(_HOURS)}\s+{_cron_field(_DAYS)}"
    rf"\s+{_cron_field(_MONTHS)}\s+{_cron_field(_WEEKDAYS)}\s*$"
)
Cron = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        description="5 fields, or 6 with seconds first",
        extra_json_schema={"pattern": CRON_PATTERN},
    ),
]
TimeZone = Annotated[str, Meta(min_length=1, max_length=64, description="An IANA time zone name")]


class ScheduleSubmit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A schedule as a client creates it: a job body submitted at every fire time."""

    name: Name
    cron: Cron
    timezone: TimeZone = "UTC"
    job: JobSubmit
    enabled: bool = True


class SchedulePatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Changes to a schedule; a field left out (or null) stays as it is."""

    name: Name | None = None
    cron: Cron | None = None
    timezone: TimeZone | None = None
    job: JobSubmit | None = None
    enabled: bool | None = None


class ScheduleView(msgspec.Struct, kw_only=True):
    """A schedule as the API shows it."""

    id: uuid.UUID
    name: str
    cron: str
    timezone: str
    job: JobSubmit
    enabled: bool
    next_run_at: datetime | None  # the fire time of its next job (past: overdue, no scheduler ran)
    last_run_at: datetime | None  # when it last created a job
    last_job_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class SchedulePage(msgspec.Struct):
    """One page of a schedule listing, newest first."""

    items: list[ScheduleView]
    next_cursor: str | None
