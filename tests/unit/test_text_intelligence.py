"""The text_intelligence engine's local operations, on fixed texts whose answers a reader knows."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from actors import text as text_lib
from actors.engines import text_intelligence as ti
from actors.sdk import JobCancelled, JobContext, PermanentError
from schemas.contracts.text_intelligence import (
    DetectLanguageParams,
    KeywordsParams,
    ReadabilityParams,
    SentimentParams,
    SummarizeParams,
)

SOLAR = (
    "Solar panels turn sunlight into electricity without moving parts. "
    "The price of solar panels has fallen by almost ninety percent in a decade. "
    "My neighbour's cat likes to sleep on warm car roofs. "
    "Cheaper solar panels mean that solar electricity now undercuts coal in most countries. "
    "Batteries store solar electricity for the evening, when panels produce nothing. "
    "Grid operators plan for solar electricity and batteries together."
)


def ctx(operation: str = "summarize") -> JobContext:
    return JobContext(uuid.uuid4(), "t", "text_intelligence", operation, 1)


def test_a_summary_keeps_the_central_sentences_in_their_order() -> None:
    summary = ti.summarize(ctx(), SummarizeParams(text=SOLAR, max_sentences=3))
    assert summary.sentence_count == 6
    assert len(summary.sentences) == 3
    # the aside about the cat is the least central sentence: never kept
    assert all("cat" not in s.text for s in summary.sentences)
    indexes = [s.index for s in summary.sentences]
    assert indexes == sorted(indexes)
    assert summary.summary == " ".join(s.text for s in summary.sentences)
    # the sentences that share the text's subject (solar electricity, panels) rank above the aside
    scores = text_lib.textrank(text_lib.sentences_of(SOLAR))
    assert scores.sum() == pytest.approx(1.0)
    assert scores.argmin() == 2


def test_a_summary_length_follows_max_sentences_or_ratio_whichever_is_shorter() -> None:
    assert len(ti.summarize(ctx(), SummarizeParams(text=SOLAR, ratio=0.5)).sentences) == 3
    assert len(ti.summarize(ctx(), SummarizeParams(text=SOLAR, ratio=0.5, max_sentences=2)).sentences) == 2
    assert len(ti.summarize(ctx(), SummarizeParams(text=SOLAR)).sentences) == ti.DEFAULT_SENTENCES
    assert len(ti.summarize(ctx(), SummarizeParams(text="Only one sentence here.", max_sentences=5)).sentences) == 1


def test_bad_summary_params_are_refused_by_the_contract() -> None:
    for params in ({"text": ""}, {"text": "x", "ratio": 0}, {"text": "x", "max_sentences": 0}, {"text": "x", "n": 1}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(params, SummarizeParams)


def test_a_text_without_words_fails_permanently() -> None:
    with pytest.raises(PermanentError, match="no words"):
        ti.summarize(ctx(), SummarizeParams(text="12 34 !!!"))


def test_a_cancelled_summary_stops() -> None:
    cancelled = ctx()
    cancelled.cancel()
    with pytest.raises(JobCancelled):
        ti.summarize(cancelled, SummarizeParams(text=SOLAR))


def test_sentiment_of_a_review_and_of_each_sentence() -> None:
    glowing = ti.sentiment(
        ctx(), SentimentParams(text="I absolutely love this app. It works perfectly and support was wonderful!")
    )
    assert glowing.label == "positive" and glowing.compound > 0.8
    scathing = ti.sentiment(ctx(), SentimentParams(text="Worst purchase ever. It is broken, slow and useless."))
    assert scathing.label == "negative" and scathing.compound < -0.5
    mixed = ti.sentiment(ctx(), SentimentParams(text="The new dashboard is great. The docs were terrible."))
    assert [s.label for s in mixed.sentences] == ["positive", "negative"]
    assert mixed.positive + mixed.negative + mixed.neutral == pytest.approx(1.0, abs=0.01)
    assert ti.sentiment(ctx(), SentimentParams(text="The meeting is at noon in room four.")).label == "neutral"


def test_keywords_name_the_subject_most_relevant_first() -> None:
    found = ti.keywords(ctx(), KeywordsParams(text=SOLAR, top=5, max_words=2))
    assert len(found.keywords) == 5
    assert found.keywords[0].relevance == 1.0
    relevances = [k.relevance for k in found.keywords]
    assert relevances == sorted(relevances, reverse=True)
    assert any("solar" in k.keyword.lower() for k in found.keywords[:3])
    assert all(len(k.keyword.split()) <= 2 for k in found.keywords)


def test_readability_tells_a_primer_from_a_contract() -> None:
    primer = ti.readability(ctx(), ReadabilityParams(text="The cat sat on the mat. The dog ran to the cat."))
    assert (primer.sentences, primer.words) == (2, 12)
    assert primer.difficulty == "very easy" and primer.flesch_reading_ease > 90
    legal = ti.readability(
        ctx(),
        ReadabilityParams(
            text=(
                "Notwithstanding any provision hereinabove, the indemnifying party's aggregate liability "
                "shall not exceed the consideration contractually remunerated during the preceding "
                "twelve-month administrative period, irrespective of the jurisdictional characterisation."
            )
        ),
    )
    assert legal.flesch_reading_ease < 30 and legal.difficulty == "very difficult"
    assert legal.flesch_kincaid_grade > primer.flesch_kincaid_grade + 10
    assert legal.complex_words > 10
    assert legal.reading_time_seconds == pytest.approx(legal.words / 238 * 60, abs=0.1)


def test_syllables_come_from_hyphenation() -> None:
    assert [ti.syllables(w) for w in ("cat", "table", "beautiful", "readability")] == [1, 2, 3, 4]


def test_languages_are_told_apart_the_same_way_every_time() -> None:
    texts = {
        "en": "The night shift finished the work and the report will be sent tomorrow morning.",
        "fr": "Les travaux de nuit sont terminés et le rapport sera envoyé demain matin.",
        "de": "Die Nachtschicht hat die Arbeit beendet und der Bericht wird morgen früh verschickt.",
        "es": "El turno de noche terminó el trabajo y el informe se enviará mañana por la mañana.",
    }
    for language, text in texts.items():
        first = ti.detect_language(ctx(), DetectLanguageParams(text=text))
        assert first.language == language and first.probability > 0.9
        assert ti.detect_language(ctx(), DetectLanguageParams(text=text)) == first
    with pytest.raises(PermanentError, match="no language"):
        ti.detect_language(ctx(), DetectLanguageParams(text="1234 5678 !!!"))
