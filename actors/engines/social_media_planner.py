"""The `social_media_planner` engine: posts fitted to each platform, hashtags, and when to post
(contracts in schemas/contracts/social_media_planner.py). Local and deterministic; the
platforms' rules and the fitting of a post to them are in actors/platforms.py.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from actors.platforms import CALLS_TO_ACTION, RULES, fit, length_on, ranked_hashtags
from actors.sdk import JobContext, PermanentError, operation
from actors.text import words_of
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
    Slot,
)


@operation(HASHTAGS)
def hashtags(ctx: JobContext, p: HashtagsParams) -> Hashtags:
    """Hashtags for the text, most relevant first."""
    if not words_of(p.text):
        raise PermanentError("the text has no words to make hashtags of")
    return Hashtags(hashtags=ranked_hashtags(p.text, p.count))


# -- optimize_post --------------------------------------------------------------------------


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
