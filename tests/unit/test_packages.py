"""Installing missing RabbitMQ/PostgreSQL packages and engine tools: what would run, and when it cannot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from infra.local.packages import install_packages, missing_tools
from infra.local.postgres import ServiceError


class Recorder:
    """A command runner that records instead of running (and sees the policy file meanwhile)."""

    def __init__(self, policy: Path) -> None:
        self.policy = policy
        self.commands: list[list[str]] = []
        self.envs: list[Mapping[str, str]] = []
        self.policy_seen: list[str] = []

    def __call__(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.commands.append(list(argv))
        self.envs.append(env)
        self.policy_seen.append(self.policy.read_text() if self.policy.exists() else "")


def test_nothing_missing_runs_nothing(tmp_path: Path) -> None:
    run = Recorder(tmp_path / "policy-rc.d")
    install_packages([], run=run, is_root=True, has_apt=True, policy=run.policy)
    assert run.commands == []


def test_as_root_with_apt_missing_packages_are_installed_without_starting_their_services(tmp_path: Path) -> None:
    # Given root, apt-get, and neither package installed
    run = Recorder(tmp_path / "policy-rc.d")
    # When set-up installs them
    install_packages(["postgresql", "rabbitmq-server"], run=run, is_root=True, has_apt=True, policy=run.policy)
    # Then apt-get updates once and installs both, non-interactively, without recommends
    assert run.commands == [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql", "rabbitmq-server"],
    ]
    assert all(env["DEBIAN_FRONTEND"] == "noninteractive" for env in run.envs)
    # And while they install, services may not start (policy-rc.d answers 101); it is gone after
    assert all("exit 101" in seen for seen in run.policy_seen)
    assert not run.policy.exists()


def test_an_existing_policy_is_left_alone(tmp_path: Path) -> None:
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 0\n")
    run = Recorder(policy)
    install_packages(["rabbitmq-server"], run=run, is_root=True, has_apt=True, policy=policy)
    assert run.commands[-1][-1] == "rabbitmq-server"
    assert policy.read_text() == "#!/bin/sh\nexit 0\n"


@pytest.mark.parametrize(
    ("is_root", "has_apt", "advice"), [(False, True, "run as root"), (True, False, "package manager")]
)
def test_without_root_or_apt_the_message_says_what_to_install(
    tmp_path: Path, is_root: bool, has_apt: bool, advice: str
) -> None:
    run = Recorder(tmp_path / "policy-rc.d")
    with pytest.raises(ServiceError, match=r"PostgreSQL \(package 'postgresql'\) not installed") as caught:
        install_packages(["postgresql"], run=run, is_root=is_root, has_apt=has_apt, policy=run.policy)
    assert advice in str(caught.value)
    assert run.commands == []


def test_a_failing_install_is_a_service_error(tmp_path: Path) -> None:
    def fail(argv: Sequence[str], env: Mapping[str, str]) -> None:
        raise OSError("no network")

    with pytest.raises(ServiceError, match="apt-get update"):
        install_packages(["postgresql"], run=fail, is_root=True, has_apt=True, policy=tmp_path / "policy-rc.d")
    assert not (tmp_path / "policy-rc.d").exists()


def test_a_missing_tool_is_installed_in_the_same_apt_get_run_as_the_servers(tmp_path: Path) -> None:
    # Given root, apt-get, PostgreSQL missing and espeak-ng not on PATH
    run = Recorder(tmp_path / "policy-rc.d")
    tools = missing_tools(which=lambda program: None)
    assert tools == ["espeak-ng"]
    # When set-up installs what is missing
    install_packages(["postgresql"], tools=tools, run=run, is_root=True, has_apt=True, policy=run.policy)
    # Then one update and one install take both
    assert run.commands == [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql", "espeak-ng"],
    ]


def test_a_tool_on_path_is_not_missing() -> None:
    assert missing_tools(which=lambda program: f"/usr/bin/{program}") == []


@pytest.mark.parametrize(("is_root", "has_apt"), [(False, True), (True, False)])
def test_without_root_or_apt_a_missing_tool_is_a_warning_not_an_error(
    tmp_path: Path, is_root: bool, has_apt: bool
) -> None:
    # Given espeak-ng missing where Conveyor cannot install it, Then set-up goes on (a warning)
    run = Recorder(tmp_path / "policy-rc.d")
    install_packages([], tools=["espeak-ng"], run=run, is_root=is_root, has_apt=has_apt, policy=run.policy)
    assert run.commands == []
    # But a missing server is still an error, with the tool's warning beside it
    with pytest.raises(ServiceError, match="RabbitMQ"):
        install_packages(["rabbitmq-server"], tools=["espeak-ng"], run=run, is_root=is_root, has_apt=has_apt,
                         policy=run.policy)  # fmt: skip


def test_a_failing_install_of_tools_only_is_a_warning(tmp_path: Path) -> None:
    def fail(argv: Sequence[str], env: Mapping[str, str]) -> None:
        raise OSError("no network")

    install_packages([], tools=["espeak-ng"], run=fail, is_root=True, has_apt=True, policy=tmp_path / "p")
    assert not (tmp_path / "p").exists()
