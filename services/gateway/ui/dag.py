"""A workflow's graph: its nodes laid out left to right by depth, and the SVG that draws them.

Pure: it takes the nodes as `GET /v1/workflows/{id}` shows them and returns boxes, edge paths
and markup. A node's layer is the length of the longest path from a root to it; within a layer,
nodes are ordered by the mean position of their parents (then of their children) so that edges
cross less, ties keeping the order in which they were submitted. An edge that skips layers
passes through a waypoint in each layer it crosses, which takes a place there as a node does, so
that it runs between the boxes instead of through them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from html import escape

import msgspec

from schemas.workflows import WorkflowNodeView, topological_order

NODE_WIDTH = 188
NODE_HEIGHT = 62
GAP_X = 56
GAP_Y = 18
MARGIN = 8
LABEL_CHARS = 24  # longer keys and operations are shortened, whole in the node's title
SWEEPS = 4
MAX_WAYPOINTS = 2000  # a long chain whose every node also hangs off the root would need O(n²)
WAYPOINT = "\x00"  # starts the keys of waypoints, which no node key can (schemas.workflows.NodeKey)

STATE_ICONS = {
    "scheduled": "◷",
    "waiting": "…",
    "queued": "○",
    "running": "▶",
    "retrying": "↻",
    "succeeded": "✓",
    "failed": "✕",
    "cancelled": "⊘",
}


class NodeBox(msgspec.Struct, frozen=True, kw_only=True):
    """A node's box: where it is drawn and what it says."""

    key: str
    operation: str  # engine.operation
    status: str
    job_id: uuid.UUID | None
    layer: int
    x: int
    y: int
    #: A for_each node's items, "finished/total" (None before it has read its list, or not for_each).
    counts: str | None


class EdgePath(msgspec.Struct, frozen=True, kw_only=True):
    """An edge from a parent's right side to a child's left side, as an SVG path."""

    parent: str
    child: str
    d: str


class DagLayout(msgspec.Struct, frozen=True, kw_only=True):
    """The whole drawing: boxes, edges and the size of the canvas."""

    nodes: list[NodeBox]
    edges: list[EdgePath]
    width: int
    height: int


