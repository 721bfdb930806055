"""The local composer's creative writing (creative_assistant without a provider): ideas from
templates per angle, outlines from templates per kind, both filled with the topic and the
source's key phrases and sentences; refinement by rules read from the feedback (avoid …, a
tone, shorter, focus on …, for …), best-fitting suggestions first. Deterministic.
"""

from __future__ import annotations

import re
from typing import Any

from actors import composer
from actors.engines.text_intelligence import sentences_of, words_of
from schemas.contracts.creative_assistant import (
    ANGLES,
    BrainstormParams,
    Idea,
    OutlineParams,
    OutlineSection,
    RefinedSuggestion,
    RefineParams,
    Suggestion,
)
from schemas.contracts.text_intelligence import Tone

TEMPLATES: dict[str, tuple[str, str]] = {
    "how-to": (
        "How to get started with {topic}",
        "A practical, step-by-step guide for {audience}, from {p0} to a first result.",
    ),
    "listicle": (
        "7 things {audience} should know about {topic}",
        "Short, skimmable points on {topic}, from {p0} to {p1}.",
    ),
    "myth-busting": (
        "{Topic}: the myths that hold people back",
        "Takes the common beliefs about {p0} and tests each against what actually happens.",
    ),
    "case study": (
        "How one team made {topic} work",
        "A real rollout told start to finish: the problem, what they tried with {p0}, and what changed.",
    ),
    "contrarian": (
        "Why {topic} is not always the answer",
        "Argues where {topic} does not pay off, and what {audience} can do instead.",
    ),
    "beginner's guide": (
        "{Topic} for beginners",
        "Explains {topic} from scratch for {audience}, with {p0} as the first example.",
    ),
    "by the numbers": (
        "{Topic} by the numbers",
        "The figures that matter about {p0}: what they say, and what they leave out.",
    ),
    "mistakes to avoid": (
        "5 mistakes to avoid with {topic}",
        "The errors people make with {p0}, and how to avoid each one.",
    ),
    "future trends": ("Where {topic} is heading next", "What is changing in {p0}, and how {audience} can get ready."),
    "behind the scenes": ("Behind the scenes of {topic}", "How {topic} really works day to day, {p0} included."),
    "comparison": (
        "{P0} or {P1}: which fits?",
        "Compares {p0} and {p1} for {audience}, ending with a clear recommendation.",
    ),
    "checklist": ("The {topic} checklist", "Everything to check before starting with {topic}, {p0} first."),
}
OWN_ANGLE = ("{Topic}: {angle}", "A piece on {topic} from the angle of {angle}, for {audience}, drawing on {p0}.")

ENDS: dict[str, tuple[tuple[str, list[str]], tuple[str, list[str]]]] = {
    "blog_post": (
        ("Introduction", ["Why {topic} matters to {audience}", "What this post covers"]),
        ("Conclusion", ["The one thing to remember about {topic}", "What to do next"]),
    ),
    "video_script": (
        ("Hook", ["Open on the problem {topic} solves", "Promise what viewers will learn"]),
        ("Call to action", ["Recap in one line", "Tell viewers the next step"]),
    ),
    "talk": (
        ("Opening", ["A story that shows why {topic} matters", "The three things this talk covers"]),
        ("Closing and Q&A", ["Recap the main points", "Take questions"]),
    ),
    "newsletter": (
        ("This issue", ["The news on {topic} in one paragraph"]),
        ("Until next time", ["One link worth reading", "What the next issue covers"]),
    ),
    "report": (
        ("Summary", ["The findings on {topic} in brief", "Who should read on"]),
        ("Recommendations", ["What to do first", "What to measure"]),
    ),
}
TITLES = {
    "blog_post": "{Topic}: what {audience} should know",
    "video_script": "{Topic} in five minutes",
    "talk": "{Topic}: lessons learned",
    "newsletter": "This week in {topic}",
    "report": "{Topic}: findings and recommendations",
}

