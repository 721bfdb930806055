"""Settings from CONVEYOR_* variables."""

from __future__ import annotations

import pytest

from infra.settings import Settings, SettingsError, load_settings, to_environ


def test_defaults_without_variables() -> None:
    settings = load_settings({"PATH": "/bin"})
    assert settings == Settings()


def test_variables_are_converted() -> None:
    settings = load_settings(
        {"CONVEYOR_WORKER_THREADS": "4", "CONVEYOR_LEASE_SECONDS": "2.5", "CONVEYOR_QUEUE_PREFIX": "t_"}
    )
    assert (settings.worker_threads, settings.lease_seconds) == (4, 2.5)
    assert settings.queue_name("general") == "t_general"


def test_unknown_variable_is_an_error() -> None:
    with pytest.raises(SettingsError, match="CONVEYOR_WORKER_THREAD"):
        load_settings({"CONVEYOR_WORKER_THREAD": "4"})


def test_malformed_variable_names_itself() -> None:
    with pytest.raises(SettingsError, match="CONVEYOR_GATEWAY_PORT"):
        load_settings({"CONVEYOR_GATEWAY_PORT": "eighty"})


def test_to_environ_round_trips() -> None:
    settings = Settings(queue_prefix="x_", worker_prefetch=3, log_format="json")
    assert load_settings(to_environ(settings)) == settings
