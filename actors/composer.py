"""The local composer: generative text with no model, built from the inputs alone.

It is extractive and template-based: the source's most central sentences (TextRank) and key
phrases (YAKE) fill templates per kind, tone and platform, and tone changes are word rules.
The same inputs always give the same text. Results it writes say `"provider": "local"`; it
never passes for a model. Used when no provider is configured (CONVEYOR_LLM_URL empty).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from actors.platforms import RULES, as_hashtag, fit, length_on, ranked_hashtags
from actors.text import key_phrases, sentences_of, textrank, words_of
from schemas.contracts.text_intelligence import GenerateParams, Tone
from schemas.generation import LOCAL_MODEL, Usage, estimate_tokens

SECTIONS = {"short": 2, "medium": 3, "long": 5}
SCENES = {"short": 2, "medium": 4, "long": 6}
CAPTION_SENTENCES = {"short": 1, "medium": 2, "long": 3}

TITLES: dict[str, str] = {
    "neutral": "{Topic}: what to know",
    "friendly": "Let's talk about {topic}",
    "professional": "{Topic}: an overview for {audience}",
    "playful": "{Topic}, minus the boring bits",
    "persuasive": "Why {topic} deserves your attention",
    "inspirational": "What {topic} makes possible",
}
OPENERS: dict[str, str] = {
    "neutral": "This is a short look at {topic} for {audience}.",
    "friendly": "If you have been wondering about {topic}, you are in the right place.",
    "professional": "This piece sets out what {topic} means for {audience}.",
    "playful": "Grab a coffee: {topic} is more fun than it sounds.",
    "persuasive": "{Topic} is worth your time, and here is why.",
    "inspirational": "Every big change starts small, and {topic} is a good place to start.",
}
CLOSINGS: dict[str, tuple[str, str]] = {
    "neutral": ("In short", "Those are the main points about {topic}."),
    "friendly": ("Wrapping up", "That's {topic} in a nutshell. Give it a try and see how it goes."),
    "professional": ("Next steps", "Teams that plan for {topic} now will be ready when it matters."),
    "playful": ("The fun part", "Now you know enough about {topic} to impress at lunch."),
    "persuasive": ("Start today", "Start with {topic} today: the sooner you do, the sooner it pays off."),
    "inspirational": ("Looking ahead", "Imagine where {topic} could take you a year from now."),
}
HOOKS: dict[str, str] = {
    "neutral": "Here is what you need to know about {topic}.",
    "friendly": "Hey! Let's talk about {topic}.",
    "professional": "In the next minute: {topic}, and what it means for {audience}.",
    "playful": "Stop scrolling: {topic} just got interesting.",
    "persuasive": "Still skipping {topic}? Here is why you shouldn't.",
    "inspirational": "What if {topic} changed how you work?",
}
#: What a piece says about a topic when the inputs give no more to say.
ASPECTS: list[tuple[str, str]] = [
    ("What {topic} is", "Start with the basics: what {topic} is, and what it is not."),
    ("Why it matters for {audience}", "{Topic} matters to {audience}: it changes what is worth time and money."),
    ("Getting started", "Pick one small, concrete first step with {topic} and measure what changes."),
    ("Mistakes to avoid", "The usual mistake with {topic} is doing too much at once."),
    ("What comes next", "Expect {topic} to keep changing, and revisit your plan every few months."),
    ("Questions to ask", "Ask what {topic} costs, who it helps, and how you will know it works."),
]

CONTRACTIONS = {
    "cannot": "can't", "can not": "can't", "will not": "won't", "do not": "don't", "does not": "doesn't",
    "did not": "didn't", "is not": "isn't", "are not": "aren't", "it is": "it's", "we are": "we're",
    "you are": "you're", "they are": "they're", "I am": "I'm", "we will": "we'll", "you will": "you'll",
    "that is": "that's", "there is": "there's", "we have": "we've",
}  # fmt: skip
EXPANSIONS = {short: long for long, short in CONTRACTIONS.items() if long != "can not"}
CASUAL = {"gonna": "going to", "wanna": "want to", "gotta": "have to", "awesome": "excellent", "super": "very",
          "stuff": "material", "guys": "everyone", "hey": "hello", "yeah": "yes", "kinda": "somewhat",
          "lots of": "many", "a lot of": "many"}  # fmt: skip
FORMAL = {"utilize": "use", "utilise": "use", "purchase": "buy", "commence": "start", "assist": "help",
          "regarding": "about", "therefore": "so", "additionally": "also", "approximately": "about",
          "numerous": "many", "obtain": "get"}  # fmt: skip
HEDGES = {"might": "will", "could": "can", "maybe ": "", "perhaps ": "", "I think ": "", "probably ": "",
          "somewhat ": ""}  # fmt: skip
EMPHATICS = {"very ": "", "really ": "", "extremely ": "", "super ": "", "totally ": ""}
EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]\ufe0f?")


def local_generation(read: str, written: str) -> dict[str, Any]:
    """The fields every generative result starts with, for what the local composer read and
    wrote: its tokens counted as a model's would be (estimated), at no cost."""
    given, made = estimate_tokens(read), estimate_tokens(written)
    usage = Usage(prompt_tokens=given, completion_tokens=made, total_tokens=given + made, estimated=True)
    return {"provider": "local", "model": LOCAL_MODEL, "usage": usage, "cost": 0.0}


