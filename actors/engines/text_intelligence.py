"""The `text_intelligence` engine's analysis operations, run locally: no model, no network
(contracts in schemas/contracts/text_intelligence.py).

- summarize: TextRank over the TF-IDF cosine similarity of the text's sentences (numpy);
- sentiment: VADER (vaderSentiment), for the text and each sentence;
- keywords: YAKE (yake);
- readability: the classic formulas over counts, syllables by hyphenation (pyphen);
- detect_language: langdetect, seeded so that a text always gets the same answer;
- generate, transform: the configured provider (actors/llm.py), or the local composer
  (actors/composer.py) when there is none.

Sentences are split by segtok. The libraries' tables (VADER's lexicon, the hyphenation
dictionary, langdetect's profiles) load once per process, on first use.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from functools import cache

import numpy as np
import pyphen
from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from actors import composer, llm
from actors.platforms import RULES
from actors.provider_errors import ProviderBadAnswer
from actors.sdk import JobContext, PermanentError, operation
from actors.text import key_phrases, sentences_of, textrank, words_of
from schemas.contracts.text_intelligence import (
    DETECT_LANGUAGE,
    GENERATE,
    KEYWORDS,
    READABILITY,
    SENTIMENT,
    SUMMARIZE,
    TRANSFORM,
    DetectedLanguage,
    DetectLanguageParams,
    Difficulty,
    GeneratedText,
    GenerateParams,
    Keyword,
    Keywords,
    KeywordsParams,
    LanguageGuess,
    RankedSentence,
    Readability,
    ReadabilityParams,
    SentenceSentiment,
    Sentiment,
    SentimentLabel,
    SentimentParams,
    SummarizeParams,
    Summary,
    TransformedText,
    TransformParams,
)
from schemas.generation import estimate_tokens

#: Summary length when the params name none.
DEFAULT_SENTENCES = 3
#: VADER's thresholds for a label.
POSITIVE, NEGATIVE = 0.05, -0.05
#: Words a minute, for the reading time.
READING_SPEED = 238
#: How often (in items) a long loop reports progress and looks for cancellation.
STEP = 50


def _sentences_or_fail(text: str) -> list[str]:
    sentences = [s for s in sentences_of(text) if words_of(s)]
    if not sentences:
        raise PermanentError("the text has no words to work on")
    return sentences


# -- summarize ------------------------------------------------------------------------------


def summary_length(p: SummarizeParams, n: int) -> int:
    """How many sentences the summary keeps: the smaller of what max_sentences and ratio say."""
    wanted = [p.max_sentences] if p.max_sentences is not None else []
    if p.ratio is not None:
        wanted.append(max(1, math.ceil(p.ratio * n)))
    return min(min(wanted or [DEFAULT_SENTENCES]), n)


@operation(SUMMARIZE)
def summarize(ctx: JobContext, p: SummarizeParams) -> Summary:
    """An extractive summary: the most central sentences, in the text's order."""
    ctx.progress(0.05, "splitting sentences")
    sentences = _sentences_or_fail(p.text)

    def checkpoint(fraction: float) -> None:
        ctx.raise_if_cancelled()
        ctx.progress(fraction, "ranking sentences")

    scores = textrank(sentences, checkpoint)
    keep = summary_length(p, len(sentences))
    chosen = sorted(np.argsort(-scores, kind="stable")[:keep].tolist())
    ranked = [RankedSentence(index=i, text=sentences[i], score=round(float(scores[i]), 6)) for i in chosen]
    return Summary(summary=" ".join(s.text for s in ranked), sentences=ranked, sentence_count=len(sentences))


# -- sentiment ------------------------------------------------------------------------------


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


_vader_lock = threading.Lock()


def vader() -> SentimentIntensityAnalyzer:
    """The process's VADER analyzer (its lexicon loads once)."""
    with _vader_lock:
        return _vader()


def label_of(compound: float) -> SentimentLabel:
    """VADER's usual reading of a compound score."""
    if compound >= POSITIVE:
        return "positive"
    return "negative" if compound <= NEGATIVE else "neutral"


@operation(SENTIMENT)
def sentiment(ctx: JobContext, p: SentimentParams) -> Sentiment:
    """Sentiment of the text and of each of its sentences."""
    sentences = _sentences_or_fail(p.text)
    analyzer = vader()
    per_sentence = []
    for i, text in enumerate(sentences):
        if i % STEP == 0:
            ctx.raise_if_cancelled()
            ctx.progress(0.9 * i / len(sentences), f"scored {i} of {len(sentences)} sentences")
        score = analyzer.polarity_scores(text)["compound"]
        per_sentence.append(SentenceSentiment(index=i, text=text, compound=score, label=label_of(score)))
    whole = analyzer.polarity_scores(p.text)
    return Sentiment(
        label=label_of(whole["compound"]),
        compound=whole["compound"],
        positive=whole["pos"],
        negative=whole["neg"],
        neutral=whole["neu"],
        sentences=per_sentence,
    )


