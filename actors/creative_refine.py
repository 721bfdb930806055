"""The local composer's refinement (creative_assistant.refine without a provider): rules read
from the feedback (avoid …, a tone, shorter, focus on …, for …), each listed in `changes` only
when it changed the text; the suggestions that now meet the feedback best come first.
"""

from __future__ import annotations

import re

from actors import composer
from actors.text import sentences_of, stop_words, words_of
from schemas.contracts.creative_assistant import RefinedSuggestion, RefineParams, Suggestion
from schemas.contracts.text_intelligence import Tone

TONE_WORDS: dict[str, Tone] = {
    "professional": "professional", "formal": "professional", "friendly": "friendly", "casual": "friendly",
    "warm": "friendly", "playful": "playful", "fun": "playful", "funny": "playful", "witty": "playful",
    "persuasive": "persuasive", "convincing": "persuasive", "punchy": "persuasive", "inspiring": "inspirational",
    "inspirational": "inspirational", "uplifting": "inspirational", "neutral": "neutral", "plain": "neutral",
}  # fmt: skip
SHORTER = re.compile(r"\b(shorter|short|concise|brief|briefer|too long|tighter|trim)\b")
FOCUS = re.compile(r"\b(?:focus on|more about|emphasi[sz]e|highlight|include|mention)\s+([^,;.]+)")
AVOID = re.compile(r"\b(?:avoid|without|drop|remove|less|no)\s+([^,;.]+)")
AUDIENCE = re.compile(r"\bfor\s+([^,;.]+)")
JARGON = {"leverage": "use", "utilize": "use", "synergy": "teamwork", "paradigm": "model", "actionable": "practical",
          "best-in-class": "good", "game-changer": "big change", "circle back": "follow up"}  # fmt: skip
INTENSIFIERS = ["really", "totally", "super", "very", "extremely", "absolutely", "literally", "incredibly", "insanely"]
FILLERS = ["basically", "actually", "just", "simply", "quite", "rather", "somewhat", "maybe", "perhaps",
           "probably", "I think", "kind of", "sort of", "honestly"]  # fmt: skip
#: Wordy phrases and their short forms.
WORDY = {"that we should": "to", "that you should": "to", "that teams should": "to", "that people should": "to",
         "in order to": "to", "due to the fact that": "because", "is able to": "can", "are able to": "can",
         "at this point in time": "now", "a lot of": "many", "lots of": "many", "a number of": "several"}  # fmt: skip
MAX_SHORT_WORDS = 20
#: Texts of this many words or fewer are not cut at a word boundary (only fillers go).
MIN_CUT_WORDS = 5


