"""The social_media_planner engine: posts that fit each platform, hashtags, posting slots."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from actors import platforms
from actors.engines import social_media_planner as sm
from actors.sdk import JobContext
from schemas.contracts.social_media_planner import (
    HashtagsParams,
    OptimizePostParams,
    PastPost,
    PostingPlanParams,
)

LONG = " ".join(
    ["Our queue keeps every job, retries what fails, and shows progress as it happens."] * 60
)  # about 4,900 characters: too long for X, Instagram and TikTok


def ctx() -> JobContext:
    return JobContext(uuid.uuid4(), "t", "social_media_planner", "optimize_post", 1)


def test_every_post_fits_its_platform_with_its_share_of_hashtags() -> None:
    posts = sm.optimize_post(ctx(), OptimizePostParams(text=LONG, link="https://example.com/queue")).posts
    assert [p.platform for p in posts] == ["x", "linkedin", "instagram", "tiktok", "facebook"]
    for post in posts:
        rules = sm.RULES[post.platform]
        assert post.length == platforms.length_on(rules, post.text) <= post.limit == rules.limit
        assert 1 <= len(post.hashtags) <= rules.hashtags
        assert "https://example.com/queue" in post.text and "Learn more:" in post.text
    by = {p.platform: p for p in posts}
    assert by["x"].shortened and by["instagram"].shortened and by["tiktok"].shortened
    assert not by["facebook"].shortened and by["facebook"].text.startswith(LONG)
    # shortened at a sentence end
    assert by["x"].text.split(" Learn more:")[0].endswith(".")


def test_x_counts_links_as_23_and_wide_characters_twice() -> None:
    assert platforms.x_length("see https://example.com/" + "a" * 100) == 4 + 23
    assert platforms.x_length("日本語") == 6 and platforms.x_length("abc") == 3
    post = sm.optimize_post(
        ctx(), OptimizePostParams(text="日本語のテキストです。" * 40, platforms=["x"], cta="none")
    ).posts[0]
    body = post.text.split(" #")[0]
    assert post.shortened and 250 < post.length <= 280
    assert body.startswith("日本語のテキストです。") and body.endswith(("。", platforms.ELLIPSIS))
    assert platforms.x_length(post.text) == post.length


def test_given_hashtags_and_calls_to_action_are_used_as_given() -> None:
    post = sm.optimize_post(
        ctx(),
        OptimizePostParams(
            text="We shipped dark mode.", platforms=["linkedin"], hashtags=["DarkMode", "#UX", "#UX"],
            call_to_action="Try it today.",
        ),
    ).posts[0]  # fmt: skip
    assert post.text == "We shipped dark mode.\n\nTry it today.\n\n#DarkMode #UX"
    assert post.hashtags == ["#DarkMode", "#UX"] and post.call_to_action == "Try it today."
    bare = sm.optimize_post(
        ctx(), OptimizePostParams(text="We shipped dark mode.", platforms=["x"], hashtags=["UX"], cta="none")
    )
    assert bare.posts[0].text == "We shipped dark mode. #UX" and bare.posts[0].call_to_action is None


def test_hashtags_come_from_the_key_phrases_in_camel_case() -> None:
    text = "Dark mode is here. Dark mode saves battery, and dark mode is easier on the eyes at night."
    tags = sm.hashtags(ctx(), HashtagsParams(text=text, count=3)).hashtags
    assert tags[0].hashtag == "#DarkMode" and tags[0].relevance == 1.0
    assert len({t.hashtag.lower() for t in tags}) == len(tags) <= 3
    assert all(t.hashtag.startswith("#") and " " not in t.hashtag for t in tags)


def history(best: tuple[int, int], lucky: tuple[int, int]) -> list[PastPost]:
    """Four weeks of posts at three hours a day; `best` (weekday, UTC hour) does best, and one
    post at `lucky` did twice as well once."""
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    posts = []
    for week in range(4):
        for day in range(7):
            for hour in (8, 13, 18):
                good = (day, hour) == best
                when = monday + timedelta(days=7 * week + day, hours=hour)
                posts.append(PastPost(posted_at=when, engagement=100.0 if good else 20.0))
    posts.append(PastPost(posted_at=monday + timedelta(days=lucky[0], hours=lucky[1]), engagement=200.0))
    return posts


def test_a_plan_from_history_prefers_the_steady_slot_to_one_lucky_post() -> None:
    p = PostingPlanParams(platform="linkedin", history=history(best=(1, 8), lucky=(6, 3)), timezone="Europe/Berlin")
    plan = sm.posting_plan(ctx(), p)
    assert plan.basis == "history" and len(plan.slots) == 3
    first = plan.slots[0]
    # Tuesday 08:00 UTC is 09:00 in Berlin in November
    assert (first.weekday, first.hour, first.posts) == ("tuesday", 9, 4)
    assert plan.slots[1].weekday == "sunday" and plan.slots[1].posts == 1  # the lucky one, below
    scores = [s.score for s in plan.slots]
    assert scores == sorted(scores, reverse=True)


def test_without_enough_history_the_plan_is_the_platforms_default_and_says_so() -> None:
    plan = sm.posting_plan(ctx(), PostingPlanParams(platform="tiktok", slots=10))
    assert plan.basis == "default" and "Fewer than 10 past posts" in plan.explanation
    assert (plan.slots[0].weekday, plan.slots[0].hour) == ("tuesday", 19)
    assert len(plan.slots) == 10 and len({(s.weekday, s.hour) for s in plan.slots}) == 10


def test_the_contract_refuses_an_unknown_time_zone_and_platform() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown time zone"):
        msgspec.convert({"platform": "x", "timezone": "Mars/Olympus"}, PostingPlanParams)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"platform": "myspace"}, PostingPlanParams)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"text": "hi", "hashtags": ["two words"]}, OptimizePostParams)
