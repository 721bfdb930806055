"""The `creative_assistant` engine: brainstorm, outline, refine (contracts in
schemas/contracts/creative_assistant.py).

With a provider (CONVEYOR_LLM_URL) each asks the model for JSON and checks what comes back;
without one, the local composer writes (actors/creative_composer.py) and says so.
"""

from __future__ import annotations

import json
from typing import Any

from actors import composer, llm
from actors import creative_composer as local
from actors.provider_errors import ProviderBadAnswer
from actors.sdk import JobContext, operation
from schemas.contracts.creative_assistant import (
    BRAINSTORM,
    OUTLINE,
    REFINE,
    BrainstormParams,
    Idea,
    Ideas,
    Outline,
    OutlineParams,
    OutlineSection,
    Refined,
    RefinedSuggestion,
    RefineParams,
)

SYSTEM = "You are a creative strategist and editor. Answer with JSON only, exactly in the shape asked for."


def items(data: Any, key: str) -> list[dict[str, Any]]:
    """The objects under `key` of a model's JSON answer (or the answer itself, a list)."""
    found = data.get(key) if isinstance(data, dict) else data
    if not isinstance(found, list) or not all(isinstance(x, dict) for x in found):
        raise ProviderBadAnswer(f"the model's answer has no list of {key}")
    return found


def text(value: Any) -> str:
    """A model's value as one line of text."""
    return " ".join(str(value if value is not None else "").split())


# -- brainstorm --------------------------------------------------------------------------------


@operation(BRAINSTORM)
def brainstorm(ctx: JobContext, p: BrainstormParams) -> Ideas:
    """n ideas on a topic, each from an angle."""
    provider = llm.provider_of(ctx)
    if provider is None:
        ctx.progress(0.1, "composing ideas locally")
        ideas = local.brainstorm_locally(p)
        written = json.dumps([i.text for i in ideas])
        fields = composer.local_generation(" ".join(filter(None, [p.topic, p.source])), written)
        return Ideas(**fields, topic=p.topic, ideas=ideas)
    asks = [f"Give {p.n} distinct ideas for pieces about: {p.topic}."]
    asks += [f"Audience: {p.audience}."] if p.audience else []
    asks += [f"Take these angles, in order: {', '.join(p.angles)}."] if p.angles else []
    asks += [f"Draw on this material:\n\n{p.source}"] if p.source else []
    asks.append('Answer as {"ideas": [{"title": "...", "angle": "...", "text": "a one- or two-sentence pitch"}]}.')
    done = llm.complete(
        ctx,
        provider,
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(asks)}],
        max_tokens=150 * p.n + 200,
        label="brainstorming",
    )
    found = [
        Idea(title=text(x.get("title")), angle=text(x.get("angle")) or "open", text=text(x.get("text")))
        for x in items(llm.json_answer(done), "ideas")
    ][: p.n]
    if not [i for i in found if i.title and i.text]:
        raise ProviderBadAnswer("the model's answer has no ideas")
    return Ideas(**llm.generation(done), topic=p.topic, ideas=[i for i in found if i.title and i.text])


# -- outline -----------------------------------------------------------------------------------


@operation(OUTLINE)
def outline(ctx: JobContext, p: OutlineParams) -> Outline:
    """The outline of a piece: a title and its sections' points."""
    provider = llm.provider_of(ctx)
    if provider is None:
        ctx.progress(0.1, "outlining locally")
        title, sections = local.outline_locally(p)
        written = json.dumps([[s.heading, *s.points] for s in sections])
        fields = composer.local_generation(" ".join(filter(None, [p.topic, p.source])), written)
        return Outline(**fields, title=title, kind=p.kind, sections=sections)
    asks = [
        f"Outline a {p.kind.replace('_', ' ')} about: {p.topic}, in {p.sections} sections (with opening and closing)."
    ]
    asks += [f"Audience: {p.audience}."] if p.audience else []
    asks += [f"Draw on this material:\n\n{p.source}"] if p.source else []
    asks.append('Answer as {"title": "...", "sections": [{"heading": "...", "points": ["...", "..."]}]}.')
    done = llm.complete(
        ctx,
        provider,
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(asks)}],
        max_tokens=120 * p.sections + 200,
        label="outlining",
    )
    answer = llm.json_answer(done)
    sections = [
        OutlineSection(heading=text(x.get("heading")), points=[text(y) for y in x.get("points") or [] if text(y)])
        for x in items(answer, "sections")
        if text(x.get("heading"))
    ]
    if not sections:
        raise ProviderBadAnswer("the model's answer has no sections")
    title = text(answer.get("title")) if isinstance(answer, dict) else ""
    return Outline(**llm.generation(done), title=title or composer.capital(p.topic), kind=p.kind, sections=sections)


# -- refine ------------------------------------------------------------------------------------


@operation(REFINE)
def refine(ctx: JobContext, p: RefineParams) -> Refined:
    """Earlier suggestions improved after feedback, best first."""
    provider = llm.provider_of(ctx)
    if provider is None:
        ctx.progress(0.1, "refining locally")
        refined = local.refine_locally(p)
        read = json.dumps([local.as_suggestion(s).text for s in p.suggestions]) + p.feedback
        return Refined(**composer.local_generation(read, json.dumps([r.text for r in refined])), suggestions=refined)
    given = [local.as_suggestion(s) for s in p.suggestions]
    listed = "\n".join(
        f"{i}. " + json.dumps({"title": s.title, "angle": s.angle, "text": s.text}) for i, s in enumerate(given)
    )
    asks = [
        f"Improve these suggestions{f' about {p.topic}' if p.topic else ''} after this feedback: {p.feedback}",
        listed,
        f"Return the best {p.keep or len(given)}, best first, as "
        '{"suggestions": [{"source_index": 0, "title": "...", "angle": "...", "text": "...", "changes": ["..."]}]}.',
    ]
    done = llm.complete(
        ctx,
        provider,
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(asks)}],
        max_tokens=min(4000, 250 * len(given) + 200),
        label="refining",
    )
    refined = []
    for x in items(llm.json_answer(done), "suggestions")[: p.keep or len(given)]:
        index = x.get("source_index")
        if text(x.get("text")) and isinstance(index, int) and 0 <= index < len(given):
            refined.append(
                RefinedSuggestion(
                    title=text(x.get("title")) or given[index].title,
                    angle=given[index].angle,
                    text=text(x.get("text")),
                    source_index=index,
                    changes=[text(c) for c in x.get("changes") or [] if text(c)],
                )
            )
    if not refined:
        raise ProviderBadAnswer("the model's answer has no suggestions")
    return Refined(**llm.generation(done), suggestions=refined)
