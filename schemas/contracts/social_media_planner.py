"""Contracts of the `social_media_planner` engine: posts fitted to each platform, hashtags,
and when to post. All run locally, from the inputs alone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta

from schemas.contracts import contract
from schemas.contracts.text_intelligence import Text

Platform = Literal["x", "linkedin", "instagram", "tiktok", "facebook"]
PLATFORM_NAMES: tuple[str, ...] = ("x", "linkedin", "instagram", "tiktok", "facebook")
CallToAction = Literal["learn_more", "comment", "share", "sign_up", "shop", "none"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
Hashtag = Annotated[str, Meta(pattern=r"^#?[^\s#]{1,100}$", description="A hashtag, with or without its #")]

EXAMPLE_POST = (
    "We rebuilt our job dashboard from scratch. Queues, retries and dead letters now live on one page, "
    "and progress bars update as jobs run. It took four months and a lot of coffee."
)


class OptimizePostParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Text
    #: The platforms to write for (default: all five).
    platforms: Annotated[list[Platform], Meta(min_length=1, max_length=5)] | None = None
    #: Hashtags to use; when none are given they are drawn from the text's keywords.
    hashtags: Annotated[list[Hashtag], Meta(max_length=30)] | None = None
    #: The kind of call to action (ignored when `call_to_action` gives the words).
    cta: CallToAction = "learn_more"
    #: The call to action's own words.
    call_to_action: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    #: A link the call to action points to.
    link: Annotated[str, Meta(pattern=r"^https?://\S+$", max_length=2000)] | None = None


class PlatformPost(msgspec.Struct, kw_only=True):
    platform: Platform
    text: str
    #: Length as the platform counts it (on X: weighted, a link counts 23).
    length: int
    limit: int
    hashtags: list[str]
    call_to_action: str | None
    #: Whether the body was shortened to fit.
    shortened: bool


class OptimizedPosts(msgspec.Struct, kw_only=True):
    posts: list[PlatformPost]


OPTIMIZE_POST = contract(
    "social_media_planner",
    "optimize_post",
    params=OptimizePostParams,
    result=OptimizedPosts,
    description=(
        "The text as a post for each platform: within its length limit (X's weighted count included), with the "
        "number of hashtags it suits, and a call to action; the body is shortened at a sentence or word when "
        "it must be."
    ),
    example={"text": EXAMPLE_POST, "platforms": ["x", "linkedin"], "link": "https://example.com/blog/dashboard"},
    timeout_seconds=120,
)


class HashtagsParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Text
    count: Annotated[int, Meta(ge=1, le=30)] = 10


class RankedHashtag(msgspec.Struct, kw_only=True):
    hashtag: str
    #: 0 … 1, the most relevant 1.
    relevance: float


class Hashtags(msgspec.Struct, kw_only=True):
    hashtags: list[RankedHashtag]


HASHTAGS = contract(
    "social_media_planner",
    "hashtags",
    params=HashtagsParams,
    result=Hashtags,
    description="Hashtags for the text, most relevant first, made from its key words and phrases (CamelCase).",
    example={"text": EXAMPLE_POST, "count": 5},
    timeout_seconds=120,
)


class PastPost(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    posted_at: datetime
    #: Likes, comments, shares… however the caller counts them; compared with each other only.
    engagement: Annotated[float, Meta(ge=0)]


class PostingPlanParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    platform: Platform
    #: Earlier posts and how they did; without enough of them the plan is the platform's default.
    history: Annotated[list[PastPost], Meta(max_length=10_000)] = []
    #: The audience's time zone (IANA), in which slots are given.
    timezone: Annotated[str, Meta(min_length=1, max_length=64)] = "UTC"
    slots: Annotated[int, Meta(ge=1, le=14)] = 3

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            # located as msgspec locates its own errors, so that a 422 names `params.timezone`
            raise ValueError(
                f"unknown time zone {self.timezone!r}: an IANA name such as Europe/Berlin - at `$.timezone`"
            ) from None


class Slot(msgspec.Struct, kw_only=True):
    weekday: Weekday
    #: The hour it starts, 0–23, in the plan's time zone.
    hour: int
    #: History: the slot's mean engagement (smoothed towards the overall mean); default: a rank weight.
    score: float
    #: Past posts in this slot.
    posts: int


class PostingPlan(msgspec.Struct, kw_only=True):
    platform: Platform
    timezone: str
    #: `history` when the posts given decided it, `default` when there were too few.
    basis: Literal["history", "default"]
    slots: list[Slot]
    explanation: str


POSTING_PLAN = contract(
    "social_media_planner",
    "posting_plan",
    params=PostingPlanParams,
    result=PostingPlan,
    description=(
        "The best weekday and hour slots to post on a platform: from the engagement of past posts when at least "
        "10 are given (each slot's mean, smoothed so that one lucky post does not decide), else the platform's "
        "documented default slots."
    ),
    example={
        "platform": "linkedin",
        "timezone": "Europe/Berlin",
        "history": [
            {"posted_at": "2026-11-03T09:15:00+01:00", "engagement": 120},
            {"posted_at": "2026-11-05T17:40:00+01:00", "engagement": 35},
        ],
    },
    timeout_seconds=120,
)
