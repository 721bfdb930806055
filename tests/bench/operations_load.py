"""Per-operation run times: each operation clients can submit, on a typical input, called in
this process as a worker calls it (params converted to their Struct, the function, the result
encoded) without the queue and the database around it, which the drain figures measure.

The typical input of a text operation is an article of about 1,000 words (1,000 characters
for language detection); the others run on their contract's example params. An example's
input artifacts are what the operations that make them saved in an earlier run (a card, a
speech, a slideshow): operations without inputs run first.
"""

from __future__ import annotations

import hashlib
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec

from actors.outcome import encode_result
from actors.sdk import FetchedArtifact, JobContext, PermanentError, _chunks, load_engines
from schemas.artifacts import ArtifactInput, ArtifactView, artifact_inputs

#: Sentences of the article the text operations read (about 1,000 words in all).
_SENTENCES = [
    "Remote work changed how small software teams plan their week.",
    "Most teams now write more and meet less, and the written plans last longer than the meetings did.",
    "A shared queue of background jobs lets a team hand slow work to machines and get on with the day.",
    "When a job fails at night, the person on call wants to know what failed, why, and whether it will retry.",
    "Good tools answer those questions on one page, without a search through logs.",
    "Customers rarely notice the queue until it is slow, and then they notice nothing else.",
    "Measuring the time from submission to start tells a team more than measuring the run alone.",
    "Priorities help only when the urgent work is rare; when everything is urgent, nothing is.",
    "A weekly review of failed jobs often finds the same three causes behind most of the failures.",
    "Fixing one of those causes is worth more than adding another retry.",
    "Teams that write down their limits, such as how many jobs may run at once, sleep better.",
    "The best dashboards are boring: they show the same numbers in the same places every day.",
]
ARTICLE = " ".join(_SENTENCES[i % len(_SENTENCES)] for i in range(55))
#: Operation → (what it runs on, its params).
TYPICAL: dict[str, tuple[str, dict[str, Any]]] = {
    "text_intelligence.summarize": ("article, ~1,000 words", {"text": ARTICLE, "ratio": 0.1}),
    "text_intelligence.sentiment": ("article, ~1,000 words", {"text": ARTICLE}),
    "text_intelligence.keywords": ("article, ~1,000 words", {"text": ARTICLE, "top": 10}),
    "text_intelligence.readability": ("article, ~1,000 words", {"text": ARTICLE}),
    "text_intelligence.detect_language": ("1,000 characters", {"text": ARTICLE[:1000]}),
}


#: At most this many seconds of runs per operation (a video takes seconds a run).
BUDGET_SECONDS = 10.0


class BenchContext(JobContext):
    """A job context whose artifacts are hashed and kept in a folder, not stored (this process
    has no database): an operation's own work is timed, not PostgreSQL's. Inputs are the last
    artifact saved under their name."""

    stored = False
    #: Artifact name → the file last saved under it, and its content type.
    made: dict[str, tuple[Path, str]] = {}
    folder = Path(tempfile.gettempdir())

    def save_artifact(self, name: str, content: Any, content_type: str) -> ArtifactView:
        self.stored = True
        digest, size = hashlib.sha256(), 0
        kept = self.folder / name
        with kept.open("wb") as out:
            for chunk in _chunks(content, 1 << 20):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        self.made[name] = (kept, content_type)
        return ArtifactView(name=name, content_type=content_type, size=size, sha256=digest.hexdigest())

    def fetch_artifact(self, ref: ArtifactInput) -> FetchedArtifact:
        if ref.name not in self.made:
            raise PermanentError(f"no operation run so far made {ref.name}")
        kept, content_type = self.made[ref.name]
        copy = self.workdir() / ref.name
        shutil.copyfile(kept, copy)
        return FetchedArtifact(ref.ref, copy, content_type, copy.stat().st_size, "")


def measure(runs: int = 20) -> list[dict[str, Any]]:
    """p50 and p95 milliseconds of each offered operation (but `general`'s diagnostics) over
    `runs` runs after a first one (also reported: it loads the libraries' tables), and what it
    ran on."""
    rows = []
    offered = [op for op in load_engines().operations() if not op.internal]
    offered.sort(key=lambda op: any(artifact_inputs(op.contract.example or {})))  # makers first
    BenchContext.folder = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    for op in offered:
        if op.engine == "general" and op.name != "echo":
            continue
        label, given = TYPICAL.get(op.key, ("contract example", op.contract.example or {}))
        times: list[float] = []
        ends = time.monotonic() + BUDGET_SECONDS
        while len(times) < runs + 1 and (len(times) < 3 or time.monotonic() < ends):
            ctx = BenchContext(uuid.uuid4(), "bench", op.engine, op.name, 1)
            started = time.perf_counter()
            try:
                encode_result(op, op.fn(ctx, msgspec.convert(given, op.params)))
            finally:
                ctx.discard_workdir()
            times.append((time.perf_counter() - started) * 1000)
        first, times = times[0], sorted(times[1:])  # the first run loads the operation's tables
        rows.append({
            "operation": op.key,
            "input": label + (" (artifact not stored)" if ctx.stored else ""),
            "p50_ms": statistics.median(times),
            "p95_ms": times[max(0, int(len(times) * 0.95) - 1)],
            "first_ms": first,
            "runs": len(times),
        })  # fmt: skip
    shutil.rmtree(BenchContext.folder, ignore_errors=True)
    return rows
