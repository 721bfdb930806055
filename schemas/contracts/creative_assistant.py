"""Contracts of the `creative_assistant` engine: ideas on a topic (brainstorm), the outline of a
piece (outline), and better versions of earlier suggestions after feedback (refine). Each calls
the configured provider (CONVEYOR_LLM_URL) or, without one, the local composer, and says which."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.contracts import PROVIDER_ERRORS, contract
from schemas.contracts.text_intelligence import Audience, Source, Topic
from schemas.generation import Generation

Angle = Annotated[str, Meta(min_length=1, max_length=80, description="An angle: a known one or your own words")]
#: The angles brainstorm knows templates for, in the order it uses them.
ANGLES: tuple[str, ...] = (
    "how-to", "listicle", "myth-busting", "case study", "contrarian", "beginner's guide",
    "by the numbers", "mistakes to avoid", "future trends", "behind the scenes", "comparison", "checklist",
)  # fmt: skip
PieceKind = Literal["blog_post", "video_script", "talk", "newsletter", "report"]


class BrainstormParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    topic: Topic
    #: How many ideas.
    n: Annotated[int, Meta(ge=1, le=30)] = 5
    #: The angles to take, in order (default: how-to, listicle, myth-busting, case study, …).
    angles: Annotated[list[Angle], Meta(min_length=1, max_length=30)] | None = None
    audience: Audience | None = None
    #: Material the ideas draw on (the local composer takes its key phrases).
    source: Source | None = None


class Idea(msgspec.Struct, kw_only=True):
    title: str
    angle: str
    #: What the piece would say, in a sentence or two.
    text: str


class Ideas(Generation, kw_only=True):
    topic: str
    ideas: list[Idea]


BRAINSTORM = contract(
    "creative_assistant",
    "brainstorm",
    params=BrainstormParams,
    result=Ideas,
    description=(
        "`n` ideas for pieces on a topic, each from an angle (how-to, myth-busting, case study, … or your own), "
        "with a title and a pitch. By the configured model or the local composer; carries `usage` and `cost`."
    ),
    example={"topic": "remote onboarding", "n": 3, "audience": "engineering managers"},
    timeout_seconds=300,
    errors=PROVIDER_ERRORS,
)


class OutlineParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    topic: Topic
    kind: PieceKind = "blog_post"
    #: Sections, opening and closing included.
    sections: Annotated[int, Meta(ge=3, le=12)] = 5
    audience: Audience | None = None
    #: Material the outline draws on (sections from its key phrases, points from its sentences).
    source: Source | None = None


class OutlineSection(msgspec.Struct, kw_only=True):
    heading: str
    points: list[str]


class Outline(Generation, kw_only=True):
    title: str
    kind: PieceKind
    sections: list[OutlineSection]


OUTLINE = contract(
    "creative_assistant",
    "outline",
    params=OutlineParams,
    result=Outline,
    description=(
        "The outline of a blog post, video script, talk, newsletter or report: a title and sections with "
        "their points, opening and closing included. By the configured model or the local composer."
    ),
    example={"topic": "why background jobs need retries", "kind": "talk", "sections": 4},
    timeout_seconds=300,
    errors=PROVIDER_ERRORS,
)


class Suggestion(msgspec.Struct, kw_only=True):
    """An earlier suggestion: an idea of brainstorm, a suggestion of refine, or your own (other
    fields are ignored, so earlier results can be passed as they are)."""

    text: Annotated[str, Meta(min_length=1, max_length=4000)]
    title: Annotated[str, Meta(max_length=300)] | None = None
    angle: Annotated[str, Meta(max_length=80)] | None = None


class RefineParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: The suggestions to improve: texts, or objects with `text` (and `title`, `angle`).
    suggestions: Annotated[list[Annotated[str, Meta(min_length=1, max_length=4000)] | Suggestion],
                           Meta(min_length=1, max_length=30)]  # fmt: skip
    #: What to change ("shorter", "more playful", "focus on pricing", "avoid jargon", …).
    feedback: Annotated[str, Meta(min_length=1, max_length=2000)]
    topic: Topic | None = None
    #: Keep only the best this many (default: all, best first).
    keep: Annotated[int, Meta(ge=1, le=30)] | None = None


class RefinedSuggestion(msgspec.Struct, kw_only=True):
    title: str | None
    angle: str | None
    text: str
    #: The position (from 0) of the suggestion it improves.
    source_index: int
    #: What was changed, in words.
    changes: list[str]


class Refined(Generation, kw_only=True):
    #: Best first; pass them back with new feedback to refine again.
    suggestions: list[RefinedSuggestion]


REFINE = contract(
    "creative_assistant",
    "refine",
    params=RefineParams,
    result=Refined,
    description=(
        "Improve earlier suggestions (ideas of brainstorm, or your own) after feedback, best first: pass the "
        "result back with new feedback to iterate. By the configured model or the local composer's rules."
    ),
    example={
        "suggestions": [
            {"title": "How to onboard remotely", "text": "A step-by-step guide to the first week, really simple."},
            "Five onboarding myths that we should totally stop believing",
        ],
        "feedback": "shorter, more professional, focus on the first week",
    },
    timeout_seconds=300,
    errors=PROVIDER_ERRORS,
)
