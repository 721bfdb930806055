"""What every generative result carries (who wrote it, the tokens it took, what it cost) and
the per-model prices that cost is computed from. No I/O.

Prices are written `model=input/output[,model=input/output…]`, in US dollars per million
tokens, e.g. `gpt-4o-mini=0.15/0.60,gpt-4o=2.50/10`. A model the provider answers with is
priced by its own entry, or else by the longest entry its name starts with (`gpt-4o-mini`
prices `gpt-4o-mini-2024-07-18`).
"""

from __future__ import annotations

from typing import Literal

import msgspec

#: Who wrote a result: an OpenAI-compatible chat-completions endpoint, or the built-in local
#: composer (extractive and template-based, no model).
Provider = Literal["openai-compatible", "local"]

#: The `model` of results the local composer writes.
LOCAL_MODEL = "local-composer"


class Usage(msgspec.Struct, kw_only=True):
    """Tokens a generation took."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    #: True when the tokens were counted here (the local composer, or a provider that sent no
    #: usage: about four characters a token), not by the provider.
    estimated: bool = False


class Generation(msgspec.Struct, kw_only=True):
    """The fields every generative result starts with."""

    provider: Provider
    #: The model that answered (as the provider names it), or "local-composer".
    model: str
    usage: Usage
    #: US dollars, from CONVEYOR_LLM_PRICES; 0 for the local composer; null when no price is
    #: configured for the model.
    cost: float | None


Prices = dict[str, tuple[float, float]]


def parse_prices(text: str) -> Prices:
    """`model=in/out,…` as {model: (input, output)} USD per million tokens; ValueError naming
    the entry at fault."""
    prices: Prices = {}
    for item in text.split(","):
        if not (item := item.strip()):
            continue
        model, sep, pair = item.partition("=")
        rates = pair.split("/")
        if not sep or not model.strip() or len(rates) != 2:
            raise ValueError(f"{item!r} is not model=input/output (USD per million tokens)")
        try:
            given, taken = float(rates[0]), float(rates[1])
        except ValueError:
            raise ValueError(f"{item!r}: the prices must be numbers, like gpt-4o-mini=0.15/0.60") from None
        if not (0 <= given < 1e6 and 0 <= taken < 1e6):
            raise ValueError(f"{item!r}: a price must be a number of dollars from 0 up")
        prices[model.strip()] = (given, taken)
    return prices


def price_of(prices: Prices, *models: str | None) -> tuple[float, float] | None:
    """The price of the first of `models` that has one (exactly, else by the longest price key
    its name starts with), or None."""
    for model in models:
        if model and model in prices:
            return prices[model]
    for model in models:
        if model:
            keys = [key for key in prices if model.startswith(key)]
            if keys:
                return prices[max(keys, key=len)]
    return None


def cost_of(usage: Usage, price: tuple[float, float] | None) -> float | None:
    """What the tokens cost in US dollars (rounded to a millionth of a cent), or None unpriced."""
    if price is None:
        return None
    return round((usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1e6, 8)


def estimate_tokens(text: str) -> int:
    """Tokens in a text, roughly: about four characters a token (at least one for any text)."""
    return 0 if not text else max(1, round(len(text) / 4))