TONE_WORDS: dict[str, Tone] = {
    "professional": "professional",
    "formal": "professional",
    "friendly": "friendly",
    "casual": "friendly",
    "warm": "friendly",
    "playful": "playful",
    "fun": "playful",
    "funny": "playful",
    "witty": "playful",
    "persuasive": "persuasive",
    "convincing": "persuasive",
    "punchy": "persuasive",
    "inspiring": "inspirational",
    "inspirational": "inspirational",
    "uplifting": "inspirational",
    "neutral": "neutral",
    "plain": "neutral",
}
SHORTER = re.compile(r"\b(shorter|short|concise|brief|briefer|too long|tighter|trim)\b")
FOCUS = re.compile(r"\b(?:focus on|more about|emphasi[sz]e|highlight|include|mention)\s+([^,;.]+)")
AVOID = re.compile(r"\b(?:avoid|without|drop|remove|less|no)\s+([^,;.]+)")
AUDIENCE = re.compile(r"\bfor\s+([^,;.]+)")
JARGON = {
    "leverage": "use",
    "utilize": "use",
    "synergy": "teamwork",
    "paradigm": "model",
    "actionable": "practical",
    "best-in-class": "good",
    "game-changer": "big change",
    "circle back": "follow up",
}
MAX_SHORT_WORDS = 20


def fill(template: str, p: Any, phrases: list[str], **more: str) -> str:
    """A template filled with the topic, audience and phrases (p0, p1; capitalised P0, P1)."""
    p0, p1 = [*phrases, p.topic, p.topic][:2]
    return template.format(
        topic=p.topic,
        Topic=composer.capital(p.topic),
        audience=p.audience or "everyone",
        p0=p0,
        p1=p1,
        P0=composer.capital(p0),
        P1=composer.capital(p1),
        **more,
    )


def brainstorm_locally(p: BrainstormParams) -> list[Idea]:
    """n ideas, one per angle in turn; past the last angle, again with the next key phrases."""
    phrases, _ = composer.material(p.source, p.topic, [], max(2, p.n))
    angles, ideas, titles = p.angles or list(ANGLES), [], set()
    for i in range(p.n * 3):
        angle, turn = angles[i % len(angles)], i // len(angles)
        focus = phrases[turn:] + phrases[:turn] if phrases else []
        title_t, pitch_t = TEMPLATES.get(angle.lower(), OWN_ANGLE)
        title = fill(title_t, p, focus, angle=angle)
        if turn and focus:
            title = f"{title}, with a focus on {focus[0]}"
        if title.lower() not in titles:
            titles.add(title.lower())
            ideas.append(Idea(title=title, angle=angle, text=fill(pitch_t, p, focus, angle=angle)))
        if len(ideas) == p.n:
            break
    return ideas


def outline_locally(p: OutlineParams) -> tuple[str, list[OutlineSection]]:
    """(title, sections): the kind's opening and closing around one section per key phrase of
    the source (its sentences as points), then general aspects of the topic."""
    (opening, open_points), (closing, close_points) = ENDS[p.kind]
    middle = p.sections - 2
    phrases, sentences = composer.material(p.source, p.topic, [], middle)
    body: list[OutlineSection] = []
    used: set[str] = set()
    for phrase in phrases:
        points = [s for s in (composer.mentioning(sentences, phrase, used) for _ in range(2)) if s]
        body.append(
            OutlineSection(
                heading=composer.capital(phrase),
                points=points or [f"What {phrase} is", f"An example for {p.audience or 'the reader'}"],
            )
        )
    for heading, said in composer.ASPECTS[: middle - len(body)]:
        body.append(OutlineSection(heading=fill(heading, p, []), points=[fill(said, p, [])]))
    first = OutlineSection(heading=opening, points=[fill(x, p, []) for x in open_points])
    last = OutlineSection(heading=closing, points=[fill(x, p, []) for x in close_points])
    return fill(TITLES[p.kind], p, []), [first, *body, last]


