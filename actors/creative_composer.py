"""The local composer's creative writing (creative_assistant without a provider): ideas from
templates per angle, outlines from templates per kind, both read with any topic (a noun phrase
or a clause: "why …", "how to …") and drawing on the source's key phrases and central sentences;
refinement by rules read from the feedback (avoid …, a tone, shorter, focus on …, for …) that
lists only what changed the text, best-meeting suggestions first. Deterministic.
"""

from __future__ import annotations

import re

from actors import composer
from actors.creative_refine import as_suggestion, refine_locally
from actors.creative_templates import ANGLE_TEMPLATES, KINDS, OWN_ANGLE
from actors.text import key_phrases, sentences_of, stop_words, textrank, words_of
from schemas.contracts.creative_assistant import (
    ANGLES,
    BrainstormParams,
    Idea,
    OutlineParams,
    OutlineSection,
)

__all__ = ["as_suggestion", "brainstorm_locally", "outline_locally", "refine_locally"]

CLAUSE = re.compile(r"^(why|how|what|when|where|who|which|whether|should|can|could|do|does|is|are|will)\b", re.I)
#: The relevance (YAKE, the best 1) a key phrase said only once needs to be written about.
GOOD_PHRASE = 0.6
NUMBER = re.compile(r"\d|\b(percent|half|twice|ten|hundred|thousand|million|billion)\b", re.I)


# -- material ----------------------------------------------------------------------------------


def is_clause(topic: str) -> bool:
    """Whether the topic is a question or clause ("why …", "how to …") rather than a noun phrase."""
    return bool(CLAUSE.match(topic.strip())) or topic.strip().endswith("?")


def central(source: str | None) -> list[str]:
    """The source's sentences, most central first."""
    found = [s for s in sentences_of(source or "") if words_of(s)]
    if len(found) < 2:
        return found
    scores = textrank(found)
    return [found[i] for i in sorted(range(len(found)), key=lambda i: (-scores[i], i))]


def as_written(phrase: str, source: str) -> str:
    """A phrase in lower case unless the source writes it capitalised mid-sentence (a name)."""
    if phrase.isupper() or re.search(rf"(?<=[\w,;] ){re.escape(phrase)}\b", source):
        return phrase
    return phrase.lower() if re.search(rf"\b{re.escape(phrase.lower())}\b", source) or phrase[1:].islower() else phrase


def phrases_of(source: str | None, topic: str, n: int) -> list[str]:
    """Up to n key phrases of the source worth writing about: those repeated across its sentences
    (longer ones ahead of their words), then the most relevant others; none only the topic's
    words, ending in one of them ("cheaper solar") or overlapping another but in those."""
    if not source or not words_of(source) or n < 1:
        return []
    lowered = [s.lower() for s in sentences_of(source)]
    topic_words, stops = {w.lower() for w in words_of(topic)}, stop_words()
    scored = []
    for phrase, relevance in key_phrases(source, 6 * n + 10, max_words=3):
        words = [w.lower() for w in words_of(phrase)]
        if not words or set(words) <= topic_words | stops or words[0] in stops or words[-1] in stops | topic_words:
            continue
        hits = sum(1 for s in lowered if re.search(rf"\b{re.escape(phrase.lower())}\b", s))
        if hits > 1 or relevance >= GOOD_PHRASE:
            scored.append((hits * (1.5 if len(words) > 1 else 1.0) + relevance, phrase, set(words) - topic_words))
    chosen: list[str] = []
    taken: set[str] = set()
    for _, phrase, own in sorted(scored, key=lambda x: -x[0]):
        if own and not own & taken:
            chosen.append(as_written(phrase, source))
            taken |= own
    return chosen[:n]


def mentioning(sentences: list[str], phrase: str, used: set[str], topic: str = "") -> str | None:
    """The most central sentence not used yet that mentions the phrase (or all its own words)."""
    own = {w.lower() for w in words_of(phrase)} - {w.lower() for w in words_of(topic)} - stop_words()
    for exact in (True, False):
        for s in sentences:
            said = s.lower()
            if s in used:
                continue
            if re.search(rf"\b{re.escape(phrase.lower())}\b", said) if exact else own and own <= set(words_of(said)):
                used.add(s)
                return s
    return None


