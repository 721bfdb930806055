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
    registry: Contracts = CONTRACTS,
) -> Contract:
    """Declare operation `name` of `engine` (see the module's docstring); the contract."""
    declared = Contract(engine, name, params, result, description, example, timeout_seconds, diagnostic, internal)
    registry.add(declared)
    return declared


def load_contracts(*, diagnostics: bool = False) -> Contracts:
    """Import every contract module of this package; the contracts, without the diagnostic
    ones unless `diagnostics` (settings.diagnostics) is on."""
    for info in pkgutil.iter_modules(__path__, prefix=__name__ + "."):
        importlib.import_module(info.name)
    return CONTRACTS if diagnostics else CONTRACTS.without_diagnostics()