# -- keywords -------------------------------------------------------------------------------


@operation(KEYWORDS)
def keywords(ctx: JobContext, p: KeywordsParams) -> Keywords:
    """The text's key words and phrases, most relevant first."""
    if not words_of(p.text):
        raise PermanentError("the text has no words to work on")
    ctx.progress(0.1, "scoring candidate phrases")
    found = key_phrases(p.text, p.top, max_words=p.max_words, language=p.language)
    return Keywords(keywords=[Keyword(keyword=k, relevance=r) for k, r in found])


# -- readability ----------------------------------------------------------------------------


@cache
def _hyphenator() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US")


_hyphenator_lock = threading.Lock()


def syllables(word: str) -> int:
    """A word's syllables, as its hyphenation splits it (at least one)."""
    with _hyphenator_lock:
        dictionary = _hyphenator()
    return len(dictionary.positions(word.lower())) + 1


def difficulty_of(ease: float) -> Difficulty:
    """The label of a Flesch reading ease score."""
    for floor, label in ((90, "very easy"), (80, "easy"), (70, "fairly easy"), (60, "standard"),
                         (50, "fairly difficult"), (30, "difficult")):  # fmt: skip
        if ease >= floor:
            return label  # type: ignore[return-value]
    return "very difficult"


def readability_of(text: str, checkpoint: Callable[[float], None] | None = None) -> Readability:
    """The counts and scores of `text`."""
    sentences = _sentences_or_fail(text)
    words = words_of(text)
    counted = []
    for i, word in enumerate(words):
        if checkpoint is not None and i % (STEP * 20) == 0:
            checkpoint(0.9 * i / len(words))
        counted.append(syllables(word))
    n_sentences, n_words, n_syllables = len(sentences), len(words), sum(counted)
    characters = sum(len(w) for w in words) + len(re.findall(r"\d", text))
    complex_words = sum(1 for k in counted if k >= 3)
    per_sentence = n_words / n_sentences
    per_word = n_syllables / n_words
    ease = 206.835 - 1.015 * per_sentence - 84.6 * per_word
    return Readability(
        sentences=n_sentences,
        words=n_words,
        syllables=n_syllables,
        characters=characters,
        complex_words=complex_words,
        flesch_reading_ease=round(ease, 2),
        flesch_kincaid_grade=round(0.39 * per_sentence + 11.8 * per_word - 15.59, 2),
        gunning_fog=round(0.4 * (per_sentence + 100 * complex_words / n_words), 2),
        smog_index=round(1.043 * math.sqrt(complex_words * 30 / n_sentences) + 3.1291, 2),
        coleman_liau_index=round(
            0.0588 * (characters / n_words * 100) - 0.296 * (n_sentences / n_words * 100) - 15.8, 2
        ),
        automated_readability_index=round(4.71 * characters / n_words + 0.5 * per_sentence - 21.43, 2),
        difficulty=difficulty_of(ease),
        reading_time_seconds=round(n_words / READING_SPEED * 60, 1),
    )


@operation(READABILITY)
def readability(ctx: JobContext, p: ReadabilityParams) -> Readability:
    """How hard the text is to read."""

    def checkpoint(fraction: float) -> None:
        ctx.raise_if_cancelled()
        ctx.progress(fraction, "counting syllables")

    return readability_of(p.text, checkpoint)


# -- detect_language ------------------------------------------------------------------------

_langdetect_lock = threading.Lock()
_langdetect_ready = False


def guesses(text: str) -> list[LanguageGuess]:
    """langdetect's guesses for the text, likeliest first (seeded: the same text, the same answer)."""
    global _langdetect_ready
    with _langdetect_lock:  # its profiles load into a global factory, once
        if not _langdetect_ready:
            DetectorFactory.seed = 0
            detect_langs("warm up")
            _langdetect_ready = True
    try:
        found = detect_langs(text)
    except LangDetectException:
        raise PermanentError("no language can be told from this text (it has no letters)") from None
    return [LanguageGuess(language=g.lang, probability=round(g.prob, 6)) for g in found]


@operation(DETECT_LANGUAGE)
def detect_language(ctx: JobContext, p: DetectLanguageParams) -> DetectedLanguage:
    """The text's language, with its probability."""
    ctx.progress(0.1, "comparing with language profiles")
    found = guesses(p.text)
    return DetectedLanguage(language=found[0].language, probability=found[0].probability, candidates=found)


# -- generate and transform (a provider, or the local composer) -------------------------------

