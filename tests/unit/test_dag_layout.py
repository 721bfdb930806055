"""The workflow graph's layout: layers by longest path, fewer crossings, boxes, edges and SVG."""

from __future__ import annotations

import itertools
import random
import re
import uuid
from xml.etree import ElementTree

from schemas.workflows import WorkflowNodeView
from services.gateway.ui.dag import (
    MAX_WAYPOINTS,
    NODE_HEIGHT,
    NODE_WIDTH,
    DagLayout,
    NodeBox,
    crossings,
    layers_of,
    layout,
    order_layers,
    render_svg,
    waypoints,
)

SVG = "{http://www.w3.org/2000/svg}"


def node(
    key: str,
    *depends_on: str,
    status: str = "waiting",
    job_id: uuid.UUID | None = None,
    for_each: str | None = None,
    items: tuple[int, int] | None = None,
    operation: str = "echo",
) -> WorkflowNodeView:
    """A node as GET /v1/workflows/{id} shows it."""
    return WorkflowNodeView(
        key=key,
        job_id=job_id,
        status=status,
        depends_on=list(depends_on),
        engine="general",
        operation=operation,
        for_each=for_each,
        items_total=None if items is None else items[1],
        items_finished=None if items is None else items[0],
        error=None,
        finished_at=None,
    )


def boxes(drawing: DagLayout) -> dict[str, tuple[int, int]]:
    """Each key's top-left corner."""
    return {box.key: (box.x, box.y) for box in drawing.nodes}


def parse(svg: str) -> ElementTree.Element:
    """The drawing read back as XML (our own markup, made in the test)."""
    return ElementTree.fromstring(svg)  # noqa: S314


def href(box: NodeBox) -> str | None:
    """Where a node opens: its job, a for_each node's item jobs once it has read its list."""
    if box.job_id is not None:
        return f"/ui/jobs/{box.job_id}"
    return f"/ui/jobs?node_key={box.key}" if box.counts else None


def test_layout_chain_runs_left_to_right_on_one_line() -> None:
    # Given a chain a → b → c
    nodes = [node("a"), node("b", "a"), node("c", "b")]
    # When it is laid out
    drawing = layout(nodes)
    # Then each node is one layer right of its parent, all at the same height
    at = boxes(drawing)
    assert [box.layer for box in drawing.nodes] == [0, 1, 2]
    assert at["a"][0] < at["b"][0] < at["c"][0]
    assert at["a"][1] == at["b"][1] == at["c"][1]
    assert drawing.width >= at["c"][0] + NODE_WIDTH
    assert drawing.height >= at["a"][1] + NODE_HEIGHT
    assert [(e.parent, e.child) for e in drawing.edges] == [("a", "b"), ("b", "c")]


def test_layout_diamond_puts_branches_in_one_layer_and_centres_the_join() -> None:
    # Given a diamond a → (b, c) → d
    nodes = [node("a"), node("b", "a"), node("c", "a"), node("d", "b", "c")]
    # When it is laid out
    at = boxes(layout(nodes))
    # Then b and c share a column, one above the other, and a and d sit between them
    assert at["b"][0] == at["c"][0]
    assert at["b"][1] < at["c"][1]
    middle = (at["b"][1] + at["c"][1]) // 2
    assert at["a"][1] == middle
    assert at["d"][1] == middle


def test_layout_long_edge_runs_between_the_boxes_it_passes() -> None:
    # Given d depending on a directly and through the chain b → c
    nodes = [node("a"), node("b", "a"), node("c", "b"), node("d", "a", "c")]
    # When it is laid out
    drawing = layout(nodes)
    at = boxes(drawing)
    # Then the edge a → d runs straight through a waypoint beside b and beside c, never across them
    long = next(e for e in drawing.edges if (e.parent, e.child) == ("a", "d"))
    straights = [(int(x), int(y)) for x, y in re.findall(r"L (\d+) (\d+)", long.d)]
    assert len(straights) == 2
    for (x, y), beside in zip(straights, ("b", "c"), strict=True):
        assert x == at[beside][0] + NODE_WIDTH
        assert not at[beside][1] <= y <= at[beside][1] + NODE_HEIGHT
    assert long.d.startswith(f"M {at['a'][0] + NODE_WIDTH} ")
    assert long.d.endswith(f"{at['d'][0]} {at['d'][1] + NODE_HEIGHT // 2}")


def test_layout_limits_waypoints_of_many_long_edges() -> None:
    # Given a chain of 120 nodes, each also depending on the root (7,000 layers skipped in all)
    nodes = [node("n000")]
    for i in range(1, 120):
        nodes.append(node(f"n{i:03d}", *(["n000"] if i == 1 else ["n000", f"n{i - 1:03d}"])))
    # When it is laid out
    _, _, via = waypoints({n.key: n.depends_on for n in nodes}, layers_of({n.key: n.depends_on for n in nodes}))
    drawing = layout(nodes)
    # Then at most MAX_WAYPOINTS are placed, and every edge is still drawn
    assert 0 < sum(len(chain) for chain in via.values()) <= MAX_WAYPOINTS
    assert len(drawing.edges) == 1 + 2 * 118


def test_layers_follow_the_longest_path_from_a_root() -> None:
    # Given c depending on a directly and through b, and an unrelated root z
    depends_on = {"a": [], "b": ["a"], "c": ["a", "b"], "z": []}
    # When layers are computed
    layer = layers_of(depends_on)
    # Then c is after b, not next to it
    assert layer == {"a": 0, "b": 1, "c": 2, "z": 0}


