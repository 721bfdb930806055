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

from actors import creative_composer as local
from actors import creative_refine, llm
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
    assert type(limited).__name__ == "ProviderRateLimited"
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


def example(c: typing.Any, params: type[typing.Any], **more: typing.Any) -> typing.Any:
    return msgspec.convert({**c.example, **more}, params)


def test_local_brainstorm_gives_n_distinct_ideas_one_per_angle_in_turn() -> None:
    p = cac.BrainstormParams(topic="home solar", n=14, source=SOLAR, audience="homeowners")
    ideas = ca.brainstorm(ctx("creative_assistant", "brainstorm"), p)
    is_local(ideas)
    assert [i.angle for i in ideas.ideas[:12]] == list(cac.ANGLES) and ideas.ideas[12].angle == "how-to"
    assert len({i.title for i in ideas.ideas}) == 14 and len({i.text for i in ideas.ideas}) == 14
    assert ideas.ideas[0].title == "How to get started with home solar"
    assert ideas.ideas[0].text == (
        "A practical, step-by-step guide for homeowners, starting with solar panels and working up to "
        "solar electricity."
    )  # the source's key phrases, repeated in it, not the topic's own words
    numbers = next(i for i in ideas.ideas if i.angle == "by the numbers")
    assert numbers.text.startswith("The price of solar panels has fallen by almost ninety percent in a decade.")
    assert not any("cat" in i.text or "cheaper solar" in i.text for i in ideas.ideas)
    own = ca.brainstorm(ctx("creative_assistant", "brainstorm"),
                        cac.BrainstormParams(topic="home solar", n=2, angles=["the installer's view"]))  # fmt: skip
    assert own.ideas[0].title == "Home solar: the installer's view"


def test_brainstorm_without_a_source_pitches_distinct_sentences_naming_the_topic_once() -> None:
    ideas = ca.brainstorm(ctx("creative_assistant", "brainstorm"), example(cac.BRAINSTORM, cac.BrainstormParams))
    assert ideas.ideas[1].text == (
        "Seven short, skimmable points on remote onboarding, each one something engineering managers "
        "can act on the same day."
    )  # was "Short, skimmable points on remote onboarding, from remote onboarding to remote onboarding."
    every = ca.brainstorm(ctx("creative_assistant", "brainstorm"), cac.BrainstormParams(topic="remote onboarding",
                          n=24)).ideas  # fmt: skip
    assert len({i.text for i in every}) == 24 and len({i.title for i in every}) == 24
    for idea in every:
        assert idea.text.lower().count("remote onboarding") <= 1, idea.text
        assert idea.text.endswith(".") and "{" not in idea.text and "everyone" not in idea.text
    assert every[12].title == "How to get started with remote onboarding (the deep dive)"
    assert every[12].text.startswith("A longer version, with worked examples: a practical, step-by-step guide on")


def test_brainstorm_titles_read_with_a_topic_that_is_a_clause() -> None:
    ideas = ca.brainstorm(ctx("creative_assistant", "brainstorm"),
                          cac.BrainstormParams(topic="why background jobs need retries", n=12)).ideas  # fmt: skip
    titles = [i.title for i in ideas]
    assert titles[0] == "Why background jobs need retries: a step-by-step guide"
    assert "Why background jobs need retries: one team's story" in titles
    assert not any(t.startswith(("How to get started with why", "How one team made why", "The why")) for t in titles)


def test_a_local_outline_has_the_kinds_opening_and_closing_and_the_sources_points() -> None:
    outline = ca.outline(ctx("creative_assistant", "outline"),
                         cac.OutlineParams(topic="home solar", kind="talk", sections=5, source=SOLAR))  # fmt: skip
    is_local(outline)
    headings = [s.heading for s in outline.sections]
    assert headings == ["Opening", "Solar panels", "Solar electricity", "The problem", "Closing and Q&A"]
    assert outline.sections[1].points == [
        "Cheaper solar panels mean that solar electricity now undercuts coal in most countries.",
        "Solar panels turn sunlight into electricity without moving parts.",
    ]  # the central sentences mentioning the section's key phrase, each used once
    assert all("solar electricity" in p.lower() for p in outline.sections[2].points)
    assert "Why home solar matters to the audience" in outline.sections[0].points


def test_an_outline_reads_with_a_question_for_a_topic() -> None:
    title, sections = local.outline_locally(example(cac.OUTLINE, cac.OutlineParams))
    assert title == "Why background jobs need retries: lessons learned"
    said = [title] + [s.heading for s in sections] + [p for s in sections for p in s.points]
    assert not any("why why" in x.lower() or "What why" in x or "retries is" in x for x in said), said
    assert sections[0].points[1] == "The question it answers: why background jobs need retries"
    assert [s.heading for s in sections] == ["Opening", "The problem", "The idea", "Closing and Q&A"]
    _, how = local.outline_locally(cac.OutlineParams(topic="how to onboard remote engineers", kind="video_script",
                                                     audience="engineering managers"))  # fmt: skip
    assert how[0].points[1] == "The promise: by the end, engineering managers know how to onboard remote engineers"


