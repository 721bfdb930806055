"""Operation contracts: what each engine operation takes and gives, without how it does it.

A contract names an operation of an engine and holds its params and result Structs, a
description and example params. The gateway and the scheduler validate submissions against
contracts and publish them at GET /v1/engines; they never import an implementation (and the
libraries it needs: Pillow, ffmpeg, a provider's client). A worker imports the implementations
of its queues' engines only (`actors.sdk.load_engines`), each bound to its contract.

One module per engine in this package, named after the engine, declares its contracts:

    class SummarizeParams(msgspec.Struct, forbid_unknown_fields=True): ...

    SUMMARIZE = contract(
        "text_intelligence", "summarize", params=SummarizeParams, result=Summary,
        description="An extractive summary: the text's most central sentences, in order.",
        example={"text": "…", "max_sentences": 3},
    )
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any

import msgspec

from schemas.engines import ENGINES, INTERNAL_QUEUES


@dataclass(frozen=True)
class ErrorType:
    """An error an operation's job may fail with: the name its `error.type` shows, its category
    (whether it is retried by default: transient yes; permanent, timeout no; worker_lost: the
    job is taken over), and when it happens. `retry_on` may name it."""

    name: str
    category: str
    description: str


#: What any operation's job may fail with.
COMMON_ERRORS: tuple[ErrorType, ...] = (
    ErrorType("TransientError", "transient", "A failure that may pass (an unexpected exception is one too)."),
    ErrorType("PermanentError", "permanent", "Input or a request that retrying cannot mend."),
    ErrorType("JobTimedOut", "timeout", "The job ran past its timeout_seconds."),
    ErrorType("WorkerLost", "worker_lost", "The worker process running the job died (too often, by default)."),
)

#: What operations that call a model provider may fail with, besides COMMON_ERRORS.
PROVIDER_ERRORS: tuple[ErrorType, ...] = (
    ErrorType("ProviderRateLimited", "transient", "The provider answered 429; retried after its Retry-After."),
    ErrorType("ProviderUnavailable", "transient", "The provider answered 408 or 5xx, or could not be reached."),
    ErrorType("ProviderTimeout", "transient", "The provider did not answer within CONVEYOR_LLM_TIMEOUT_SECONDS."),
    ErrorType("ProviderRejected", "permanent", "The provider refused the request (400, 401, 403, 404, …)."),
    ErrorType("ProviderBadAnswer", "transient", "The model's answer was not what was asked for (no text, no JSON)."),
    ErrorType("AnswerTruncated", "permanent", "The model's answer was cut off at its token limit."),
)

#: ffmpeg refusing its input: what video operations may fail with, besides COMMON_ERRORS.
FFMPEG_ERROR = ErrorType("FfmpegError", "permanent", "ffmpeg refused a file or failed.")
#: espeak-ng or ffmpeg missing or failing, in the audio operations.
MEDIA_ERROR = ErrorType("MediaError", "permanent", "ffmpeg or espeak-ng is missing or failed on the input.")

#: The error categories `retry_on` may name (permanent and cancelled ones are never retried as a whole).
RETRY_CATEGORIES = ("transient", "timeout", "worker_lost")


@dataclass(frozen=True)
class Contract:
    """An engine operation as clients see it: its name, the Structs of its params and result,
    what it does, example params and its jobs' default time limit."""

    engine: str
    name: str
    params: type[msgspec.Struct]
    result: type[msgspec.Struct]
    description: str
    example: dict[str, Any] | None = None
    timeout_seconds: float | None = None
    #: Only offered when CONVEYOR_DIAGNOSTICS=1 (it ignores cancellation and time limits).
    diagnostic: bool = False
    #: Run by workers for Conveyor itself (on a queue that is not an engine, such as
    #: `notifications`); never offered to clients.
    internal: bool = False
    #: The errors of its own it may fail with, besides COMMON_ERRORS.
    errors: tuple[ErrorType, ...] = ()

    @property
    def error_types(self) -> tuple[ErrorType, ...]:
        """Every error its jobs may fail with: COMMON_ERRORS, then its own."""
        return (*COMMON_ERRORS, *self.errors)

    def retry_on_problem(self, entry: str) -> str | None:
        """Why `entry` cannot be in a job's `retry_on` (a category or one of error_types), or None."""
        if entry in RETRY_CATEGORIES or any(e.name == entry for e in self.error_types):
            return None
        if entry in ("permanent", "cancelled"):
            return f'"{entry}" errors are never retried as a whole: name the error types to retry'
        names = ", ".join(e.name for e in self.error_types)
        return (
            f'"{entry}" is neither a category ({", ".join(RETRY_CATEGORIES)}) nor an error type of {self.key} ({names})'
        )

    @property
    def key(self) -> str:
        """`engine.name`, also the name of its Dramatiq actor."""
        return f"{self.engine}.{self.name}"

    def params_schema(self) -> dict[str, Any]:
        """JSON Schema of the params."""
        return msgspec.json.schema(self.params)

    def result_schema(self) -> dict[str, Any]:
        """JSON Schema of the result."""
        return msgspec.json.schema(self.result)