def fill(template: str, topic: str, audience: str | None) -> str:
    """A template with {topic}, {Topic} and {audience} filled in."""
    return template.format(topic=topic, Topic=capital(topic), audience=audience or "everyone")


def capital(text: str) -> str:
    """`text` with its first letter in upper case."""
    return text[:1].upper() + text[1:]


def material(source: str | None, topic: str, keywords: list[str], phrases: int) -> tuple[list[str], list[str]]:
    """(key phrases, the source's sentences most central first) to write from: the given
    keywords first, then the source's key phrases (or the topic's)."""
    found = key_phrases(source, phrases * 4, max_words=2) if source and words_of(source) else []
    taken = {w.lower() for w in words_of(" ".join([topic, *keywords]))}
    ordered = list(keywords)
    for phrase, _ in found:  # phrases sharing no word with the topic, a keyword or each other
        words = {w.lower() for w in words_of(phrase)}
        if not words & taken:
            ordered.append(phrase)
            taken |= words
    sentences = [s for s in sentences_of(source or "") if words_of(s)]
    if len(sentences) > 1:
        scores = textrank(sentences)
        sentences = [sentences[i] for i in sorted(range(len(sentences)), key=lambda i: (-scores[i], i))]
    return list(dict.fromkeys(ordered))[:phrases], sentences


