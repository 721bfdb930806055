"""The templates of the local composer's creative writing (actors/creative_composer.py): per
angle of brainstorm, per kind of outline. Each reads with any topic, a noun phrase ("remote
onboarding") or a clause ("why background jobs need retries"): the topic comes after "about",
"on", "at" or a colon, and where a template needs a noun phrase it has a variant for clauses.

Slots: {topic}, {Topic}, {audience} ("you" when none), {for_audience} (" for …" or nothing);
with a source, {p0}, {p1} (its key phrases, {P0}, {P1} capitalised); in outlines {stakes} (what
the piece is about, phrased for the topic's shape).
"""

from __future__ import annotations

from typing import NamedTuple


class AngleTemplate(NamedTuple):
    title: str
    clause_title: str
    #: The pitch from the topic and audience alone.
    pitch: str
    #: The pitch with the source's key phrases (None: the pitch above).
    sourced: str | None = None
    #: The title with two key phrases (None: the title above).
    sourced_title: str | None = None


ANGLE_TEMPLATES: dict[str, AngleTemplate] = {
    "how-to": AngleTemplate(
        "How to get started with {topic}",
        "{Topic}: a step-by-step guide",
        "A practical, step-by-step guide{for_audience} on {topic}: where to start, what to do first, "
        "and how to tell it is working.",
        "A practical, step-by-step guide{for_audience}, starting with {p0} and working up to {p1}.",
    ),
    "listicle": AngleTemplate(
        "7 things {audience} should know about {topic}",
        "7 things {audience} should know about {topic}",
        "Seven short, skimmable points on {topic}, each one something {audience} can act on the same day.",
        "Seven short, skimmable points on {topic}, covering {p0}, {p1} and more.",
    ),
    "myth-busting": AngleTemplate(
        "{Topic}: the myths that hold people back",
        "{Topic}: the myths that hold people back",
        "Takes the most common beliefs about {topic}, tests each against what actually happens, "
        "and says which ones hold up.",
        "Takes the common beliefs about {p0} and tests each against what actually happens.",
    ),
    "case study": AngleTemplate(
        "How one team made {topic} work",
        "{Topic}: one team's story",
        "One team's experience with the problem, told start to finish: what went wrong, what they tried, "
        "and what changed, as a lesson on {topic}.",
        "A real rollout told start to finish: the problem, what they tried with {p0}, and what changed.",
    ),
    "contrarian": AngleTemplate(
        "Why {topic} is not always the answer",
        "{Topic}: the case against the usual advice",
        "Questions the usual advice on {topic}: where it does not pay off, and what {audience} can do instead.",
        "Questions the usual advice on {p0}: where it does not pay off, and what {audience} can do instead.",
    ),
    "beginner's guide": AngleTemplate(
        "{Topic} for beginners",
        "{Topic}, explained for beginners",
        "Explains the basics of {topic} from scratch{for_audience}, with no jargon and one worked example.",
        "Explains the basics of {topic} from scratch{for_audience}, with {p0} as the first example.",
    ),
    "by the numbers": AngleTemplate(
        "{Topic} by the numbers",
        "{Topic}, by the numbers",
        "The figures behind {topic} that {audience} should know: what they show, and what they leave out.",
        "The figures that matter about {p0}: what they show, and what they leave out.",
    ),
    "mistakes to avoid": AngleTemplate(
        "5 mistakes to avoid with {topic}",
        "{Topic}: 5 mistakes to avoid",
        "The five most common mistakes, why each one happens and how to avoid it: a practical take on {topic}.",
        "The five most common mistakes with {p0} and {p1}, and how to avoid each one.",
    ),
    "future trends": AngleTemplate(
        "Where {topic} is heading next",
        "{Topic}: what changes next",
        "A look ahead at {topic}: what is changing, what is hype, and how {audience} can get ready.",
        "A look ahead at {p0} and {p1}: what is changing, and how {audience} can get ready.",
    ),
    "behind the scenes": AngleTemplate(
        "Behind the scenes of {topic}",
        "{Topic}: behind the scenes",
        "An inside look at {topic}: the people, the tools and the trade-offs that rarely get mentioned.",
        "An inside look at {topic}: {p0} day to day, and the trade-offs that rarely get mentioned.",
    ),
    "comparison": AngleTemplate(
        "{Topic}: the options compared",
        "{Topic}: the options compared",
        "Sets the main options on {topic} side by side (cost, effort and risk) and ends with a clear "
        "recommendation{for_audience}.",
        "Compares {p0} and {p1} side by side{for_audience}, ending with a clear recommendation.",
        "{P0} or {p1}: which fits?",
    ),
    "checklist": AngleTemplate(
        "The {topic} checklist",
        "{Topic}: a checklist",
        "Everything to check on {topic} before starting, in one list{for_audience} to print and tick off.",
        "Everything to check before starting, in one list, from {p0} to {p1}.",
    ),
}
OWN_ANGLE = AngleTemplate(
    "{Topic}: {angle}",
    "{Topic}: {angle}",
    "A piece on {topic} from the angle of {angle}{for_audience}.",
    "A piece on {topic} from the angle of {angle}{for_audience}, drawing on {p0}.",
)