#: max_tokens asked of the provider per kind and length.
MAX_TOKENS = {
    "blog_post": {"short": 600, "medium": 1100, "long": 2000},
    "caption": {"short": 100, "medium": 160, "long": 260},
    "script": {"short": 450, "medium": 850, "long": 1500},
}
KIND_WORDS = {
    "blog_post": "a blog post in Markdown: its title on the first line as '# Title', then sections with '## ' headings",
    "caption": "a social media caption, ending with a few relevant hashtags",
    "script": "a short video script: lines starting with [HOOK], [SCENE 1], [SCENE 2] … and [CLOSE]",
}
LENGTH_WORDS = {
    "blog_post": {"short": "about 250 words", "medium": "about 500 words", "long": "about 1,000 words"},
    "caption": {"short": "one sentence", "medium": "two sentences", "long": "three sentences"},
    "script": {"short": "two scenes", "medium": "four scenes", "long": "six scenes"},
}


def generate_messages(p: GenerateParams) -> list[llm.Message]:
    """The chat messages that ask a model for the text."""
    asks = [f"Write {KIND_WORDS[p.kind]}, {LENGTH_WORDS[p.kind][p.length]}, about: {p.topic}.",
            f"Tone: {p.tone}."]  # fmt: skip
    if p.audience:
        asks.append(f"Audience: {p.audience}.")
    if p.keywords:
        asks.append(f"Use these words or phrases: {', '.join(p.keywords)}.")
    if p.source:
        asks.append(f"Draw on this material, and invent no facts beyond it:\n\n{p.source}")
    system = "You are a careful professional writer. Answer with the requested text only, no preamble."
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(asks)}]


def title_of(text: str) -> tuple[str | None, str]:
    """A Markdown text's `# Title` line (if it starts with one), and the text."""
    first = text.lstrip().split("\n", 1)[0].strip()
    return (first.lstrip("#").strip() or None, text.strip()) if first.startswith("# ") else (None, text.strip())


@operation(GENERATE)
def generate(ctx: JobContext, p: GenerateParams) -> GeneratedText:
    """A blog post, caption or script: by the configured model, or the local composer."""
    provider = llm.provider_of(ctx)
    if provider is None:
        ctx.progress(0.1, "composing locally")
        title, text = composer.compose_generate(p)
        fields = composer.local_generation(" ".join(filter(None, [p.topic, p.source, *p.keywords])), text)
        return GeneratedText(**fields, kind=p.kind, title=title, text=text, words=len(words_of(text)))
    done = llm.complete(ctx, provider, generate_messages(p), max_tokens=MAX_TOKENS[p.kind][p.length])
    title, text = title_of(done.text) if p.kind == "blog_post" else (None, done.text.strip())
    if not words_of(text):
        raise ProviderBadAnswer("the model answered with no text")
    return GeneratedText(**llm.generation(done), kind=p.kind, title=title, text=text, words=len(words_of(text)))


def transform_messages(p: TransformParams) -> list[llm.Message]:
    """The chat messages that ask a model for the rewrite."""
    asks = []
    if p.tone:
        asks.append(f"Rewrite it in a {p.tone} tone.")
    if p.language:
        asks.append(f"Translate it into the language with code {p.language}.")
    if p.platform:
        asks.append(f"Adapt it as a post for {p.platform}, within {RULES[p.platform].limit} characters.")
    system = ("You rewrite texts as asked. Keep the meaning and every fact; add none. "
              "Answer with the rewritten text only.")  # fmt: skip
    return [{"role": "system", "content": system},
            {"role": "user", "content": " ".join(asks) + "\n\nThe text:\n\n" + p.text}]  # fmt: skip


@operation(TRANSFORM)
def transform(ctx: JobContext, p: TransformParams) -> TransformedText:
    """The text in another tone, language or platform's form."""
    if not words_of(p.text):
        raise PermanentError("the text has no words to work on")
    provider = llm.provider_of(ctx)
    if provider is None:
        return transform_locally(ctx, p)
    done = llm.complete(ctx, provider, transform_messages(p), max_tokens=min(4000, 2 * estimate_tokens(p.text) + 200),
                        label="rewriting")  # fmt: skip
    text, changes = done.text.strip(), [f"rewritten by {done.model}"]
    length = limit = None
    if p.platform:
        text, more, length, limit = composer.adapt(text, p.platform)
        changes += [c for c in more if c.startswith("cut")]
    return TransformedText(**llm.generation(done), text=text, changes=changes, length=length, limit=limit)


def transform_locally(ctx: JobContext, p: TransformParams) -> TransformedText:
    """The local composer's rewrite: tone by word rules, then the platform's layout."""
    if p.language is not None:
        raise PermanentError(
            "translation needs a language model: set CONVEYOR_LLM_URL (the local composer does not translate)"
        )
    ctx.progress(0.1, "rewriting locally")
    text, length, limit = p.text.strip(), None, None
    changes: list[str] = []
    if p.tone is not None:
        text, changes = composer.retone(text, p.tone)
    if p.platform is not None:
        ctx.raise_if_cancelled()
        text, more, length, limit = composer.adapt(text, p.platform)
        changes += more
    return TransformedText(**composer.local_generation(p.text, text), text=text,
                           changes=changes or ["nothing to change"], length=length, limit=limit)  # fmt: skip