def test_outline_sections_follow_the_kind() -> None:
    def headings(kind: typing.Any) -> list[str]:
        return [s.heading for s in local.outline_locally(cac.OutlineParams(topic="home solar", kind=kind,
                                                                           sections=6))[1]]  # fmt: skip

    assert headings("report") == ["Summary", "Background", "Method", "Findings", "Risks", "Recommendations"]
    assert headings("newsletter")[:3] == ["This issue", "The big story", "Quick hits"]
    assert headings("video_script")[1:3] == ["The problem", "The explanation"]
    assert headings("blog_post")[1] == "The short answer" and len(set(headings("talk"))) == 6


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
    assert best.changes == [
        "professional tone: expanded 1 contraction, replaced 1 casual word",
        "shortened the text to 6 words",
        "shortened the title",
    ]
    assert other.text == "Five onboarding myths, starting with the first week"  # cut where no small word dangles
    assert other.changes == [
        "professional tone: dropped 1 intensifier",
        "shortened the text to 3 words",
        "worked the first week into the text",
    ]


def test_refine_of_the_contract_example_changes_what_it_says_it_changes() -> None:
    refined = ca.refine(ctx("creative_assistant", "refine"), example(cac.REFINE, cac.RefineParams)).suggestions
    first, second = refined
    assert (first.source_index, first.title) == (0, "How to onboard remotely")
    assert first.text == "A step-by-step guide to the first week."  # was unchanged, yet "professional tone"
    assert first.changes == ["professional tone: dropped 1 intensifier", "shortened the text to 7 words"]
    assert second.text == "Five onboarding myths to stop believing, starting with the first week"
    assert "totally" not in second.text and "It puts" not in second.text
    assert len(second.text.split()) < len(cac.REFINE.example["suggestions"][1].split()) + 4
    given = ["A step-by-step guide to the first week, really simple.", cac.REFINE.example["suggestions"][1]]
    for was, now in zip(given, refined, strict=True):
        assert len(now.text.split()) < len(was.split()) or now.text.endswith("the first week")


def test_shorter_makes_every_text_shorter_at_a_word_boundary() -> None:
    long = ("We are basically going to walk through the whole onboarding process in order to make sure that "
            "every new engineer feels welcome, productive and supported from their very first day onwards")  # fmt: skip
    for text in [long, "A guide to the first week, really simple.", "One. Two three four five six."]:
        done = local.refine_locally(cac.RefineParams(suggestions=[text], feedback="shorter"))[0]
        assert len(done.text.split()) < len(text.split()) and done.changes[0].startswith("shortened the text")
        assert done.text.split()[-1].lower().strip(".") not in {"to", "the", "that", "and", "from", "their"}
        assert len(done.text.split()) <= creative_refine.MAX_SHORT_WORDS
    assert local.refine_locally(cac.RefineParams(suggestions=["Onboarding, done right"], feedback="shorter"))[
        0
    ].changes == ["unchanged: it already meets the feedback"]  # nothing to cut, and not said to be cut


def test_professional_drops_intensifiers_and_casual_words_and_says_only_what_changed() -> None:
    p = cac.RefineParams(suggestions=["This is really super awesome stuff, totally worth it!", "A plain guide."],
                         feedback="more professional")  # fmt: skip
    toned, plain = local.refine_locally(p)
    assert toned.text == "This is excellent material, worth it."
    assert not any(w in toned.text.lower() for w in ("really", "super", "totally", "awesome", "stuff"))
    assert plain.text == "A plain guide." and plain.changes == ["unchanged: it already meets the feedback"]


def test_focus_moves_the_sentence_on_it_first_or_works_it_into_the_title() -> None:
    moved = local.refine_locally(cac.RefineParams(suggestions=["A guide. It covers laptops. The first week matters."],
                                                  feedback="focus on the first week"))[0]  # fmt: skip
    assert moved.text == "The first week matters. A guide. It covers laptops."
    assert moved.changes == ["moved the sentence on the first week first"]
    titled = local.refine_locally(cac.RefineParams(suggestions=[cac.Suggestion(title="Remote onboarding",
                                  text="Laptops, accounts, buddies.")], feedback="focus on pricing"))[0]  # fmt: skip
    assert (titled.title, titled.text) == ("Remote onboarding: pricing", "Laptops, accounts, buddies.")


def test_refine_ranks_by_how_well_each_now_meets_the_feedback() -> None:
    p = cac.RefineParams(suggestions=["Laptops and accounts for new hires.", "Plan the first week with a buddy."],
                         feedback="focus on the first week")  # fmt: skip
    assert [s.source_index for s in local.refine_locally(p)] == [1, 0]
    p = cac.RefineParams(suggestions=["Totally awesome onboarding.", "Clear onboarding."], feedback="avoid onboarding")
    assert all("onboarding" not in s.text for s in local.refine_locally(p))


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
