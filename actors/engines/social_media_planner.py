"""The `social_media_planner` engine: posts fitted to each platform, hashtags, and when to post
(contracts in schemas/contracts/social_media_planner.py). Local and deterministic.

Platform rules (limits as the platforms publish them; hashtag counts as their own guidance
suggests):

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
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from actors.engines.text_intelligence import key_phrases, sentences_of, words_of
from actors.sdk import JobContext, PermanentError, operation
from schemas.contracts.social_media_planner import (
    HASHTAGS,
    OPTIMIZE_POST,
    PLATFORM_NAMES,
    POSTING_PLAN,
    Hashtags,
    HashtagsParams,
    OptimizedPosts,
    OptimizePostParams,
    PlatformPost,
    PostingPlan,
    PostingPlanParams,
    RankedHashtag,
    Slot,
)


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


@operation(HASHTAGS)
def hashtags(ctx: JobContext, p: HashtagsParams) -> Hashtags:
    """Hashtags for the text, most relevant first."""
    if not words_of(p.text):
        raise PermanentError("the text has no words to make hashtags of")
    return Hashtags(hashtags=ranked_hashtags(p.text, p.count))


# -- optimize_post --------------------------------------------------------------------------


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


@operation(OPTIMIZE_POST)
def optimize_post(ctx: JobContext, p: OptimizePostParams) -> OptimizedPosts:
    """The text as a post for each platform."""
    body = " ".join(p.text.split())
    if not words_of(body):
        raise PermanentError("the text has no words to post")
    platforms = list(dict.fromkeys(p.platforms or PLATFORM_NAMES))
    wanted = max(RULES[name].hashtags for name in platforms)
    given = [t if t.startswith("#") else f"#{t}" for t in p.hashtags or []]
    pool = list(dict.fromkeys(given)) or [t.hashtag for t in ranked_hashtags(body, wanted)]
    cta = p.call_to_action if p.call_to_action is not None else CALLS_TO_ACTION.get(p.cta)
    posts = []
    for i, name in enumerate(platforms):
        ctx.raise_if_cancelled()
        ctx.progress(i / len(platforms), f"writing for {name}")
        rules = RULES[name]
        text, tags, shortened = fit(body, cta, p.link, pool[: rules.hashtags], rules)
        posts.append(
            PlatformPost(
                platform=name,  # type: ignore[arg-type]
                text=text,
                length=length_on(rules, text),
                limit=rules.limit,
                hashtags=tags,
                call_to_action=cta if cta and cta in text else None,
                shortened=shortened,
            )
        )
    return OptimizedPosts(posts=posts)


# -- posting_plan ---------------------------------------------------------------------------

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: Fewer past posts than this and the plan is the platform's default.
MIN_HISTORY = 10
#: Smoothing: each slot's mean counts as if this many posts of the overall mean were in it too.
PRIOR_POSTS = 5
#: Default slots (weekday index, hour, local time), best first: the times the platforms' own
#: business guides and the large published studies of engagement agree on for a general audience.
DEFAULT_SLOTS: dict[str, list[tuple[int, int]]] = {
    "linkedin": [(1, 9), (2, 10), (3, 9), (1, 12), (2, 12), (3, 12), (0, 10), (4, 9)],
    "x": [(1, 9), (2, 9), (3, 9), (2, 12), (1, 12), (4, 9), (0, 9), (3, 12)],
    "instagram": [(2, 11), (1, 11), (4, 11), (3, 14), (0, 11), (2, 14), (5, 10), (4, 14)],
    "tiktok": [(1, 19), (3, 19), (4, 17), (2, 19), (5, 11), (0, 19), (6, 19), (4, 19)],
    "facebook": [(1, 9), (2, 9), (3, 10), (4, 9), (0, 10), (2, 13), (1, 13), (3, 13)],
}


def plan_from_history(p: PostingPlanParams, zone: ZoneInfo) -> list[Slot]:
    """The slots whose past posts did best, each slot's mean smoothed towards the overall mean."""
    buckets: dict[tuple[int, int], list[float]] = defaultdict(list)
    for post in p.history:
        when = post.posted_at if post.posted_at.tzinfo is not None else post.posted_at.replace(tzinfo=zone)
        local: datetime = when.astimezone(zone)
        buckets[(local.weekday(), local.hour)].append(post.engagement)
    overall = sum(post.engagement for post in p.history) / len(p.history)
    scored = [
        ((sum(values) + PRIOR_POSTS * overall) / (len(values) + PRIOR_POSTS), len(values), slot)
        for slot, values in buckets.items()
    ]
    scored.sort(key=lambda item: (-item[0], -item[1], item[2]))
    return [
        Slot(weekday=WEEKDAYS[day], hour=hour, score=round(score, 4), posts=count)  # type: ignore[arg-type]
        for score, count, (day, hour) in scored[: p.slots]
    ]


@operation(POSTING_PLAN)
def posting_plan(ctx: JobContext, p: PostingPlanParams) -> PostingPlan:
    """The best weekday and hour slots to post."""
    zone = ZoneInfo(p.timezone)
    if len(p.history) >= MIN_HISTORY:
        slots = plan_from_history(p, zone)
        explanation = (
            f"From {len(p.history)} past posts: the {len(slots)} weekday-and-hour slots with the highest mean "
            f"engagement, each mean smoothed as if {PRIOR_POSTS} posts of the overall mean were in it too."
        )
        return PostingPlan(
            platform=p.platform, timezone=p.timezone, basis="history", slots=slots, explanation=explanation
        )
    defaults = DEFAULT_SLOTS[p.platform][: p.slots]
    slots = [
        Slot(weekday=WEEKDAYS[day], hour=hour, score=round(1 - i / len(DEFAULT_SLOTS[p.platform]), 4), posts=0)  # type: ignore[arg-type]
        for i, (day, hour) in enumerate(defaults)
    ]
    if p.slots > len(slots):  # more asked than the defaults hold: their hours on other days
        hours = dict.fromkeys(h for _, h in DEFAULT_SLOTS[p.platform])  # best first
        extra = [(d, h) for d in range(7) for h in hours if (d, h) not in defaults]
        slots += [
            Slot(weekday=WEEKDAYS[d], hour=h, score=0.0, posts=0)  # type: ignore[arg-type]
            for d, h in extra[: p.slots - len(slots)]
        ]
    explanation = (
        f"Fewer than {MIN_HISTORY} past posts were given ({len(p.history)}), so these are {p.platform}'s default "
        f"slots for a general audience, in {p.timezone}; give at least {MIN_HISTORY} posts with their engagement "
        "for a plan of your own audience."
    )
    return PostingPlan(platform=p.platform, timezone=p.timezone, basis="default", slots=slots, explanation=explanation)
