"""Where client commands find the gateway and their key: flags, then CONVEYOR_URL and
CONVEYOR_API_KEY, then a profile saved by `conveyor login` (a JSON file readable by its owner only)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_PROFILE = "default"


class Profile(msgspec.Struct, kw_only=True):
    """One saved gateway and key."""

    url: str
    key: str


class Profiles(msgspec.Struct, kw_only=True):
    """Every saved profile, and which one commands use unless told."""

    default: str = DEFAULT_PROFILE
    profiles: dict[str, Profile] = {}


class ProfileError(Exception):
    """A profile named that is not saved, or a profiles file that cannot be read."""


@dataclass(frozen=True)
class Target:
    """The gateway a command talks to, and the key it acts with (None: no key)."""

    url: str
    key: str | None


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The profiles file: $XDG_CONFIG_HOME/conveyor/profiles.json (~/.config by default)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "conveyor" / "profiles.json"


def load(path: Path) -> Profiles:
    """The saved profiles (none if the file does not exist)."""
    if not path.exists():
        return Profiles()
    try:
        return msgspec.json.decode(path.read_bytes(), type=Profiles)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ProfileError(f"cannot read {path}: {exc}") from exc


def save(path: Path, name: str, profile: Profile) -> None:
    """Save a profile (and make it the default), the file readable and writable by its owner only."""
    profiles = load(path)
    profiles.profiles[name] = profile
    profiles.default = name
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(msgspec.json.format(msgspec.json.encode(profiles)))
    os.chmod(path.with_suffix(".tmp"), 0o600)
    os.replace(path.with_suffix(".tmp"), path)


def resolve(url: str | None, key: str | None, profile: str | None, environ: Mapping[str, str] | None = None) -> Target:
    """The gateway and key: each from its flag, else its variable, else the profile (named, or the default)."""
    environ = os.environ if environ is None else environ
    url = url or environ.get("CONVEYOR_URL")
    key = key or environ.get("CONVEYOR_API_KEY")
    if url is None or key is None:
        saved = load(config_path(environ))
        name = profile or saved.default
        chosen = saved.profiles.get(name)
        if profile is not None and chosen is None:
            raise ProfileError(f"no profile {profile!r} in {config_path(environ)}; save one with `conveyor login`")
        if chosen is not None:
            url, key = url or chosen.url, key or chosen.key
    return Target(url=(url or DEFAULT_URL).rstrip("/"), key=key)
