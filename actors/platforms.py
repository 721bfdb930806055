"""Social platforms' rules, and a post fitted to them: shared by social_media_planner and the
local composer's platform adaptation. Local and deterministic.

Limits as the platforms publish them; hashtag counts as their own guidance suggests:

| platform  | limit  | hashtags | how the limit counts |
|-----------|--------|----------|----------------------|
| x         | 280    | 2        | weighted: most CJK and emoji count 2, a link 23 |
| linkedin  | 3,000  | 3        | characters |
| instagram | 2,200  | 5        | characters (at most 30 hashtags) |
| tiktok    | 4,000  | 4        | characters |
| facebook  | 63,206 | 2        | characters |
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from actors.text import key_phrases, sentences_of, words_of
from schemas.contracts.social_media_planner import RankedHashtag


@dataclass(frozen=True)
class Rules:
    """How a platform takes a post."""

    limit: int
    hashtags: int
    #: Hashtags on a line of their own after the body (else at the end of its last line).
    own_line: bool = True
    weighted: bool = False


RULES: dict[str, Rules] = {
    "x": Rules(limit=280, hashtags=2, own_line=False, weighted=True),
    "linkedin": Rules(limit=3000, hashtags=3),
    "instagram": Rules(limit=2200, hashtags=5),
    "tiktok": Rules(limit=4000, hashtags=4),
    "facebook": Rules(limit=63206, hashtags=2),
}

CALLS_TO_ACTION = {
    "learn_more": "Learn more:",
    "comment": "What do you think? Tell us in the comments.",
    "share": "Know someone who needs this? Share it.",
    "sign_up": "Sign up:",
    "shop": "Shop now:",
}

#: X counts a link as this many characters, whatever its length (t.co).
X_LINK_LENGTH = 23
#: Code point ranges X counts once; every other code point counts twice (twitter-text v3).
X_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
LINK = re.compile(r"https?://\S+")
ELLIPSIS = "…"


def x_length(text: str) -> int:
    """The length X counts: links 23, light code points 1, the others (CJK, emoji) 2."""
    total = 0
    for part in re.split(r"(https?://\S+)", text):
        if LINK.fullmatch(part):
            total += X_LINK_LENGTH
            continue
        total += sum(1 if any(lo <= ord(ch) <= hi for lo, hi in X_LIGHT) else 2 for ch in part)
    return total


def length_on(rules: Rules, text: str) -> int:
    """`text`'s length as the platform counts it."""
    return x_length(text) if rules.weighted else len(text)


# -- hashtags -------------------------------------------------------------------------------


def as_hashtag(phrase: str) -> str | None:
    """`#CamelCase` of a phrase's words (None if it has none)."""
    words = words_of(phrase)
    if not words:
        return None
    return "#" + "".join(w if w.isupper() and len(w) > 1 else w[:1].upper() + w[1:] for w in words)


def ranked_hashtags(text: str, count: int) -> list[RankedHashtag]:
    """Hashtags from the text's key phrases (YAKE, up to two words), most relevant first."""
    tags: list[RankedHashtag] = []
    seen: set[str] = set()
    for phrase, relevance in key_phrases(text, count * 3, max_words=2):
        tag = as_hashtag(phrase)
        if tag is None or tag.lower() in seen:
            continue
        seen.add(tag.lower())
        tags.append(RankedHashtag(hashtag=tag, relevance=relevance))
        if len(tags) == count:
            break
    return tags


def compose(body: str, cta: str | None, link: str | None, tags: list[str], rules: Rules) -> str:
    """The post: body, call to action (and link), hashtags, laid out as the platform likes."""
    action = " ".join(part for part in (cta, link) if part)
    if not rules.own_line:
        return " ".join(part for part in (body, action, " ".join(tags)) if part)
    return "\n\n".join(part for part in (body, action, " ".join(tags)) if part)


def shorten(body: str, fits: int) -> str:
    """`body` cut to at most `fits` characters: at a sentence end if one is near, else at a word
    (with an ellipsis)."""
    if len(body) <= fits:
        return body
    kept = ""
    for sentence in sentences_of(body):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > fits:
            break
        kept = candidate
    if kept and len(kept) >= fits * 0.6:
        return kept
    cut = body[: max(0, fits - 1)]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + ELLIPSIS


def fit(body: str, cta: str | None, link: str | None, tags: list[str], rules: Rules) -> tuple[str, list[str], bool]:
    """The post within the platform's limit: hashtags dropped first (down to one), then the body
    shortened; (post, hashtags kept, whether the body was shortened)."""
    tags = list(tags)
    while length_on(rules, compose(body, cta, link, tags, rules)) > rules.limit and len(tags) > 1:
        tags.pop()
    post = compose(body, cta, link, tags, rules)
    if length_on(rules, post) <= rules.limit:
        return post, tags, False
    room = rules.limit - (length_on(rules, compose("x", cta, link, tags, rules)) - 1)  # what the rest leaves
    if room < 20:  # not even a short body fits beside them: keep the body alone
        tags, cta, link = [], None, None
        room = rules.limit
    short = shorten(body, room)
    while (length := length_on(rules, compose(short, cta, link, tags, rules))) > rules.limit and room > 0:
        room = min(room - 1, room * rules.limit // length)  # weighted characters (X) count more than one
        short = shorten(body, room)
    return compose(short, cta, link, tags, rules), tags, True