class Contracts:
    """Every declared contract, by engine and name."""

    def __init__(self) -> None:
        self._contracts: dict[tuple[str, str], Contract] = {}

    def add(self, declared: Contract) -> None:
        """Register a contract; its engine must exist (or, for an internal one, its queue) and
        its name be new; its example, if any, must be valid params."""
        if declared.internal and declared.engine not in INTERNAL_QUEUES:
            queues = ", ".join(INTERNAL_QUEUES)
            raise ValueError(f"unknown internal queue {declared.engine!r}; internal queues: {queues}")
        if not declared.internal and declared.engine not in ENGINES:
            raise ValueError(f"unknown engine {declared.engine!r}; engines: {', '.join(ENGINES)}")
        if (declared.engine, declared.name) in self._contracts:
            raise ValueError(f"operation {declared.key} is declared twice")
        if declared.example is not None:
            try:
                msgspec.convert(declared.example, declared.params)
            except msgspec.ValidationError as exc:
                raise ValueError(f"the example params of {declared.key} are not valid: {exc}") from None
        self._contracts[(declared.engine, declared.name)] = declared

    def get(self, engine: str, name: str) -> Contract | None:
        """A contract, internal ones included, or None."""
        return self._contracts.get((engine, name))

    def offered(self, engine: str, name: str) -> Contract | None:
        """A contract clients may submit (not an internal one), or None."""
        found = self.get(engine, name)
        return None if found is None or found.internal else found

    def operations(self, engine: str | None = None) -> list[Contract]:
        """Contracts of one engine, or all, sorted by key."""
        found = (c for c in self._contracts.values() if engine is None or c.engine == engine)
        return sorted(found, key=lambda c: c.key)

    def without_diagnostics(self) -> Contracts:
        """The same contracts but the diagnostic ones."""
        kept = Contracts()
        for declared in self.operations():
            if not declared.diagnostic:
                kept.add(declared)
        return kept


CONTRACTS = Contracts()


def contract(
    engine: str,
    name: str,
    *,
    params: type[msgspec.Struct],
    result: type[msgspec.Struct],
    description: str,
    example: dict[str, Any] | None = None,
    timeout_seconds: float | None = None,
    diagnostic: bool = False,
    internal: bool = False,
    errors: tuple[ErrorType, ...] = (),
    registry: Contracts = CONTRACTS,
) -> Contract:
    """Declare operation `name` of `engine` (see the module's docstring); the contract."""
    declared = Contract(
        engine, name, params, result, description, example, timeout_seconds, diagnostic, internal, errors
    )
    registry.add(declared)
    return declared


def load_contracts(*, diagnostics: bool = False) -> Contracts:
    """Import every contract module of this package; the contracts, without the diagnostic
    ones unless `diagnostics` (settings.diagnostics) is on."""
    for info in pkgutil.iter_modules(__path__, prefix=__name__ + "."):
        importlib.import_module(info.name)
    return CONTRACTS if diagnostics else CONTRACTS.without_diagnostics()
