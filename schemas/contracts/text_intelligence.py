"""Contracts of the `text_intelligence` engine: its analysis operations, which run locally with
no model and no network (summarize, sentiment, keywords, readability, detect_language), and its
generative ones (generate, transform), which call the configured provider or the local composer."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta

from schemas.contracts import PROVIDER_ERRORS, contract
from schemas.generation import Generation

#: The longest text an analysis operation takes (characters).
MAX_TEXT = 200_000

Text = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT, description="The text (plain; up to 200,000 characters)")]

EXAMPLE_TEXT = (
    "Conveyor runs long AI jobs in the background. Services submit them over HTTP and get an id back at once. "
    "Each job waits on its engine's RabbitMQ queue until a worker takes it. PostgreSQL keeps every job, "
    "workflow and event, so nothing is lost when a worker dies. Clients follow their jobs live over "
    "Server-Sent Events, or are told by webhook and e-mail when they finish."
)


class SummarizeParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Text
    #: At most this many sentences (default 3 when `ratio` is not given either).
    max_sentences: Annotated[int, Meta(ge=1, le=200)] | None = None
    #: At most this share of the text's sentences (rounded up, at least one).
    ratio: Annotated[float, Meta(gt=0, le=1)] | None = None


class RankedSentence(msgspec.Struct, kw_only=True):
    #: Position of the sentence in the text, from 0.
    index: int
    text: str
    #: Its TextRank centrality; the scores of all the text's sentences sum to 1.
    score: float


class Summary(msgspec.Struct, kw_only=True):
    #: The chosen sentences, in the text's order, joined by spaces.
    summary: str
    sentences: list[RankedSentence]
    #: How many sentences the text has.
    sentence_count: int
    method: Literal["textrank"] = "textrank"


SUMMARIZE = contract(
    "text_intelligence",
    "summarize",
    params=SummarizeParams,
    result=Summary,
    description=(
        "An extractive summary: the text's most central sentences (TextRank over TF-IDF similarity), "
        "kept in their order; `max_sentences` or `ratio` says how many."
    ),
    example={"text": EXAMPLE_TEXT, "max_sentences": 2},
    timeout_seconds=300,
)

SentimentLabel = Literal["positive", "negative", "neutral"]


class SentimentParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Text


class SentenceSentiment(msgspec.Struct, kw_only=True):
    index: int
    text: str
    #: -1 (most negative) … +1 (most positive).
    compound: float
    label: SentimentLabel


class Sentiment(msgspec.Struct, kw_only=True):
    #: positive when compound >= 0.05, negative when <= -0.05, else neutral.
    label: SentimentLabel
    #: The whole text's score, -1 … +1.
    compound: float
    #: Shares of the text that read positive, negative and neutral (they sum to 1).
    positive: float
    negative: float
    neutral: float
    sentences: list[SentenceSentiment]
    method: Literal["vader"] = "vader"


SENTIMENT = contract(
    "text_intelligence",
    "sentiment",
    params=SentimentParams,
    result=Sentiment,
    description=(
        "Sentiment of the text and of each sentence (VADER, tuned for social and review text): a compound "
        "score from -1 to +1 and a label."
    ),
    example={"text": "The new dashboard is great and setup took minutes. The docs were confusing, though."},
    timeout_seconds=300,
)


class KeywordsParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Text
    #: How many keywords.
    top: Annotated[int, Meta(ge=1, le=100)] = 10
    #: Longest keyword, in words.
    max_words: Annotated[int, Meta(ge=1, le=5)] = 3
    #: The text's language (ISO 639-1), for its stop words.
    language: Annotated[str, Meta(pattern="^[a-z]{2}$")] = "en"


class Keyword(msgspec.Struct, kw_only=True):
    keyword: str
    #: 0 … 1, higher is more relevant (the most relevant keyword scores 1).
    relevance: float


class Keywords(msgspec.Struct, kw_only=True):
    #: Most relevant first.
    keywords: list[Keyword]
    method: Literal["yake"] = "yake"


KEYWORDS = contract(
    "text_intelligence",
    "keywords",
    params=KeywordsParams,
    result=Keywords,
    description="The text's key words and phrases, most relevant first (YAKE: statistical, needs no training).",
    example={"text": EXAMPLE_TEXT, "top": 5},
    timeout_seconds=300,
)


class ReadabilityParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Text


Difficulty = Literal["very easy", "easy", "fairly easy", "standard", "fairly difficult", "difficult", "very difficult"]


class Readability(msgspec.Struct, kw_only=True):
    sentences: int
    words: int
    syllables: int
    #: Letters and digits.
    characters: int
    #: Words of three syllables or more.
    complex_words: int
    #: 0 … 100 (higher is easier; 60–70 is plain English).
    flesch_reading_ease: float
    #: US school grades.
    flesch_kincaid_grade: float
    gunning_fog: float
    smog_index: float
    coleman_liau_index: float
    automated_readability_index: float
    #: From the Flesch reading ease.
    difficulty: Difficulty
    #: At 238 words a minute.
    reading_time_seconds: float


READABILITY = contract(
    "text_intelligence",
    "readability",
    params=ReadabilityParams,
    result=Readability,
    description=(
        "How hard the text is to read: counts, Flesch reading ease, Flesch-Kincaid grade, Gunning fog, SMOG, "
        "Coleman-Liau and ARI, a difficulty label and the reading time (English syllable rules)."
    ),
    example={"text": EXAMPLE_TEXT},
    timeout_seconds=300,
)


class DetectLanguageParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Text


class LanguageGuess(msgspec.Struct, kw_only=True):
    #: ISO 639-1 (zh-cn and zh-tw for Chinese).
    language: str
    probability: float


class DetectedLanguage(msgspec.Struct, kw_only=True):
    language: str
    probability: float
    #: Every language with a probability above 0.1, likeliest first.
    candidates: list[LanguageGuess]
    method: Literal["langdetect"] = "langdetect"


DETECT_LANGUAGE = contract(
    "text_intelligence",
    "detect_language",
    params=DetectLanguageParams,
    result=DetectedLanguage,
    description=(
        "The text's language (55 languages, ISO 639-1), with its probability; the same text always gets the "
        "same answer."
    ),
    example={"text": "Les travaux de nuit sont terminés et le rapport sera envoyé demain matin."},
    timeout_seconds=120,
)


# -- generative operations (a provider, or the local composer) --------------------------------

Kind = Literal["blog_post", "caption", "script"]
Tone = Literal["neutral", "friendly", "professional", "playful", "persuasive", "inspirational"]
Length = Literal["short", "medium", "long"]
#: The platforms a text can be adapted to (those of social_media_planner).
Platform = Literal["x", "linkedin", "instagram", "tiktok", "facebook"]
Topic = Annotated[str, Meta(min_length=1, max_length=500, description="What the text is about")]
Audience = Annotated[str, Meta(min_length=1, max_length=200, description="Who it is for")]
Source = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT, description="Material to draw on")]
Phrase = Annotated[str, Meta(min_length=1, max_length=80)]


class GenerateParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: Kind
    topic: Topic
    #: Notes, an article or a transcript the text draws on (the local composer writes from it).
    source: Source | None = None
    tone: Tone = "neutral"
    #: short, medium or long (for a blog post about 250, 500 or 1,000 words; a caption a hook and
    #: one to three sentences; a script two, four or six scenes).
    length: Length = "medium"
    audience: Audience | None = None
    #: Words or phrases the text should use.
    keywords: Annotated[list[Phrase], Meta(max_length=20)] = []


class GeneratedText(Generation, kw_only=True):
    kind: Kind
    #: The title (a blog post's; null for captions and scripts).
    title: str | None
    #: The text (Markdown for a blog post: `## ` section headings; a script's lines start with
    #: `[HOOK]`, `[SCENE n]`, `[CLOSE]`).
    text: str
    words: int


GENERATE = contract(
    "text_intelligence",
    "generate",
    params=GenerateParams,
    result=GeneratedText,
    description=(
        "Write a blog post, a caption or a video script on a topic, in a tone, length and for an audience: by "
        "the configured model (CONVEYOR_LLM_URL), or else by the local composer from the topic and source "
        "(`provider` says which). Carries `usage` and `cost`."
    ),
    example={
        "kind": "blog_post",
        "topic": "background jobs for AI features",
        "source": EXAMPLE_TEXT,
        "tone": "friendly",
        "length": "short",
        "audience": "product engineers",
    },
    timeout_seconds=600,
    errors=PROVIDER_ERRORS,
)


class TransformParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Text
    #: Rewrite in this tone.
    tone: Tone | None = None
    #: Translate into this language (ISO 639-1, e.g. `fr`, `pt-BR`); needs a provider.
    language: Annotated[str, Meta(pattern="^[a-z]{2}(-[A-Za-z]{2,4})?$")] | None = None
    #: Adapt as a post for this platform (its length limit and hashtag habits).
    platform: Platform | None = None
    #: Published in the OpenAPI document: at least one of tone, language and platform.
    schema_rules: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"required": [name], "properties": {name: {"type": "string"}}} for name in ("tone", "language", "platform")
        ]
    }

    def __post_init__(self) -> None:
        if self.tone is None and self.language is None and self.platform is None:
            raise ValueError("name at least one of tone, language or platform")


class TransformedText(Generation, kw_only=True):
    text: str
    #: What was changed, in words ("expanded 2 contractions", "cut to fit 280 characters").
    changes: list[str]
    #: With a platform: the text's length as the platform counts it, and its limit.
    length: int | None = None
    limit: int | None = None


TRANSFORM = contract(
    "text_intelligence",
    "transform",
    params=TransformParams,
    result=TransformedText,
    description=(
        "Rewrite a text: change its tone, translate it, adapt it to a platform (any combination). By the "
        "configured model, or else by the local composer's rules (tone and platform; translation needs a "
        "provider). Carries `usage` and `cost`."
    ),
    example={"text": EXAMPLE_TEXT, "tone": "professional", "platform": "linkedin"},
    timeout_seconds=600,
    errors=PROVIDER_ERRORS,
)