def test_order_layers_follows_parents_to_remove_a_crossing() -> None:
    # Given roots a, b and children submitted crosswise: x below b, y below a
    depends_on = {"a": [], "b": [], "x": ["b"], "y": ["a"]}
    layer = layers_of(depends_on)
    assert crossings(depends_on, [["a", "b"], ["x", "y"]]) == 1
    # When the layers are ordered
    rows = order_layers(depends_on, layer)
    # Then y comes before x and no edges cross
    assert rows == [["a", "b"], ["y", "x"]]
    assert crossings(depends_on, rows) == 0


def test_crossings_match_counting_every_pair() -> None:
    # Given random three-layer graphs, some edges skipping a layer, in random orders
    rng = random.Random(7)
    for _ in range(50):
        rows = [[f"n{layer}.{i}" for i in range(rng.randint(1, 6))] for layer in range(3)]
        depends_on: dict[str, list[str]] = {key: [] for key in rows[0]}
        for index in (1, 2):
            above = [key for row in rows[:index] for key in row]
            for key in rows[index]:
                depends_on[key] = rng.sample(above, rng.randint(0, len(above)))
        rows = [rng.sample(row, len(row)) for row in rows]
        # When crossings are counted
        counted = crossings(depends_on, rows)
        # Then they equal a count over every pair of edges between the same layers
        assert counted == brute_force_crossings(depends_on, rows)


def brute_force_crossings(depends_on: dict[str, list[str]], rows: list[list[str]]) -> int:
    """Every pair of edges between the same two layers whose ends swap order."""
    rank = {key: position for row in rows for position, key in enumerate(row)}
    layer = {key: index for index, row in enumerate(rows) for key in row}
    edges = [(parent, child) for child, parents in depends_on.items() for parent in parents]
    return sum(
        1
        for (a, b), (c, d) in itertools.combinations(edges, 2)
        if (layer[a], layer[b]) == (layer[c], layer[d]) and (rank[a] - rank[c]) * (rank[b] - rank[d]) < 0
    )


def test_layout_wide_fan_out_stacks_every_child_without_overlap() -> None:
    # Given one root with 40 children and a join below all of them
    children = [f"c{i:02d}" for i in range(40)]
    nodes = [node("root"), *(node(key, "root") for key in children), node("join", *children)]
    # When it is laid out
    drawing = layout(nodes)
    at = boxes(drawing)
    # Then the children form one column, in submission order, none overlapping, inside the canvas
    tops = [at[key][1] for key in children]
    assert len({at[key][0] for key in children}) == 1
    assert tops == sorted(tops)
    assert all(below - above >= NODE_HEIGHT for above, below in itertools.pairwise(tops))
    assert tops[0] >= 0
    assert tops[-1] + NODE_HEIGHT <= drawing.height
    assert len(drawing.edges) == 80


def test_layout_shows_for_each_counts() -> None:
    # Given a for_each node that finished 3 of its 5 items, and one that has not read its list
    nodes = [
        node("list", status="succeeded"),
        node("each", "list", status="running", for_each="list.result.value", items=(3, 5)),
        node("later", "list", status="waiting", for_each="list.result.value"),
    ]
    # When it is laid out and drawn
    drawing = layout(nodes)
    svg = render_svg(drawing, href)
    # Then the first counts its items and the other says nothing of items yet
    counts = {box.key: box.counts for box in drawing.nodes}
    assert counts == {"list": None, "each": "3/5", "later": None}
    assert "running · 3/5" in svg


def test_render_svg_links_nodes_and_colours_them_by_state() -> None:
    # Given a succeeded node with a job, a for_each node counting its items and one not yet ready
    job_id = uuid.uuid4()
    nodes = [
        node("a", status="succeeded", job_id=job_id),
        node("b", "a", status="running", for_each="a.result", items=(0, 2)),
        node("c", "a", status="waiting", for_each="a.result"),
    ]
    # When the graph is drawn
    root = parse(render_svg(layout(nodes), href))
    # Then a node links where `href` says (nowhere: a plain group), each with its state as class, data and words
    links = {a.get("data-key"): a for a in root.iter(f"{SVG}a")}
    assert links["a"].get("href") == f"/ui/jobs/{job_id}"
    assert links["a"].get("class") == "dag-node state-succeeded"
    assert links["a"].get("aria-label") == "a: ✓ succeeded, open its job"
    assert links["b"].get("href") == "/ui/jobs?node_key=b"
    assert links["b"].get("data-status") == "running"
    assert links["b"].get("aria-label") == "b: ▶ running · 0/2, open its jobs"
    group = root.find(f"{SVG}g[@data-key='c']")
    assert group is not None
    assert group.get("class") == "dag-node state-waiting"
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "✓ succeeded" in texts
    assert "general.echo" in texts
    assert len(root.findall(f"{SVG}path[@class='dag-edge']")) == 2


def test_render_svg_escapes_keys_and_operations() -> None:
    # Given names that would be markup if written raw
    nodes = [node('<b>&"x"', status="queued", operation="<script>alert(1)</script>")]
    # When the graph is drawn
    svg = render_svg(layout(nodes), href, title='a "quoted" <title>')
    # Then it is well-formed XML whose texts read back exactly, with no raw tag in it
    root = parse(svg)
    assert "<script>" not in svg
    assert "<b>" not in svg
    assert root.get("aria-label") == 'a "quoted" <title>'
    group = root.find(f"{SVG}g")
    assert group is not None
    assert group.get("data-key") == '<b>&"x"'
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert texts[0] == '<b>&"x"'
    assert texts[1].startswith("general.<script>")


def test_layout_empty_workflow_draws_an_empty_canvas() -> None:
    # Given no nodes
    # When laid out
    drawing = layout([])
    # Then nothing is drawn and the canvas is just its margins
    assert drawing.nodes == []
    assert drawing.edges == []
    assert drawing.width >= 0
    assert drawing.height >= 0