def layers_of(depends_on: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each key's layer: 0 for a root, else one more than its deepest parent."""
    graph = _known(depends_on)
    layer: dict[str, int] = {}
    for key in topological_order(graph):
        layer[key] = max((layer[parent] + 1 for parent in graph[key]), default=0)
    return layer


def order_layers(depends_on: Mapping[str, Sequence[str]], layer: Mapping[str, int]) -> list[list[str]]:
    """The keys of each layer, top to bottom, ordered to reduce edge crossings."""
    graph = _known(depends_on)
    rows: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for key in graph:  # submission order first
        rows[layer[key]].append(key)
    children: dict[str, list[str]] = {key: [] for key in graph}
    for key, parents in graph.items():
        for parent in parents:
            children[parent].append(key)
    best, fewest = [list(row) for row in rows], crossings(graph, rows)
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        for index in range(1, len(rows)) if downward else range(len(rows) - 2, -1, -1):
            rows[index] = _by_barycentre(rows[index], graph if downward else children, _positions(rows))
        if (count := crossings(graph, rows)) < fewest:
            best, fewest = [list(row) for row in rows], count
    return best


def crossings(depends_on: Mapping[str, Sequence[str]], rows: Sequence[Sequence[str]]) -> int:
    """How many pairs of edges between the same two layers cross, for layers ordered as `rows`."""
    layer = {key: index for index, row in enumerate(rows) for key in row}
    rank = {key: position for row in rows for position, key in enumerate(row)}
    spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for child, parents in depends_on.items():
        for parent in parents:
            if parent in layer and child in layer:
                spans.setdefault((layer[parent], layer[child]), []).append((rank[parent], rank[child]))
    return sum(_inversions(edges) for edges in spans.values())


def _inversions(edges: list[tuple[int, int]]) -> int:
    """Pairs (a, b), (c, d) with a < c and b > d, counted with a Fenwick tree over b."""
    size = max(b for _, b in edges) + 1
    tree = [0] * (size + 1)
    count = seen = 0
    edges.sort()
    start = 0
    while start < len(edges):
        end = start
        while end < len(edges) and edges[end][0] == edges[start][0]:
            count += seen - _prefix(tree, edges[end][1])  # earlier parents' edges ending lower
            end += 1
        for _, b in edges[start:end]:
            index = b + 1
            while index <= size:
                tree[index] += 1
                index += index & -index
        seen, start = seen + end - start, end
    return count


def _prefix(tree: list[int], b: int) -> int:
    """How many inserted ends are at or above `b` (ranks 0…b)."""
    total, index = 0, b + 1
    while index > 0:
        total += tree[index]
        index -= index & -index
    return total


def waypoints(
    depends_on: Mapping[str, Sequence[str]], layer: Mapping[str, int]
) -> tuple[dict[str, list[str]], dict[str, int], dict[tuple[str, str], list[str]]]:
    """The graph with a waypoint in every layer an edge skips (up to MAX_WAYPOINTS in all): its
    depends_on, every key's layer, and each long edge's waypoints (parent, child) → keys, in order."""
    graph = _known(depends_on)
    expanded: dict[str, list[str]] = {key: [] for key in graph}
    layers = dict(layer)
    via: dict[tuple[str, str], list[str]] = {}
    budget = MAX_WAYPOINTS
    for child, parents in graph.items():
        for parent in parents:
            previous, skipped = parent, layer[child] - layer[parent] - 1
            if skipped > budget:  # past the budget an edge is drawn straight, across what it skips
                expanded[child].append(parent)
                continue
            budget -= skipped
            for depth in range(layer[parent] + 1, layer[child]):
                key = f"{WAYPOINT}{parent}>{child}>{depth}"
                expanded[key], layers[key], previous = [previous], depth, key
                via.setdefault((parent, child), []).append(key)
            expanded[child].append(previous)
    return expanded, layers, via


def layout(nodes: Sequence[WorkflowNodeView]) -> DagLayout:
    """The drawing of a workflow's nodes: layers left to right, each centred vertically."""
    depends_on = {node.key: node.depends_on for node in nodes}
    layer = layers_of(depends_on)
    graph, layers, via = waypoints(depends_on, layer)
    rows = order_layers(graph, layers)
    width, height, spot = _place(rows)
    boxes = [_box(node, layer[node.key], *spot[node.key]) for node in nodes]
    edges = [
        EdgePath(
            parent=parent,
            child=node.key,
            d=_edge([spot[k] for k in [parent, *via.get((parent, node.key), [])]], spot[node.key]),
        )
        for node in nodes
        for parent in node.depends_on
        if parent in spot
    ]
    return DagLayout(nodes=boxes, edges=edges, width=width, height=height)


def _place(rows: Sequence[Sequence[str]]) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """The canvas's width and height, and each key's top-left corner, its layer centred."""
    tallest = max((len(row) for row in rows), default=0)
    height = MARGIN * 2 + max(tallest * (NODE_HEIGHT + GAP_Y) - GAP_Y, 0)
    width = MARGIN * 2 + max(len(rows) * (NODE_WIDTH + GAP_X) - GAP_X, 0)
    spot: dict[str, tuple[int, int]] = {}
    for index, row in enumerate(rows):
        top = (height - (len(row) * (NODE_HEIGHT + GAP_Y) - GAP_Y)) // 2
        for rank, key in enumerate(row):
            spot[key] = (MARGIN + index * (NODE_WIDTH + GAP_X), top + rank * (NODE_HEIGHT + GAP_Y))
    return width, height, spot


def render_svg(drawing: DagLayout, href: Callable[[NodeBox], str | None], title: str = "Workflow graph") -> str:
    """The drawing as SVG markup, every text escaped; a node links to `href(box)` (None: nowhere),
    its job's page for a plain node, say, and its item jobs for a for_each node."""
    parts = [
        f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {drawing.width} {drawing.height}"'
        f' width="{drawing.width}" height="{drawing.height}" role="img" aria-label="{escape(title)}">',
        '<defs><marker id="dag-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7"'
        ' orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="dag-arrow"/></marker></defs>',
    ]
    parts += [
        f'<path class="dag-edge" data-parent="{escape(e.parent)}" data-child="{escape(e.child)}"'
        f' d="{e.d}" marker-end="url(#dag-arrow)"/>'
        for e in drawing.edges
    ]
    parts += [_node_markup(box, href(box)) for box in drawing.nodes]
    parts.append("</svg>")
    return "\n".join(parts)


def state_words(box: NodeBox) -> str:
    """What a node's box says of its state: icon, status and for_each counts."""
    icon = STATE_ICONS.get(box.status, "•")
    return f"{icon} {box.status}" + (f" · {box.counts}" if box.counts else "")


def _node_markup(box: NodeBox, href: str | None) -> str:
    key, operation, words = escape(box.key), escape(box.operation), escape(state_words(box))
    x, y = box.x, box.y
    inner = (
        f"<title>{key} — {operation} — {words}</title>"
        f'<rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="6" ry="6"/>'
        f'<text class="dag-key" x="{x + 10}" y="{y + 19}">{escape(_short(box.key))}</text>'
        f'<text class="dag-operation" x="{x + 10}" y="{y + 36}">{escape(_short(box.operation))}</text>'
        f'<text class="dag-state" x="{x + 10}" y="{y + 53}">{words}</text>'
    )
    attrs = f'class="dag-node state-{escape(box.status)}" data-key="{key}" data-status="{escape(box.status)}"'
    if href is None:
        return f'<g {attrs} aria-label="{key}: {words}">{inner}</g>'
    opens = "open its job" if box.job_id is not None else "open its jobs"
    return f'<a {attrs} href="{escape(href)}" aria-label="{key}: {words}, {opens}">{inner}</a>'


def _box(node: WorkflowNodeView, layer: int, x: int, y: int) -> NodeBox:
    counts = None
    if node.for_each is not None and node.items_total is not None:
        counts = f"{node.items_finished or 0}/{node.items_total}"
    return NodeBox(
        key=node.key,
        operation=f"{node.engine}.{node.operation}",
        status=node.status,
        job_id=node.job_id,
        layer=layer,
        x=x,
        y=y,
        counts=counts,
    )


def _edge(boxes: Sequence[tuple[int, int]], end: tuple[int, int]) -> str:
    """A curve from the first box's right side to `end`'s left side, straight through the
    waypoints (the boxes after the first) on the way."""
    x, y = boxes[0][0] + NODE_WIDTH, boxes[0][1] + NODE_HEIGHT // 2
    parts = [f"M {x} {y}"]
    for index, (bx, by) in enumerate([*boxes[1:], end]):
        x2, y2 = bx, by + NODE_HEIGHT // 2
        bend = (x2 - x) // 2
        parts.append(f"C {x + bend} {y}, {x2 - bend} {y2}, {x2} {y2}")
        x, y = x2, y2
        if index < len(boxes) - 1:  # through a waypoint
            x += NODE_WIDTH
            parts.append(f"L {x} {y}")
    return " ".join(parts)


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _known(depends_on: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    return {key: [parent for parent in parents if parent in depends_on] for key, parents in depends_on.items()}


def _positions(rows: Sequence[Sequence[str]]) -> dict[str, float]:
    """Each key's height in its layer as a fraction, so layers of different sizes compare."""
    return {key: (rank + 0.5) / len(row) for row in rows for rank, key in enumerate(row)}


def _by_barycentre(
    row: Sequence[str], neighbours: Mapping[str, Sequence[str]], place: Mapping[str, float]
) -> list[str]:
    def weight(key: str) -> float:
        around = neighbours[key]
        return sum(place[k] for k in around) / len(around) if around else place[key]

    return sorted(row, key=weight)  # stable: ties keep their order