Section = tuple[str, list[str]]


class KindTemplate(NamedTuple):
    title: str
    #: Who the piece is for when no audience is given.
    reader: str
    opening: Section
    closing: Section
    #: The kind's own sections, after those from the source's key phrases.
    body: list[Section]


KINDS: dict[str, KindTemplate] = {
    "talk": KindTemplate(
        "{Topic}: lessons learned",
        "the audience",
        (
            "Opening",
            [
                "The case in one story: a failure {audience} will recognise",
                "{stakes}",
                "The three things this talk covers",
            ],
        ),
        ("Closing and Q&A", ["Recap: the main points on one slide", "One thing to try next week", "Take questions"]),
        [
            ("The problem", ["What goes wrong today, shown with one real example", "What it costs when nobody acts"]),
            ("The idea", ["The core idea in one sentence", "One diagram that makes it obvious"]),
            ("In practice", ["How a real team applied it", "The numbers before and after"]),
            ("Trade-offs", ["Where it does not pay off", "What to watch out for"]),
            ("Lessons learned", ["What we would do again", "What we would do differently"]),
        ],
    ),
    "blog_post": KindTemplate(
        "{Topic}: what {audience} should know",
        "readers",
        ("Introduction", ["{stakes}", "What this post covers"]),
        ("Conclusion", ["The one thing to remember", "What to do next"]),
        [
            ("The short answer", ["The answer in two sentences", "Who it matters to most"]),
            ("How it works", ["The moving parts, explained simply", "One worked example"]),
            ("Step by step", ["The first step, and why it comes first", "What comes next, and how long it takes"]),
            ("Common mistakes", ["The mistake most people make", "How to avoid it"]),
            ("Further reading", ["Three sources worth the time", "Where to ask questions"]),
        ],
    ),
    "video_script": KindTemplate(
        "{Topic}, in five minutes",
        "viewers",
        ("Hook", ["Open on the problem, in the first five seconds", "{stakes}"]),
        ("Call to action", ["Recap in one line", "Point {audience} to one next step"]),
        [
            ("The problem", ["Show the problem on screen", "Why it keeps happening"]),
            ("The explanation", ["The idea, with one simple visual", "Keep it under a minute"]),
            ("Demo", ["Walk through a real example", "Zoom in on the detail that matters"]),
            ("The mistake to avoid", ["Show the mistake happening", "Show the fix"]),
            ("Recap", ["The three takeaways on screen", "One line to remember"]),
        ],
    ),
    "newsletter": KindTemplate(
        "This week: {topic}",
        "readers",
        ("This issue", ["The lead story: {topic}", "Why it matters to {audience} this week"]),
        ("Until next time", ["One link worth reading", "What the next issue covers"]),
        [
            ("The big story", ["What happened, in three sentences", "What it means for {audience}"]),
            ("Quick hits", ["Three short items worth knowing", "The number of the week"]),
            ("From the field", ["A reader's question, answered", "A tip to use today"]),
            ("Tools and resources", ["One tool worth trying", "One guide worth saving"]),
        ],
    ),
    "report": KindTemplate(
        "{Topic}: findings and recommendations",
        "the reader",
        ("Summary", ["Scope: {topic}", "The main finding in one sentence", "Who should read on"]),
        ("Recommendations", ["What to do first, and who owns it", "What to measure to know it worked"]),
        [
            ("Background", ["Why this was looked at, and the scope", "What was already known"]),
            ("Method", ["The data used, and how it was gathered", "The limits of the method"]),
            ("Findings", ["The main finding, with its evidence", "The findings that surprised"]),
            ("Risks", ["What could go wrong", "How likely and how costly each risk is"]),
            ("Costs and benefits", ["What it costs, up front and over time", "What it saves"]),
        ],
    ),
}