def as_suggestion(given: str | Suggestion) -> Suggestion:
    """An earlier suggestion, whether given as text or as an object."""
    return Suggestion(text=given) if isinstance(given, str) else given


def shorten(line: str) -> str:
    """A line cut to its first sentence, and to MAX_SHORT_WORDS words."""
    first = (sentences_of(line) or [line])[0]
    words = first.split()
    return first if len(words) <= MAX_SHORT_WORDS else " ".join(words[:MAX_SHORT_WORDS]).rstrip(",;:") + "…"


def sentence_end(line: str) -> str:
    """A line ending as a sentence does."""
    line = line.rstrip()
    return line if line.endswith((".", "!", "?", "…")) else line + "."


def avoid(line: str, phrase: str) -> tuple[str, int]:
    """A line without the phrase (jargon: in plain words)."""
    if phrase in ("jargon", "buzzwords"):
        return composer.replace_words(line, JARGON)
    out, n = re.subn(rf"\s*\b{re.escape(phrase)}\b", "", line, flags=re.IGNORECASE)
    return out.strip(), n


def refine_one(s: Suggestion, feedback: str) -> tuple[Suggestion, list[str]]:
    """One suggestion after the feedback's rules: avoid …, a tone, shorter, focus on …, for …."""
    title, body, changes, said = s.title, s.text, [], feedback.lower()
    for phrase in (m.strip() for m in AVOID.findall(said)):
        (body, n), (title, k) = avoid(body, phrase), avoid(title, phrase) if title else (title, 0)
        changes += [f"removed {phrase}"] if n + k else []
    for word, tone in TONE_WORDS.items():
        if re.search(rf"\b{word}\b", said):
            body, done = composer.retone(body, tone)
            title = composer.retone(title, tone)[0].rstrip(".!🎉 ") if title else title
            changes += [f"{tone} tone" + (f" ({', '.join(done)})" if done else "")]
            break
    if SHORTER.search(said):
        short, short_title = shorten(body), (shorten(title.split(":")[0]) if title else title)
        changes += ["shortened"] if (short, short_title) != (body, title) else []
        body, title = short, short_title
    for focus in (m.strip() for m in FOCUS.findall(said)):
        if focus not in body.lower():
            body = sentence_end(body) + f" It puts {focus} first."
            changes.append(f"brought {focus} forward")
    for audience in (m.strip() for m in AUDIENCE.findall(said)):
        if audience not in body.lower():
            body = sentence_end(body) + f" Written for {audience}."
            changes.append(f"aimed at {audience}")
    return Suggestion(text=body, title=title, angle=s.angle), changes


def fit_to(s: Suggestion, feedback: str) -> float:
    """How well an earlier suggestion already fits the feedback: focus words it has, less
    words it should avoid."""
    said, have = feedback.lower(), {w.lower() for w in words_of(f"{s.title or ''} {s.text}")}
    wanted = {w for m in FOCUS.findall(said) for w in words_of(m) if len(w) > 3}
    avoided = {w for m in AVOID.findall(said) for w in words_of(m) if len(w) > 3}
    return len(wanted & have) - len(avoided & have)


def refine_locally(p: RefineParams) -> list[RefinedSuggestion]:
    """Each suggestion after the feedback's rules, best fitting first."""
    given = [as_suggestion(s) for s in p.suggestions]
    order = sorted(range(len(given)), key=lambda i: (-fit_to(given[i], p.feedback), i))[: p.keep or len(given)]
    out = []
    for i in order:
        better, changes = refine_one(given[i], p.feedback)
        out.append(
            RefinedSuggestion(
                title=better.title,
                angle=better.angle,
                text=better.text,
                source_index=i,
                changes=changes or ["unchanged: no rule of the local composer matches the feedback"],
            )
        )
    return out
