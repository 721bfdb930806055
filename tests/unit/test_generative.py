"""Generative operations without a provider (the local composer), and the pure parts of the
provider path: prices and cost, SSE parsing, usage, error mapping, the key kept out."""

from __future__ import annotations

import typing
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import msgspec
import pytest

from actors import llm
from actors.engines import creative_assistant as ca
from actors.engines import text_intelligence as ti
from actors.sdk import JobContext, PermanentError, TransientError
from infra.settings import Settings, SettingsError, load_settings
from schemas.contracts import creative_assistant as cac
from schemas.contracts import social_media_planner as smp
from schemas.contracts import text_intelligence as tic
from schemas.generation import Usage, cost_of, parse_prices, price_of
from tests.unit.test_text_intelligence import SOLAR

KEY = "sk-test-0123456789abcdef-secret"


def ctx(engine: str = "text_intelligence", operation: str = "generate") -> JobContext:
    return JobContext(uuid.uuid4(), "t", engine, operation, 1)


def is_local(result: typing.Any) -> None:
    assert (result.provider, result.model, result.cost) == ("local", "local-composer", 0.0)
    assert result.usage.estimated and result.usage.completion_tokens > 0
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


# -- prices, settings --------------------------------------------------------------------------


def test_prices_parse_per_million_tokens_and_price_dated_models_by_prefix() -> None:
    prices = parse_prices(" gpt-4o-mini=0.15/0.60, gpt-4o=2.5/10 ")
    assert prices == {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.5, 10.0)}
    assert price_of(prices, "gpt-4o-mini-2024-07-18") == (0.15, 0.60)  # the longest prefix wins
    assert price_of(prices, "llama3") is None
    usage = Usage(prompt_tokens=1000, completion_tokens=500, total_tokens=1500)
    assert cost_of(usage, prices["gpt-4o-mini"]) == pytest.approx(0.00045)
    assert cost_of(usage, None) is None


@pytest.mark.parametrize("bad", ["gpt-4o-mini", "gpt=1", "gpt=a/b", "=1/2", "gpt=-1/2"])
def test_a_bad_price_is_a_settings_error_naming_the_variable(bad: str) -> None:
    with pytest.raises(SettingsError, match="CONVEYOR_LLM_PRICES"):
        load_settings({"CONVEYOR_LLM_PRICES": bad})


def test_a_provider_needs_a_model_and_an_http_url() -> None:
    with pytest.raises(SettingsError, match="llm_model"):
        load_settings({"CONVEYOR_LLM_URL": "http://127.0.0.1:11434/v1"})
    with pytest.raises(SettingsError, match="llm_url"):
        load_settings({"CONVEYOR_LLM_URL": "127.0.0.1:11434", "CONVEYOR_LLM_MODEL": "llama3"})


def test_the_api_key_never_shows_in_a_repr() -> None:
    settings = Settings(llm_url="http://127.0.0.1:1/v1", llm_model="m", llm_api_key=KEY)
    assert KEY not in repr(settings) and KEY not in str(settings)
    assert "llm_api_key='***'" in repr(settings)
    provider = llm.Provider("http://127.0.0.1:1/v1", "m", {}, 5.0, KEY)
    assert KEY not in repr(provider)


# -- the stream --------------------------------------------------------------------------------


def test_sse_events_join_their_data_lines_and_skip_comments() -> None:
    decoder = llm.SseDecoder()
    got = [decoder.feed(line) for line in [": keep-alive", "", 'data: {"a":', "data: 1}", "", "data: [DONE]", ""]]
    assert [g for g in got if g is not None] == ['{"a":\n1}', "[DONE]"]
    decoder.feed("data: last")
    assert decoder.flush() == "last"


def test_a_stream_gives_its_text_model_usage_and_cost() -> None:
    reader = llm.StreamReader()
    for data in [
        '{"model": "gpt-4o-mini-2024-07-18", "choices": [{"delta": {"role": "assistant"}}]}',
        '{"model": "gpt-4o-mini-2024-07-18", "choices": [{"delta": {"content": "Hello"}}]}',
        '{"model": "gpt-4o-mini-2024-07-18", "choices": [{"delta": {"content": " world"}, "finish_reason": "stop"}]}',
        '{"model": "gpt-4o-mini-2024-07-18", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 2}}',
    ]:
        reader.take(data)
    provider = llm.Provider("http://x/v1", "gpt-4o-mini", parse_prices("gpt-4o-mini=0.15/0.60"), 5.0)
    done = reader.completion(provider, [{"role": "user", "content": "Say hello"}])
    assert (done.text, done.model, done.finish_reason) == ("Hello world", "gpt-4o-mini-2024-07-18", "stop")
    assert done.usage == Usage(prompt_tokens=20, completion_tokens=2, total_tokens=22)
    assert done.cost == pytest.approx((20 * 0.15 + 2 * 0.60) / 1e6)


