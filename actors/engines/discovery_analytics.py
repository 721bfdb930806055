"""The `discovery_analytics` engine: tags and categories, trends, engagement figures
(contracts in schemas/contracts/discovery_analytics.py). Local and deterministic."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable

from actors.sdk import JobContext, PermanentError, operation
from actors.text import key_phrases, stop_words, words_of
from schemas.contracts.discovery_analytics import (
    ENGAGEMENT_METRICS,
    TAG_CONTENT,
    TRENDS,
    DatedDocument,
    EngagementMetrics,
    EngagementParams,
    Growth,
    PostMetrics,
    ScoredCategory,
    ScoredTag,
    TagContentParams,
    TagCount,
    TaggedContent,
    TaggedDocument,
    TermTrend,
    Trends,
    TrendsParams,
    Window,
)

#: The default categories and the words that signal them (a word also matches with a plural s).
TAXONOMY: dict[str, frozenset[str]] = {
    name: frozenset(words.split())
    for name, words in {
        "technology": "app software cloud data ai computer device phone battery update internet code developer "
        "digital platform security network robot chip algorithm online tech backup server laptop",
        "business": "revenue sales company market customer profit growth quarterly forecast subscription investor "
        "strategy ceo deal enterprise price business industry retail merger startup",
        "finance": "bank stock investment loan interest inflation currency budget tax fund credit debt savings "
        "dividend crypto bitcoin finance earnings",
        "marketing": "campaign audience engagement advertising ad seo content influencer newsletter social "
        "followers brand promotion conversion launch marketing",
        "health": "health doctor patient hospital disease vaccine diet fitness exercise sleep mental therapy "
        "medicine nutrition wellness symptom",
        "science": "research study scientist experiment climate space physics biology chemistry planet species "
        "energy laboratory discovery",
        "sports": "match team player league score race marathon runner coach tournament championship goal "
        "season training sprint finish olympic",
        "entertainment": "film movie music album concert series show actor celebrity streaming festival game "
        "podcast video theatre song",
        "politics": "election government policy minister parliament vote president law senate party congress "
        "regulation",
        "education": "school student teacher university course learning exam classroom curriculum degree "
        "lesson education",
        "travel": "travel flight hotel trip tourism destination beach vacation airport passport journey",
        "food": "food recipe restaurant cooking meal chef coffee dinner ingredient vegan kitchen flavour flavor",
    }.items()
}
#: Categories shown per document.
CATEGORIES_SHOWN = 3
#: Tags in the batch summary.
TOP_TAGS = 20
#: Trends: added to each count before rates are compared, so a term new in the later window
#: has a finite score.
SMOOTHING = 0.5


def _lower_words(text: str) -> list[str]:
    return [w.lower() for w in words_of(text)]


# -- tag_content ----------------------------------------------------------------------------


def categories_of(words: list[str], taxonomy: dict[str, frozenset[str]]) -> list[ScoredCategory]:
    """The categories whose words occur, best first (the best scoring 1)."""
    hits: Counter[str] = Counter()
    for word in words:
        for name, signals in taxonomy.items():
            if word in signals or (word.endswith("s") and word[:-1] in signals):
                hits[name] += 1
    if not hits:
        return []
    top = hits.most_common(1)[0][1]
    ranked = sorted(hits.items(), key=lambda item: (-item[1], item[0]))[:CATEGORIES_SHOWN]
    return [ScoredCategory(category=name, score=round(count / top, 4)) for name, count in ranked]


@operation(TAG_CONTENT)
def tag_content(ctx: JobContext, p: TagContentParams) -> TaggedContent:
    """Tags and categories for each document, and the tags the batch shares."""
    taxonomy = TAXONOMY
    if p.categories is not None:
        taxonomy = {name: frozenset(w.lower() for w in words) for name, words in p.categories.items()}
    tagged: list[TaggedDocument] = []
    shared: Counter[str] = Counter()
    for i, document in enumerate(p.documents):
        if i % 20 == 0:
            ctx.raise_if_cancelled()
            ctx.progress(i / len(p.documents), f"tagged {i} of {len(p.documents)} documents")
        tags: list[ScoredTag] = []
        for phrase, relevance in key_phrases(document.text, p.tags * 2, max_words=2):
            tag = phrase.lower()
            if tag not in {t.tag for t in tags}:
                tags.append(ScoredTag(tag=tag, relevance=relevance))
        tags = tags[: p.tags]
        shared.update(t.tag for t in tags)
        categories = categories_of(_lower_words(document.text), taxonomy)
        tagged.append(TaggedDocument(id=document.id, tags=tags, categories=categories))
    top = sorted(shared.items(), key=lambda item: (-item[1], item[0]))[:TOP_TAGS]
    return TaggedContent(documents=tagged, top_tags=[TagCount(tag=t, documents=n) for t, n in top])


# -- trends ---------------------------------------------------------------------------------


def terms_of(text: str) -> Iterable[str]:
    """The text's terms: its words but the stop words, and its pairs of such adjacent words."""
    stop = stop_words()
    words = _lower_words(text)
    for i, word in enumerate(words):
        if len(word) < 2 or word in stop:
            continue
        yield word
        if i + 1 < len(words) and len(words[i + 1]) > 1 and words[i + 1] not in stop:
            yield f"{word} {words[i + 1]}"