def tidy(text: str) -> str:
    """Text with doubled spaces, spaces before punctuation and empty clauses gone, capitalised."""
    text = re.sub(r"\s+([,;:.!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
    text = re.sub(r"([,;:])\1+|[,;:](?=[.!?])|^[,;:]\s*", lambda m: m.group(1) or "", text)
    return composer.capital(re.sub(r"([.!?] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), text))


def drop(text: str, words: list[str]) -> tuple[str, int]:
    """Text without these words or phrases (whole words, any case); how many went."""
    out, n = re.subn(rf"(?<![\w'-])(?:{'|'.join(re.escape(w) for w in words)})(?![\w'-])", "", text, flags=re.I)
    return (tidy(out), n) if n else (text, 0)


def counted(label: str) -> str:
    """A change's label in the singular where it counts one ("1 contraction")."""
    return re.sub(r"\b1 ((?:casual |formal |emphatic |hedged |jargon )?\w+?)s\b", r"1 \1", label)


def content_words(phrase: str) -> set[str]:
    """A phrase's own words, stop words left out."""
    return {w.lower() for w in words_of(phrase)} - stop_words() or {w.lower() for w in words_of(phrase)}


def mentions(text: str | None, phrase: str) -> bool:
    """Whether the text says the phrase, or all its own words."""
    said = (text or "").lower()
    return phrase in said or content_words(phrase) <= {w.lower() for w in words_of(said)}


def retone(text: str, tone: Tone, title: bool) -> tuple[str, list[str]]:
    """Text in the tone by word rules (a professional one without intensifiers); a title gets no
    tone ending. (text, the changes made)."""
    done = []
    if tone == "professional":
        text, n = drop(text, INTENSIFIERS)
        done += [f"dropped {n} intensifiers"] if n else []
    toned, more = composer.retone(text, tone)
    if title:
        more = [c for c in more if not c.startswith("added a")]
        toned = re.sub(r"( 🎉| Try it today\.| Imagine what comes next\.)$", "", toned).rstrip("!. ")
    return (toned, [counted(c) for c in done + more]) if toned != text or done else (text, [])


def shorten(text: str) -> str:
    """Text made shorter: fillers and intensifiers dropped, wordy phrases put shortly, the first
    sentence kept, then a trailing clause cut, then at most MAX_SHORT_WORDS (or three quarters of
    the words) at a word boundary that leaves no dangling small word."""
    before, end = len(text.split()), "." if text.rstrip()[-1:] in ".!?…" else ""
    out = composer.replace_words(drop(text, FILLERS + INTENSIFIERS)[0], WORDY)[0]
    out = (sentences_of(out) or [out])[0]
    if len(out.split()) >= before or len(out.split()) > MAX_SHORT_WORDS:
        head = re.split(r"\s*(?:[,;:]|\s[-–—])\s*(?=[^,;:–—]*$)", out.rstrip(".!?…"))[0]
        out = head + end if len(head.split()) >= 4 else out
    words = out.rstrip(".!?…").split()
    if before > MIN_CUT_WORDS and (len(words) >= before or len(words) > MAX_SHORT_WORDS):
        words = words[: min(MAX_SHORT_WORDS, max(3, before * 3 // 4))]
        while len(words) > 2 and (words[-1].lower().strip(",;:") in stop_words() or words[-1][-1] in ",;:-"):
            words.pop()
        out = " ".join(words).rstrip(",;:") + end
    return tidy(out) if len(out.split()) < before else text


def shorten_title(title: str) -> str:
    """A title without its subtitle (after a colon or dash) and fillers."""
    head = re.split(r":\s|\s[-–—]\s", title)[0]
    return drop(head if len(head.split()) >= 2 else title, FILLERS + INTENSIFIERS)[0]


def focus_on(title: str | None, body: str, focus: str) -> tuple[str | None, str, str | None]:
    """Title and text led by the focus: its sentence moved first, or the focus worked into the title
    (after a colon) or the text (", starting with …"). (title, text, the change, None if none)."""
    sentences = sentences_of(body) or [body]
    if mentions(sentences[0], focus) or mentions(title, focus):
        return title, body, None
    at = next((i for i, s in enumerate(sentences) if mentions(s, focus)), None)
    if at is not None:
        moved = [sentences[at], *sentences[:at], *sentences[at + 1 :]]
        return title, " ".join(moved), f"moved the sentence on {focus} first"
    if title and ":" not in title:
        return f"{title}: {focus}", body, f"added {focus} to the title"
    first, mark = re.match(r"(.*?)([.!?…]*)$", sentences[0], re.S).groups()  # type: ignore[union-attr]
    sentences[0] = f"{first.rstrip(',;: ')}, starting with {focus}{mark}"
    return title, " ".join(sentences), f"worked {focus} into the text"


def refine_one(s: Suggestion, feedback: str) -> tuple[Suggestion, list[str], bool]:
    """One suggestion after the feedback's rules; (it, what changed, whether any rule applied)."""
    title, body, changes, said = s.title, s.text, [], feedback.lower()
    avoided = [m.strip() for m in AVOID.findall(said)]
    focuses = [m.strip() for m in FOCUS.findall(said)]
    tone = next((t for w, t in TONE_WORDS.items() if re.search(rf"\b{w}\b", said)), None)
    for phrase in avoided:
        jargon = phrase in ("jargon", "buzzwords")
        (body, n), (title, k) = (
            composer.replace_words(x or "", JARGON) if jargon else drop(x or "", [phrase]) for x in (body, title)
        )
        title = title or s.title
        changes += [f"removed {phrase}" if not jargon else counted(f"replaced {n + k} jargon words")] if n + k else []
    for focus in focuses:  # a sentence on the focus first, before shortening keeps the first
        sentences = sentences_of(body)
        if len(sentences) > 1 and not mentions(sentences[0], focus):
            title, body, change = focus_on(title, body, focus)
            changes += [change] if change else []
    if tone:
        body, done = retone(body, tone, title=False)
        title, done_title = retone(title, tone, title=True) if title else (title, [])
        labels = list(dict.fromkeys(done + [f"{c} in the title" for c in done_title]))
        changes += [f"{tone} tone: {', '.join(labels)}"] if labels else []
    if SHORTER.search(said):
        short, short_title = shorten(body), shorten_title(title) if title else title
        if short != body:
            changes.append(f"shortened the text to {len(short.split())} words")
        if short_title != title:
            changes.append("shortened the title")
        body, title = short, short_title
    for focus in focuses:
        title, body, change = focus_on(title, body, focus)
        changes += [change] if change else []
    for audience in (m.strip() for m in AUDIENCE.findall(said)):
        if audience not in body.lower():
            body = (
                body.rstrip() if body.rstrip()[-1:] in ".!?…" else body.rstrip() + "."
            ) + f" Written for {audience}."
            changes.append(f"aimed at {audience}")
    applied = bool(avoided or focuses or tone or SHORTER.search(said) or AUDIENCE.search(said))
    return Suggestion(text=body, title=title, angle=s.angle), changes, applied


def meets(original: Suggestion, better: Suggestion, feedback: str) -> float:
    """How well a refined suggestion meets the feedback: its focus (more if it had it before),
    none of what to avoid or of off-tone words left, and short if asked."""
    said, text = feedback.lower(), f"{better.title or ''} {better.text}"
    score = 0.0
    for focus in (m.strip() for m in FOCUS.findall(said)):
        score += mentions(text, focus) + 2 * mentions(original.text, focus) + mentions(original.title, focus)
    for phrase in (m.strip() for m in AVOID.findall(said)):
        score -= len(re.findall(rf"\b{re.escape(phrase)}\b", text.lower()))
    if "professional" in said or "formal" in said:
        score -= drop(text, INTENSIFIERS + list(composer.CASUAL))[1]
    if SHORTER.search(said):
        score += (len(better.text.split()) <= MAX_SHORT_WORDS) - len(better.text.split()) / 1000
    return score


def refine_locally(p: RefineParams) -> list[RefinedSuggestion]:
    """Each suggestion after the feedback's rules, those that now meet it best first."""
    given = [as_suggestion(s) for s in p.suggestions]
    done = [refine_one(s, p.feedback) for s in given]
    order = sorted(range(len(given)), key=lambda i: (-meets(given[i], done[i][0], p.feedback), i))
    out = []
    for i in order[: p.keep or len(given)]:
        better, changes, applied = done[i]
        why = "it already meets the feedback" if applied else "no rule of the local composer matches the feedback"
        out.append(
            RefinedSuggestion(
                title=better.title,
                angle=better.angle,
                text=better.text,
                source_index=i,
                changes=changes or [f"unchanged: {why}"],
            )
        )
    return out


def as_suggestion(given: str | Suggestion) -> Suggestion:
    """An earlier suggestion, whether given as text or as an object."""
    return Suggestion(text=given) if isinstance(given, str) else given