def test_without_usage_from_the_provider_tokens_are_estimated_and_say_so() -> None:
    reader = llm.StreamReader()
    reader.take('{"choices": [{"delta": {"content": "Twelve chars"}}]}')
    done = reader.completion(
        llm.Provider("http://x/v1", "local-llama", {}, 5.0), [{"role": "user", "content": "x" * 40}]
    )
    assert done.usage.estimated and done.usage.completion_tokens == 3 and done.usage.prompt_tokens == 14
    assert done.model == "local-llama" and done.cost is None  # no price configured: no cost claimed


def test_an_error_event_mid_stream_is_transient_without_the_key() -> None:
    with pytest.raises(TransientError) as caught:
        llm.StreamReader().take(f'{{"error": {{"message": "upstream overloaded for {KEY}"}}}}', KEY)
    assert KEY not in str(caught.value) and "overloaded" in str(caught.value)


def response(status: int, body: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, text=body, headers=headers, request=httpx.Request("POST", "http://x/v1"))


def test_provider_statuses_map_onto_the_error_taxonomy() -> None:
    limited = llm.status_error(
        response(429, '{"error": {"message": "Rate limit reached"}}', **{"Retry-After": "2"}), KEY
    )
    assert isinstance(limited, TransientError) and limited.retry_in == 2.0 and "Rate limit reached" in str(limited)
    for status in (500, 502, 503, 408):
        assert isinstance(llm.status_error(response(status, "busy"), KEY), TransientError)
    for status in (400, 401, 403, 404, 422):
        assert isinstance(llm.status_error(response(status, "{}"), KEY), PermanentError)


def test_a_refusal_echoing_the_key_keeps_it_out_of_the_error() -> None:
    masked = f"{KEY[:7]}****{KEY[-4:]}"
    body = f'{{"error": {{"message": "Incorrect API key provided: {masked}. Also {KEY}."}}}}'
    refused = llm.status_error(response(401, body), KEY)
    assert isinstance(refused, PermanentError) and "401" in str(refused) and "Incorrect API key" in str(refused)
    assert KEY not in str(refused) and KEY[-4:] not in str(refused) and KEY[:6] not in str(refused)


def test_retry_after_takes_seconds_or_a_date_and_is_capped() -> None:
    assert llm.retry_after("3") == 3.0 and llm.retry_after(None) is None and llm.retry_after("soon") is None
    assert llm.retry_after("999999") == llm.MAX_RETRY_AFTER
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (llm.retry_after(later) or 0) <= 31


def test_a_json_answer_is_found_inside_code_fences() -> None:
    done = llm.Completion('Sure!\n```json\n{"ideas": [{"title": "A"}]}\n```', "m", Usage(prompt_tokens=1,
                          completion_tokens=1, total_tokens=2), None, "stop")  # fmt: skip
    assert llm.json_answer(done) == {"ideas": [{"title": "A"}]}
    cut = llm.Completion('{"ideas": [{"title": "A"', "m", done.usage, None, "length")
    with pytest.raises(PermanentError, match="token limit"):
        llm.json_answer(cut)


# -- text_intelligence.generate and transform, locally -----------------------------------------


def test_a_local_blog_post_is_built_from_the_source_and_says_it_is_local() -> None:
    p = tic.GenerateParams(kind="blog_post", topic="home solar", source=SOLAR, tone="professional",
                           audience="homeowners", length="short")  # fmt: skip
    post = ti.generate(ctx(), p)
    is_local(post)
    assert post.title == "Home solar: an overview for homeowners"
    assert post.text.startswith("# Home solar: an overview for homeowners\n\n")
    assert post.text.count("\n## ") == 3  # two sections and the closing
    assert "Batteries store solar electricity for the evening" in post.text  # the most central sentence
    assert "cat" not in post.text
    assert ti.generate(ctx(), p) == post  # the same inputs, the same text


def test_a_local_caption_and_script_follow_their_kind() -> None:
    caption = ti.generate(ctx(), tic.GenerateParams(kind="caption", topic="home solar", source=SOLAR, tone="playful"))
    body, tags = caption.text.split("\n\n")
    assert body.startswith("Stop scrolling: home solar just got interesting.") and caption.title is None
    assert tags.split()[0] == "#HomeSolar" and all(t.startswith("#") for t in tags.split())
    script = ti.generate(ctx(), tic.GenerateParams(kind="script", topic="home solar", length="long"))
    lines = script.text.split("\n")
    assert lines[0].startswith("[HOOK] ") and lines[-1].startswith("[CLOSE] ")
    assert [line.split("]")[0] for line in lines[1:-1]] == [f"[SCENE {i}" for i in range(1, 7)]


