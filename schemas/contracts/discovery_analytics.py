"""Contracts of the `discovery_analytics` engine: tags and categories for documents, rising and
falling terms over time, and engagement figures. All run locally, from the inputs alone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from schemas.contracts import contract
from schemas.contracts.text_intelligence import Text

DocumentId = Annotated[str, Meta(min_length=1, max_length=200)]
Term = Annotated[str, Meta(min_length=1, max_length=100)]
#: The words that signal a category.
Signals = Annotated[list[Term], Meta(min_length=1, max_length=500)]


class Document(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: DocumentId
    text: Text


class TagContentParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    documents: Annotated[list[Document], Meta(min_length=1, max_length=1000)]
    #: Tags per document.
    tags: Annotated[int, Meta(ge=1, le=30)] = 5
    #: Your own categories (name → the words that signal it); default: a general taxonomy.
    categories: Annotated[dict[Term, Signals], Meta(max_length=100)] | None = None


class ScoredTag(msgspec.Struct, kw_only=True):
    tag: str
    relevance: float


class ScoredCategory(msgspec.Struct, kw_only=True):
    category: str
    #: Share of the document's words that signal the category, scaled so the top one is 1.
    score: float


class TaggedDocument(msgspec.Struct, kw_only=True):
    id: str
    tags: list[ScoredTag]
    #: Up to three, best first; empty when no category's words occur.
    categories: list[ScoredCategory]


class TagCount(msgspec.Struct, kw_only=True):
    tag: str
    documents: int


class TaggedContent(msgspec.Struct, kw_only=True):
    documents: list[TaggedDocument]
    #: Tags across the batch, in the most documents first.
    top_tags: list[TagCount]


EXAMPLE_DOCUMENTS = [
    {"id": "post-1", "text": "Our new app update improves battery life and adds cloud backup for photos."},
    {"id": "post-2", "text": "Quarterly revenue grew 12 percent as subscription sales beat the forecast."},
    {"id": "post-3", "text": "The marathon runners trained for months; the race ended in a sprint finish."},
]

TAG_CONTENT = contract(
    "discovery_analytics",
    "tag_content",
    params=TagContentParams,
    result=TaggedContent,
    description=(
        "Tags (key phrases) and categories for a batch of documents, and the tags most of the batch shares; "
        "categories from a general taxonomy or from your own."
    ),
    example={"documents": EXAMPLE_DOCUMENTS, "tags": 3},
    timeout_seconds=600,
)


class DatedDocument(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Text
    at: datetime


class TrendsParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    documents: Annotated[list[DatedDocument], Meta(min_length=2, max_length=10_000)]
    #: Where the earlier window ends and the later begins (default: halfway through the time span).
    split_at: datetime | None = None
    top: Annotated[int, Meta(ge=1, le=100)] = 10
    #: A term must occur this often in the window it rises (or falls) from or to.
    min_count: Annotated[int, Meta(ge=1, le=1000)] = 2


class Window(msgspec.Struct, kw_only=True):
    start: datetime
    end: datetime
    documents: int
    words: int


class TermTrend(msgspec.Struct, kw_only=True):
    term: str
    #: log2 of the later rate over the earlier (each smoothed): +1 doubled, -1 halved.
    score: float
    earlier_count: int
    later_count: int
    #: Occurrences per 1,000 words.
    earlier_rate: float
    later_rate: float


class Trends(msgspec.Struct, kw_only=True):
    earlier: Window
    later: Window
    rising: list[TermTrend]
    falling: list[TermTrend]


TRENDS = contract(
    "discovery_analytics",
    "trends",
    params=TrendsParams,
    result=Trends,
    description=(
        "Rising and falling terms (words and two-word phrases) between an earlier and a later window of "
        "timestamped documents, scored by the change of their rate per 1,000 words."
    ),
    example={
        "documents": [
            {"text": "Podcasts and newsletters grew this spring.", "at": "2026-03-01T10:00:00Z"},
            {"text": "Newsletters were everywhere; podcasts too.", "at": "2026-03-15T10:00:00Z"},
            {"text": "Short video took over. Short video everywhere.", "at": "2026-09-01T10:00:00Z"},
            {"text": "Everyone talks about short video and live streams.", "at": "2026-09-20T10:00:00Z"},
        ],
        "min_count": 1,
    },
    timeout_seconds=600,
)

Count = Annotated[int, Meta(ge=0)]


class PostCounts(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: DocumentId
    published_at: datetime | None = None
    impressions: Count
    likes: Count = 0
    comments: Count = 0
    shares: Count = 0
    saves: Count = 0
    clicks: Count = 0


class FollowerCount(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    at: datetime
    followers: Count


class EngagementParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    posts: Annotated[list[PostCounts], Meta(min_length=1, max_length=10_000)]
    #: The account's followers over time, for its growth.
    followers: Annotated[list[FollowerCount], Meta(max_length=10_000)] = []


class PostMetrics(msgspec.Struct, kw_only=True):
    id: str
    #: likes + comments + shares + saves.
    engagements: int
    #: engagements / impressions (0 when there were none).
    engagement_rate: float
    #: clicks / impressions.
    click_through_rate: float


class Growth(msgspec.Struct, kw_only=True):
    start: datetime
    end: datetime
    start_followers: int
    end_followers: int
    change: int
    change_percent: float | None
    #: The change per 7 days, at the same pace.
    per_week: float


class EngagementMetrics(msgspec.Struct, kw_only=True):
    posts: list[PostMetrics]
    impressions: int
    engagements: int
    #: All engagements over all impressions.
    engagement_rate: float
    median_engagement_rate: float
    click_through_rate: float
    best_post: str
    worst_post: str
    #: The later half's mean engagement rate against the earlier half's, in percent (posts with
    #: published_at, at least 4); None otherwise.
    engagement_trend_percent: float | None
    follower_growth: Growth | None


ENGAGEMENT_METRICS = contract(
    "discovery_analytics",
    "engagement_metrics",
    params=EngagementParams,
    result=EngagementMetrics,
    description=(
        "Engagement and click-through rates per post and overall, the best and worst post, the trend of the "
        "engagement rate over time and follower growth, from counts you supply."
    ),
    example={
        "posts": [
            {"id": "a", "impressions": 1200, "likes": 80, "comments": 12, "shares": 5, "clicks": 30},
            {"id": "b", "impressions": 900, "likes": 20, "comments": 2, "clicks": 4},
        ],
        "followers": [
            {"at": "2026-11-01T00:00:00Z", "followers": 1000},
            {"at": "2026-11-15T00:00:00Z", "followers": 1100},
        ],
    },
    timeout_seconds=300,
)
