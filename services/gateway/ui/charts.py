"""The overview's chart: jobs finished per minute over the last hour, drawn as SVG geometry."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.stats import StatsBucket

WIDTH, HEIGHT = 640, 190
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 24, 30


@dataclass(frozen=True)
class Bar:
    """One rectangle of the chart, with what it counts (its tooltip)."""

    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass(frozen=True)
class Chart:
    """The bars, the y ticks (value, y) and x ticks (label, x) of a chart."""

    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[tuple[int, float]] = field(default_factory=list)
    x_ticks: list[tuple[str, float]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    bottom: float = HEIGHT - BOTTOM
    right: float = WIDTH - RIGHT
    total_succeeded: int = 0
    total_failed: int = 0


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return int(next(step * power for step in (1, 2, 5, 10) if step * power >= value))


def throughput_chart(buckets: Sequence[StatsBucket]) -> Chart:
    """Stacked bars per bucket (succeeded below, failed above), y in jobs per minute."""
    if not buckets:
        return Chart()
    top = nice_ceiling(max(b.succeeded + b.failed for b in buckets))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(buckets)
    base = TOP + plot_h
    bars: list[Bar] = []
    for index, bucket in enumerate(buckets):
        x = LEFT + index * step + step * 0.1
        at = f"{bucket.start:%H:%M} UTC"
        ok_h = plot_h * bucket.succeeded / top
        bad_h = plot_h * bucket.failed / top
        if bucket.succeeded:
            bars.append(Bar(x, base - ok_h, step * 0.8, ok_h, "succeeded", f"{at}: {bucket.succeeded} succeeded"))
        if bucket.failed:
            bars.append(Bar(x, base - ok_h - bad_h, step * 0.8, bad_h, "failed", f"{at}: {bucket.failed} failed"))
    ticks = sorted({0, top // 2, top}) if top > 1 else [0, 1]
    y_ticks = [(value, base - plot_h * value / top) for value in ticks]
    x_ticks = [(f"{b.start:%H:%M}", LEFT + i * step) for i, b in enumerate(buckets) if i % 10 == 0]
    return Chart(
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        total_succeeded=sum(b.succeeded for b in buckets),
        total_failed=sum(b.failed for b in buckets),
    )
