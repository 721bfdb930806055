"""Text as the engines read it: sentences, words, stop words, how central each sentence is
(TextRank) and key phrases (YAKE). Shared by the engines and the local composers; no I/O.

Sentences are split by segtok. Stop words and YAKE's tables load once per process.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import yake
from segtok.segmenter import split_multi

#: Words: runs of letters, with inner apostrophes ("don't", "l'eau").
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
#: TextRank: damping, and when the power iteration has settled.
DAMPING = 0.85
SETTLED = 1e-7
#: The vocabulary TextRank weighs: the terms in most sentences.
MAX_TERMS = 4000


def sentences_of(text: str) -> list[str]:
    """The text's sentences (paragraph breaks end one too), stripped, empty ones dropped."""
    return [s for s in (part.strip() for part in split_multi(text)) if s]


def words_of(text: str) -> list[str]:
    """The text's words, as written."""
    return WORD.findall(text)


def textrank(sentences: list[str], checkpoint: Callable[[float], None] | None = None) -> np.ndarray:
    """Each sentence's centrality (summing to 1): PageRank over the graph whose edges are the
    TF-IDF cosine similarities of the sentences."""
    n = len(sentences)
    if n == 1:
        return np.ones(1)
    stop = stop_words()
    counts = [Counter(w for w in (w.lower() for w in words_of(s)) if len(w) > 1 and w not in stop) for s in sentences]
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    terms = [t for t, _ in df.most_common(MAX_TERMS)]
    index = {t: i for i, t in enumerate(terms)}
    tf = np.zeros((n, len(terms)), dtype=np.float32)
    for row, c in enumerate(counts):
        for term, k in c.items():
            if (col := index.get(term)) is not None:
                tf[row, col] = k
    if checkpoint is not None:
        checkpoint(0.3)
    idf = np.log((1 + n) / (1 + np.array([df[t] for t in terms], dtype=np.float32))) + 1
    vectors = tf * idf
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0)
    out = similarity.sum(axis=1, keepdims=True)
    # a sentence like no other links to every sentence alike
    walk = np.divide(similarity, out, out=np.full_like(similarity, 1 / n), where=out > 0)
    rank = np.full(n, 1 / n)
    for step in range(200):
        nxt = (1 - DAMPING) / n + DAMPING * (walk.T @ rank)
        settled = float(np.abs(nxt - rank).sum()) < SETTLED
        rank = nxt
        if settled:
            break
        if checkpoint is not None and step % 10 == 9:
            checkpoint(0.3 + 0.6 * step / 200)
    return np.asarray(rank / rank.sum())


@cache
def stop_words() -> frozenset[str]:
    """English stop words (YAKE's list), which say nothing about which sentences are central."""
    return frozenset(yake.KeywordExtractor(lan="en").stopword_set)


def key_phrases(text: str, top: int, *, max_words: int = 3, language: str = "en") -> list[tuple[str, float]]:
    """The text's key phrases (YAKE), most relevant first, each with its relevance from 0 to 1
    (the most relevant 1)."""
    found: list[tuple[str, Any]] = yake.KeywordExtractor(lan=language, n=max_words, top=top).extract_keywords(text)
    if not found:
        return []
    best = float(found[0][1]) + 1e-9  # YAKE: the lower the score, the more relevant
    return [(phrase, round(best / (float(score) + 1e-9), 6)) for phrase, score in found]