def test_a_local_rewrite_changes_tone_by_rules_and_fits_the_platform() -> None:
    casual = "Hey guys! We're gonna ship the new dashboard tomorrow!! It's awesome. " * 8
    done = ti.transform(ctx(operation="transform"), tic.TransformParams(text=casual, tone="professional", platform="x"))
    is_local(done)
    assert done.text.startswith("Hello everyone. We are going to ship the new dashboard tomorrow.")
    assert "!" not in done.text and "gonna" not in done.text
    assert done.limit == 280 and done.length is not None and done.length <= 280
    assert "cut to fit 280 characters" in done.changes and "expanded 16 contractions" in done.changes
    friendly = ti.transform(ctx(operation="transform"), tic.TransformParams(text="We will utilize it. It is done.",
                                                                            tone="friendly"))  # fmt: skip
    assert friendly.text == "We'll use it. It's done."


def test_translation_without_a_provider_fails_saying_why() -> None:
    with pytest.raises(PermanentError, match="CONVEYOR_LLM_URL"):
        ti.transform(ctx(operation="transform"), tic.TransformParams(text="Good morning.", language="fr"))


def test_transform_params_need_something_to_do() -> None:
    with pytest.raises(msgspec.ValidationError, match="at least one of tone, language or platform"):
        msgspec.convert({"text": "Hello."}, tic.TransformParams)


def test_the_platforms_are_social_media_planners() -> None:
    assert typing.get_args(tic.Platform) == smp.PLATFORM_NAMES


# -- creative_assistant, locally ---------------------------------------------------------------


def test_local_brainstorm_gives_n_distinct_ideas_one_per_angle_in_turn() -> None:
    p = cac.BrainstormParams(topic="home solar", n=14, source=SOLAR, audience="homeowners")
    ideas = ca.brainstorm(ctx("creative_assistant", "brainstorm"), p)
    is_local(ideas)
    assert [i.angle for i in ideas.ideas[:12]] == list(cac.ANGLES) and ideas.ideas[12].angle == "how-to"
    assert len({i.title for i in ideas.ideas}) == 14
    assert ideas.ideas[0].title == "How to get started with home solar"
    assert "homeowners" in ideas.ideas[0].text and "moving parts" in ideas.ideas[0].text  # a key phrase of the source
    own = ca.brainstorm(ctx("creative_assistant", "brainstorm"),
                        cac.BrainstormParams(topic="home solar", n=2, angles=["the installer's view"]))  # fmt: skip
    assert own.ideas[0].title == "Home solar: the installer's view"


def test_a_local_outline_has_the_kinds_opening_and_closing_and_the_sources_points() -> None:
    outline = ca.outline(ctx("creative_assistant", "outline"),
                         cac.OutlineParams(topic="home solar", kind="talk", sections=5, source=SOLAR))  # fmt: skip
    is_local(outline)
    headings = [s.heading for s in outline.sections]
    assert len(headings) == 5 and headings[0] == "Opening" and headings[-1] == "Closing and Q&A"
    points = [p for s in outline.sections[1:-1] for p in s.points]
    assert "Solar panels turn sunlight into electricity without moving parts." in points


def test_local_refine_applies_the_feedback_and_ranks_the_best_fit_first() -> None:
    p = msgspec.convert({
        "suggestions": ["Five onboarding myths we should totally stop believing",
                        {"title": "How to onboard remotely: a complete and exhaustive guide",
                         "text": "A guide to the first week. It's gonna cover laptops, accounts and buddies."}],
        "feedback": "shorter, more professional, focus on the first week",
    }, cac.RefineParams)  # fmt: skip
    refined = ca.refine(ctx("creative_assistant", "refine"), p)
    is_local(refined)
    best, other = refined.suggestions
    assert best.source_index == 1  # it already speaks of the first week
    assert (best.title, best.text) == ("How to onboard remotely", "A guide to the first week.")
    assert "shortened" in best.changes and any(c.startswith("professional tone") for c in best.changes)
    assert other.text.endswith("It puts the first week first.") and "brought the first week forward" in other.changes


def test_refine_takes_brainstorm_ideas_and_its_own_results_to_iterate() -> None:
    ideas = ca.brainstorm(ctx("creative_assistant", "brainstorm"), cac.BrainstormParams(topic="home solar", n=3))
    first = msgspec.convert({"suggestions": msgspec.to_builtins(ideas.ideas), "feedback": "avoid jargon, for renters",
                             "keep": 2}, cac.RefineParams)  # fmt: skip
    once = ca.refine(ctx("creative_assistant", "refine"), first)
    assert len(once.suggestions) == 2 and all(s.text.endswith("Written for renters.") for s in once.suggestions)
    again = msgspec.convert({"suggestions": msgspec.to_builtins(once.suggestions), "feedback": "shorter"},
                            cac.RefineParams)  # fmt: skip
    twice = ca.refine(ctx("creative_assistant", "refine"), again)
    assert all(len(s.text.split()) <= 20 and "renters" not in s.text for s in twice.suggestions)