def sections(p: GenerateParams, count: int) -> list[tuple[str, str]]:
    """(heading, what it says) for each section of a post or scene of a script.

    The source's central sentences (the below-average ones left out; a post's intro has taken
    the most central) are kept in the source's order and shared out among up to `count`
    sections, each headed by a keyword it mentions or its own key phrase. Keywords the source
    never mentions get a section each; general aspects of the topic fill what is left.
    """
    topic, audience = p.topic.strip(), p.audience
    found = [s for s in sentences_of(p.source or "") if words_of(s)]
    scores = textrank(found) if found else np.zeros(0)
    ranked = sorted(range(len(found)), key=lambda i: (-scores[i], i))
    skip = 1 if p.kind == "blog_post" else 0
    central = [i for i in ranked[skip:] if scores[i] >= 0.6 / len(found)][: 2 * count]
    kept = [found[i] for i in sorted(central)]
    groups = [kept[len(kept) * k // count : len(kept) * (k + 1) // count] for k in range(count)]
    taken = {w.lower() for w in words_of(topic)}
    out: list[tuple[str, str]] = []
    for group in (g for g in groups if g):
        text = " ".join(group)
        heading = next((k for k in p.keywords if k.lower() in text.lower()), None)
        for phrase, _ in key_phrases(text, 8, max_words=3) if heading is None else []:
            words = {w.lower() for w in words_of(phrase)}
            if not words <= taken:
                heading = phrase
                break
        heading = capital(heading or " ".join(words_of(group[0])[:4]))
        taken |= {w.lower() for w in words_of(heading)}
        out.append((heading, text))
    said = " ".join(text for _, text in out).lower()
    for keyword in (k for k in p.keywords if k.lower() not in said):
        out.append((capital(keyword), fill(f"How {keyword} fits into {{topic}}, and what it changes for {{audience}}.",
                                           topic, audience)))  # fmt: skip
    for heading, text in ASPECTS[: max(count - len(out), 0)]:
        out.append((fill(heading, topic, audience), fill(text, topic, audience)))
    return out[: max(count, len(out))]


def mentioning(sentences: list[str], phrase: str, used: set[str]) -> str | None:
    """The most central sentence not used yet that mentions the phrase (or a word of it)."""
    words = [w for w in phrase.lower().split() if len(w) > 3] or [phrase.lower()]
    for sentence in sentences:
        if sentence not in used and any(w in sentence.lower() for w in words):
            used.add(sentence)
            return sentence
    return None


def compose_generate(p: GenerateParams) -> tuple[str | None, str]:
    """(title, text) of a blog post, caption or script, from the topic and the source."""
    topic, audience = p.topic.strip(), p.audience
    if p.kind == "blog_post":
        title = fill(TITLES[p.tone], topic, audience)
        _, sentences = material(p.source, topic, [], 0)
        intro = " ".join([fill(OPENERS[p.tone], topic, audience), *sentences[:1]])
        heading, closing = CLOSINGS[p.tone]
        body = [f"## {h}\n\n{said}" for h, said in sections(p, SECTIONS[p.length])]
        return title, "\n\n".join([f"# {title}", intro, *body, f"## {heading}\n\n{fill(closing, topic, audience)}"])
    if p.kind == "caption":
        phrases, sentences = material(p.source, topic, p.keywords, 5)
        count = CAPTION_SENTENCES[p.length]
        body = [fill(HOOKS[p.tone], topic, audience), *sentences[:count]]
        tags = [t for t in dict.fromkeys(as_hashtag(x) for x in [topic, *phrases]) if t][: count + 1]
        return None, " ".join(body) + "\n\n" + " ".join(tags)
    lines = [f"[HOOK] {fill(HOOKS[p.tone], topic, audience)}"]
    lines += [f"[SCENE {i}] {said}" for i, (_, said) in enumerate(sections(p, SCENES[p.length]), 1)]
    lines.append(f"[CLOSE] {fill(CLOSINGS[p.tone][1], topic, audience)}")
    return None, "\n".join(lines)


def replace_words(text: str, table: dict[str, str]) -> tuple[str, int]:
    """`text` with each whole word or phrase of `table` replaced (matching its capitalisation);
    how many were replaced."""
    count = 0
    for old, new in table.items():
        pattern = re.compile(rf"(?<![\w']){re.escape(old.strip())}(?![\w'])" + (r"\s*" if old.endswith(" ") else ""),
                             re.IGNORECASE)  # fmt: skip

        def swap(m: re.Match[str], new: str = new) -> str:
            return capital(new) if m.group(0)[:1].isupper() and new else new

        text, n = pattern.subn(swap, text)
        count += n
    return text, count


def retone(text: str, tone: Tone) -> tuple[str, list[str]]:
    """The text in another tone by word rules; (text, the changes made)."""
    rules = {
        "professional": [("expanded {} contractions", EXPANSIONS), ("replaced {} casual words", CASUAL)],
        "neutral": [("dropped {} emphatic words", EMPHATICS)],
        "friendly": [("replaced {} formal words", FORMAL), ("contracted {} phrases", CONTRACTIONS)],
        "playful": [("replaced {} formal words", FORMAL), ("contracted {} phrases", CONTRACTIONS)],
        "persuasive": [("made {} hedged phrases direct", HEDGES)],
        "inspirational": [("made {} hedged phrases direct", HEDGES)],
    }[tone]
    steps: list[tuple[str, Callable[[str], tuple[str, int]]]] = [
        (label, functools.partial(replace_words, table=table)) for label, table in rules
    ]
    if tone in ("professional", "neutral"):
        steps.append(("calmed {} exclamation marks", lambda t: re.subn(r"!+", ".", t)))
        steps.append(("removed {} emoji", lambda t: EMOJI.subn("", t)))
    changes = []
    for label, step in steps:
        text, n = step(text)
        if n:
            changes.append(label.format(n))
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    ending = {"playful": " 🎉", "persuasive": " Try it today.", "inspirational": " Imagine what comes next."}
    if tone in ending and not text.endswith(ending[tone].strip()):
        text = (text[:-1] + "!" if tone == "playful" and text.endswith(".") else text) + ending[tone]
        changes.append(f"added a {tone} ending")
    return capital(text), changes


def adapt(text: str, platform: str) -> tuple[str, list[str], int, int]:
    """The text as a post for the platform (its hashtags, cut to its limit); (post, changes,
    length as the platform counts it, limit)."""
    rules = RULES[platform]
    body = " ".join(text.split())
    tags = [t.hashtag for t in ranked_hashtags(body, rules.hashtags) if t.hashtag.lower() not in body.lower()]
    post, kept, shortened = fit(body, None, None, tags, rules)
    changes = [f"laid out for {platform}"] + ([f"added {len(kept)} hashtags"] if kept else [])
    if shortened:
        changes.append(f"cut to fit {rules.limit} characters")
    return post, changes, length_on(rules, post), rules.limit