def window_of(documents: list[DatedDocument]) -> tuple[Window, Counter[str]]:
    """A window's span and size, and how often each term occurs in it."""
    counts: Counter[str] = Counter()
    words = 0
    for document in documents:
        counts.update(terms_of(document.text))
        words += len(words_of(document.text))
    span = [d.at for d in documents]
    return Window(start=min(span), end=max(span), documents=len(documents), words=words), counts


@operation(TRENDS)
def trends(ctx: JobContext, p: TrendsParams) -> Trends:
    """Rising and falling terms between the earlier and the later documents."""
    times = [d.at for d in p.documents]
    split = p.split_at or min(times) + (max(times) - min(times)) / 2
    earlier_docs = [d for d in p.documents if d.at < split]
    later_docs = [d for d in p.documents if d.at >= split]
    if not earlier_docs or not later_docs:
        raise PermanentError("every document falls on one side of split_at: give documents before and after it")
    ctx.progress(0.2, "counting terms")
    earlier, before = window_of(earlier_docs)
    later, after = window_of(later_docs)
    ctx.raise_if_cancelled()
    if not earlier.words or not later.words:
        raise PermanentError("one of the windows has no words")
    found = []
    for term in set(before) | set(after):
        b, a = before[term], after[term]
        score = math.log2(((a + SMOOTHING) / later.words) / ((b + SMOOTHING) / earlier.words))
        found.append(
            TermTrend(
                term=term,
                score=round(score, 4),
                earlier_count=b,
                later_count=a,
                earlier_rate=round(b / earlier.words * 1000, 3),
                later_rate=round(a / later.words * 1000, 3),
            )
        )
    rising = sorted((t for t in found if t.score > 0 and t.later_count >= p.min_count),
                    key=lambda t: (-t.score, -t.later_count, t.term))  # fmt: skip
    falling = sorted((t for t in found if t.score < 0 and t.earlier_count >= p.min_count),
                     key=lambda t: (t.score, -t.earlier_count, t.term))  # fmt: skip
    return Trends(earlier=earlier, later=later, rising=rising[: p.top], falling=falling[: p.top])


# -- engagement_metrics ---------------------------------------------------------------------


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


@operation(ENGAGEMENT_METRICS)
def engagement_metrics(ctx: JobContext, p: EngagementParams) -> EngagementMetrics:
    """Rates per post and overall, best and worst post, trend and follower growth."""
    per_post = []
    for post in p.posts:
        engagements = post.likes + post.comments + post.shares + post.saves
        per_post.append(
            PostMetrics(
                id=post.id,
                engagements=engagements,
                engagement_rate=_rate(engagements, post.impressions),
                click_through_rate=_rate(post.clicks, post.impressions),
            )
        )
    impressions = sum(post.impressions for post in p.posts)
    engagements = sum(m.engagements for m in per_post)
    ranked = sorted(per_post, key=lambda m: m.engagement_rate)
    trend = None
    dated = sorted(((post.published_at, m) for post, m in zip(p.posts, per_post, strict=True) if post.published_at),
                   key=lambda item: item[0])  # fmt: skip
    if len(dated) >= 4:
        half = len(dated) // 2
        first = statistics.mean(m.engagement_rate for _, m in dated[:half])
        second = statistics.mean(m.engagement_rate for _, m in dated[half:])
        trend = round((second - first) / first * 100, 2) if first else None
    growth = None
    if len(p.followers) >= 2:
        series = sorted(p.followers, key=lambda f: f.at)
        start, end = series[0], series[-1]
        change = end.followers - start.followers
        days = (end.at - start.at).total_seconds() / 86_400
        growth = Growth(
            start=start.at,
            end=end.at,
            start_followers=start.followers,
            end_followers=end.followers,
            change=change,
            change_percent=round(change / start.followers * 100, 2) if start.followers else None,
            per_week=round(change / days * 7, 2) if days > 0 else 0.0,
        )
    return EngagementMetrics(
        posts=per_post,
        impressions=impressions,
        engagements=engagements,
        engagement_rate=_rate(engagements, impressions),
        median_engagement_rate=round(statistics.median(m.engagement_rate for m in per_post), 6),
        click_through_rate=_rate(sum(post.clicks for post in p.posts), impressions),
        best_post=ranked[-1].id,
        worst_post=ranked[0].id,
        engagement_trend_percent=trend,
        follower_growth=growth,
    )