def fill(template: str, topic: str, audience: str | None, phrases: list[str], **more: str) -> str:
    """A template filled with the topic, the audience ("you" when none), phrases p0, p1 (P0, P1
    capitalised) and more."""
    p0, p1 = [*phrases, topic, topic][:2]
    return template.format(
        topic=topic,
        Topic=composer.capital(topic),
        audience=audience or "you",
        for_audience=f" for {audience}" if audience else "",
        p0=p0,
        p1=p1,
        P0=composer.capital(p0),
        P1=composer.capital(p1),
        **more,
    )


# -- brainstorm --------------------------------------------------------------------------------

#: Past the last angle without a source: the same angles again, in another format.
FORMATS = [
    ("the deep dive", "A longer version, with worked examples: "),
    ("in five minutes", "A five-minute version: "),
]


def lower_first(text: str) -> str:
    """Text with its first letter in lower case (unless it starts a name or an acronym)."""
    word = (text.split() or [""])[0]
    return text[:1].lower() + text[1:] if word[1:].islower() or word in ("A", "") else text


def brainstorm_locally(p: BrainstormParams) -> list[Idea]:
    """n ideas, one per angle in turn; past the last angle, again with the next key phrases (or,
    without a source, in other formats)."""
    topic = p.topic.strip()
    phrases, sentences = phrases_of(p.source, topic, max(2, p.n)), central(p.source)
    figure = next((s for s in sentences if NUMBER.search(s)), None)
    clause, angles = is_clause(topic), p.angles or list(ANGLES)
    ideas: list[Idea] = []
    titles: set[str] = set()
    for i in range(p.n * 3):
        angle, turn = angles[i % len(angles)], i // len(angles)
        at = (i + turn) % len(phrases) if phrases else 0  # each angle, and each turn, leads with another
        focus = phrases[at:] + phrases[:at]
        t = ANGLE_TEMPLATES.get(angle.lower(), OWN_ANGLE)
        title_t = t.clause_title if clause else t.title
        if len(focus) >= 2 and t.sourced_title:
            title_t = t.sourced_title
        pitch_t = t.pitch
        if focus and t.sourced:
            pitch_t = t.sourced if len(focus) >= 2 or "{p1}" not in t.sourced else pitch_t
        title = fill(title_t, topic, p.audience, focus, angle=angle)
        pitch = fill(pitch_t, topic, p.audience, focus, angle=angle)
        if figure and focus and angle.lower() == "by the numbers":
            pitch = f"{figure} Starting from that figure: what the numbers on {topic} show, and what they leave out."
        if turn and focus:
            title = f"{title}, with a focus on {focus[0]}"
        elif turn and turn <= len(FORMATS):
            label, lead = FORMATS[turn - 1]
            title, pitch = f"{title} ({label})", lead + lower_first(pitch)
        if title.lower() not in titles:
            titles.add(title.lower())
            ideas.append(Idea(title=title, angle=angle, text=pitch))
        if len(ideas) == p.n:
            break
    return ideas


# -- outline -----------------------------------------------------------------------------------


def stakes(topic: str, audience: str) -> str:
    """The point that says what the piece is about, phrased for the topic's shape."""
    if re.match(r"how to\b", topic, re.I):
        return f"The promise: by the end, {audience} know {lower_first(topic)}"
    if is_clause(topic):
        return f"The question it answers: {lower_first(topic.rstrip('?'))}"
    return f"Why {topic} matters to {audience}"


def outline_locally(p: OutlineParams) -> tuple[str, list[OutlineSection]]:
    """(title, sections): the kind's opening and closing around one section per key phrase of the
    source (the central sentences mentioning it as points), then the kind's own sections."""
    kind, topic = KINDS[p.kind], p.topic.strip()
    reader = p.audience or kind.reader
    middle = p.sections - 2
    phrases, sentences = phrases_of(p.source, topic, middle), central(p.source)

    def filled(text: str, **more: str) -> str:
        return fill(text, topic, reader, [], stakes=stakes(topic, reader), **more)

    body: list[OutlineSection] = []
    used: set[str] = set()
    for phrase in phrases:
        points = [s for s in (mentioning(sentences, phrase, used, topic) for _ in range(2)) if s]
        if points:  # a phrase whose sentences other sections took gives way to the kind's sections
            body.append(OutlineSection(heading=composer.capital(phrase), points=points))
    for heading, points in kind.body[: middle - len(body)]:
        body.append(OutlineSection(heading=heading, points=[filled(x) for x in points]))
    opening = OutlineSection(heading=kind.opening[0], points=[filled(x) for x in kind.opening[1]])
    closing = OutlineSection(heading=kind.closing[0], points=[filled(x) for x in kind.closing[1]])
    return filled(kind.title), [opening, *body, closing]
