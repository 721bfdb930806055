"""Cron expressions, time zones and fire times of schedules (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from schemas.schedules import (
    CronError,
    ScheduleSubmit,
    cron_trigger,
    cron_weekdays,
    first_fire_time,
    next_fire_time,
)


def at(stamp: str) -> datetime:
    """A UTC time from `YYYY-MM-DD HH:MM:SS`."""
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1-5/2", "mon,wed,fri"),
        ("3/2", "wed,fri"),
        ("sun-tue", "sun,mon,tue"),
        ("fri-mon", "sun,mon,fri,sat"),
        ("MON,wed,6", "mon,wed,sat"),
    ],
)
def test_cron_weekdays_count_from_sunday_as_cron_does(field: str, days: str) -> None:
    assert cron_weekdays(field) == days


@pytest.mark.parametrize("field", ["8", "x", "*/0", "monday", "1-", ""])
def test_cron_weekdays_refuse_what_is_no_day(field: str) -> None:
    with pytest.raises(ValueError, match="day"):
        cron_weekdays(field)


def test_five_field_cron_fires_at_second_zero_on_weekdays() -> None:
    # Given weekdays at 09:00 UTC, When asked on a Friday after 09:00, Then it fires on Monday
    trigger = cron_trigger("0 9 * * 1-5", "UTC")
    assert next_fire_time(trigger, at("2026-01-16 10:00:00")) == at("2026-01-19 09:00:00")


def test_six_field_cron_reads_seconds_first() -> None:
    trigger = cron_trigger("*/15 30 * * * *", "UTC")
    assert next_fire_time(trigger, at("2026-01-16 10:00:00")) == at("2026-01-16 10:30:00")
    assert next_fire_time(trigger, at("2026-01-16 10:30:00")) == at("2026-01-16 10:30:15")


def test_next_fire_time_is_strictly_after_the_time_given() -> None:
    # Given every second, When asked at a fire time exactly, Then the next second comes
    trigger = cron_trigger("* * * * * *", "UTC")
    assert next_fire_time(trigger, at("2026-01-16 10:00:00")) == at("2026-01-16 10:00:01")
    assert next_fire_time(trigger, at("2026-01-16 10:00:00") + timedelta(microseconds=1)) == at("2026-01-16 10:00:01")


def test_cron_is_read_in_its_time_zone_across_daylight_saving() -> None:
    # Given 09:00 in Paris, Then it is 08:00 UTC in winter and 07:00 UTC in summer
    trigger = cron_trigger("0 9 * * *", "Europe/Paris")
    assert next_fire_time(trigger, at("2026-01-15 10:00:00")) == at("2026-01-16 08:00:00")
    assert next_fire_time(trigger, at("2026-07-15 06:00:00")) == at("2026-07-15 07:00:00")
    assert next_fire_time(trigger, at("2026-07-15 06:00:00")).tzinfo == UTC  # type: ignore[union-attr]


def test_bad_cron_and_unknown_timezone_name_both_fields() -> None:
    with pytest.raises(CronError) as caught:
        cron_trigger("* * *", "Mars/Olympus_Mons")
    assert {e.field for e in caught.value.errors} == {"cron", "timezone"}


@pytest.mark.parametrize(
    "cron", ["61 * * * *", "* * * * * * *", "*/0 * * * *", "a b c d e", "* * * * 9", "1-x * * * *", "0 0 31 2 *"]
)
def test_unusable_cron_names_the_cron_field(cron: str) -> None:
    with pytest.raises(CronError) as caught:
        first_fire_time(cron, "UTC", at("2026-01-16 10:00:00"))
    assert [e.field for e in caught.value.errors] == ["cron"]


@pytest.mark.parametrize("timezone", ["utc", "Europe/", "../etc/passwd", "/etc/localtime", "Europe"])
def test_only_iana_names_are_time_zones(timezone: str) -> None:
    with pytest.raises(CronError) as caught:
        cron_trigger("* * * * *", timezone)
    assert [e.field for e in caught.value.errors] == ["timezone"]


def test_schedule_submit_defaults_and_refuses_server_owned_fields() -> None:
    body = b'{"name": "n", "cron": "* * * * *", "job": {"engine": "general", "operation": "echo"}}'
    schedule = msgspec.json.decode(body, type=ScheduleSubmit)
    assert (schedule.timezone, schedule.enabled) == ("UTC", True)
    with pytest.raises(msgspec.ValidationError, match="next_run_at"):
        msgspec.json.decode(body[:-1] + b', "next_run_at": null}', type=ScheduleSubmit)
