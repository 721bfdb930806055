"""The discovery_analytics engine: tags and categories, rising and falling terms, engagement."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from actors.engines import discovery_analytics as da
from actors.sdk import JobContext, PermanentError
from schemas.contracts.discovery_analytics import (
    DatedDocument,
    Document,
    EngagementParams,
    FollowerCount,
    PostCounts,
    TagContentParams,
    TrendsParams,
)


def ctx() -> JobContext:
    return JobContext(uuid.uuid4(), "t", "discovery_analytics", "tag_content", 1)


def test_documents_get_their_tags_and_categories_and_the_batch_its_shared_tags() -> None:
    docs = [
        Document(id="tech", text="The phone update brings a faster battery charge and new cloud backup for the app."),
        Document(id="money", text="The bank raised interest rates again, and inflation slowed the stock market."),
        Document(id="race", text="The marathon champion won the race in a sprint finish; her coach cheered."),
        Document(id="phones", text="Another phone update: the cloud backup now covers every app on the phone."),
    ]
    tagged = da.tag_content(ctx(), TagContentParams(documents=docs, tags=4))
    by = {d.id: d for d in tagged.documents}
    assert by["tech"].categories[0].category == "technology" and by["tech"].categories[0].score == 1.0
    assert by["money"].categories[0].category == "finance"
    assert by["race"].categories[0].category == "sports"
    assert all(1 <= len(d.tags) <= 4 for d in tagged.documents)
    # the two documents about phone updates share a tag, which leads the batch's
    assert tagged.top_tags[0].documents == 2
    assert tagged.top_tags[0].tag in {t.tag for t in by["tech"].tags} & {t.tag for t in by["phones"].tags}


def test_own_categories_replace_the_taxonomy() -> None:
    docs = [Document(id="1", text="Our espresso blend and the new oat milk latte sell out by noon.")]
    own = {"drinks": ["espresso", "latte", "milk"], "weather": ["rain", "sun"]}
    tagged = da.tag_content(ctx(), TagContentParams(documents=docs, categories=own))
    assert [c.category for c in tagged.documents[0].categories] == ["drinks"]


def test_trends_find_what_rose_and_what_fell() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    early = ["Newsletters keep readers close. Newsletters and blogs grew.", "Blogs and newsletters ruled the spring."]
    late = [
        "Short video took over the feeds.",
        "Everyone makes short video now; newsletters fade.",
        "Short video wins.",
    ]
    documents = [DatedDocument(text=t, at=start + timedelta(days=i)) for i, t in enumerate(early)]
    documents += [DatedDocument(text=t, at=start + timedelta(days=100 + i)) for i, t in enumerate(late)]
    found = da.trends(ctx(), TrendsParams(documents=documents, min_count=2))
    assert (found.earlier.documents, found.later.documents) == (2, 3)
    assert found.rising[0].term in {"short video", "short", "video"} and found.rising[0].later_count == 3
    assert "newsletters" in {t.term for t in found.falling}
    assert all(t.score > 0 for t in found.rising) and all(t.score < 0 for t in found.falling)
    newsletters = next(t for t in found.falling if t.term == "newsletters")
    assert newsletters.earlier_count == 3 and newsletters.later_count == 1


def test_trends_need_documents_on_both_sides_of_the_split() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    documents = [DatedDocument(text="one", at=at), DatedDocument(text="two", at=at + timedelta(days=1))]
    with pytest.raises(PermanentError, match="one side"):
        da.trends(ctx(), TrendsParams(documents=documents, split_at=at + timedelta(days=5)))


def test_engagement_rates_trend_and_follower_growth() -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    posts = [
        PostCounts(id=f"p{i}", published_at=at + timedelta(days=i), impressions=1000, likes=likes, clicks=10)
        for i, likes in enumerate([20, 20, 40, 40])
    ]
    followers = [FollowerCount(at=at, followers=2000), FollowerCount(at=at + timedelta(days=14), followers=2100)]
    figures = da.engagement_metrics(ctx(), EngagementParams(posts=posts, followers=followers))
    assert [m.engagement_rate for m in figures.posts] == [0.02, 0.02, 0.04, 0.04]
    assert figures.engagement_rate == 0.03 and figures.click_through_rate == 0.01
    assert figures.engagement_trend_percent == 100.0  # the later half doubled the earlier's rate
    assert figures.best_post in {"p2", "p3"} and figures.worst_post in {"p0", "p1"}
    growth = figures.follower_growth
    assert growth is not None and (growth.change, growth.change_percent, growth.per_week) == (100, 5.0, 50.0)
    alone = da.engagement_metrics(ctx(), EngagementParams(posts=[PostCounts(id="x", impressions=0, likes=3)]))
    assert alone.engagement_rate == 0.0 and alone.engagement_trend_percent is None and alone.follower_growth is None


def test_the_contract_refuses_negative_counts_and_a_single_document() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"posts": [{"id": "a", "impressions": -1}]}, EngagementParams)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"documents": [{"text": "x", "at": "2026-01-01T00:00:00Z"}]}, TrendsParams)
