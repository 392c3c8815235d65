"""A model's lineage graph, drawn as inline SVG: the dataset versions it learned from, the jobs
that made each version (training, compression, import), its versions (compressed and fine-tuned
ones from their parents) and the endpoints serving them.

`gather_lineage` asks the services (the hub's versions with their lineage, the data service's
versions, serving's endpoints) for what the visitor may see; `draw_lineage` lays the graph out in
columns by longest path, so every arrow points right, and draws boxes and arrows. Every box is a
link (keyboard-focusable) with a <title>, and the page lists the same steps as text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from aicommons import data, models, serving
from aicommons.console.charts import PALETTE
from aicommons.console.locales import Translator
from aicommons.core.errors import NotFound
from aicommons.core.permissions import Actor

Kind = Literal["dataset", "job", "version", "endpoint"]
COLOURS: dict[str, str] = {
    "dataset": PALETTE[2],
    "job": PALETTE[6],
    "version": PALETTE[0],
    "endpoint": PALETTE[3],
}
BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 184, 54, 56, 18, 12
# What fits in a box: a Latin letter is one unit, a Chinese character two.
LABEL_UNITS = 24
ARROW_HEAD = (
    '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
    '<path d="M0,0 L10,5 L0,10 z" fill="#4a4f57"/></marker></defs>'
)


@dataclass(frozen=True)
class Node:
    key: str
    kind: Kind
    caption: str  # what it is: "Dataset version", "Training job", …
    label: str  # which one: "reviews v2", "v3 · production", …
    url: str | None = None


@dataclass
class Lineage:
    title: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, node: Node) -> str:
        self.nodes.setdefault(node.key, node)
        return node.key

    def link(self, source: str, target: str) -> None:
        if (source, target) not in self.edges:
            self.edges.append((source, target))

    def steps(self) -> list[tuple[Node, Node]]:
        """The arrows as (from, to) pairs, for the text that accompanies the drawing."""
        return [(self.nodes[a], self.nodes[b]) for a, b in self.edges]


# --- gathering --------------------------------------------------------------------------------


def gather_lineage(
    session: Session, actor: Actor, model_id: str, translator: Translator
) -> Lineage:
    """Everything upstream and downstream of a model's versions that the actor may see."""
    _ = translator.gettext
    model = models.get_model(session, actor, model_id)
    versions = models.list_versions(session, actor, model_id)
    lineage = Lineage(_("Lineage of {name}", name=model.name))
    aliases_of: dict[int, list[str]] = {}
    for alias, number in model.aliases.items():
        aliases_of.setdefault(number, []).append(alias)
    own = {v.id: v for v in versions}
    for version in versions:
        target = lineage.add(
            _version_node(
                model.id, version, aliases_of.get(version.number, []), translator
            )
        )
        inputs = [
            lineage.add(_dataset_node(session, actor, dv, translator))
            for dv in version.dataset_version_ids
        ]
        if version.parent_version_id:
            parent = own.get(version.parent_version_id)
            inputs.append(
                lineage.add(
                    _version_node(
                        model.id, parent, aliases_of.get(parent.number, []), translator
                    )
                    if parent
                    else _outside_version_node(
                        session, actor, version.parent_version_id, translator
                    )
                )
            )
        if version.job_id:
            job = lineage.add(
                Node(
                    f"job:{version.job_id}",
                    "job",
                    _job_caption(version.operation, translator),
                    version.operation,
                    f"/jobs/{version.job_id}",
                )
            )
            for source in inputs:
                lineage.link(source, job)
            lineage.link(job, target)
        else:
            for source in inputs:
                lineage.link(source, target)
    numbers = {v.number: v for v in versions}
    for endpoint in serving.list_endpoints(session, actor):
        if endpoint.model_id != model.id:
            continue
        served = numbers.get(_served_number(endpoint.version_ref, model))
        caption = (
            _("Endpoint")
            if endpoint.status == "active"
            else _("Endpoint ({status})", status=_(endpoint.status))
        )
        label = (
            endpoint.name
            if endpoint.version_ref.isdigit()
            else f"{endpoint.name} → {endpoint.version_ref}"
        )
        node = lineage.add(
            Node(
                f"endpoint:{endpoint.id}",
                "endpoint",
                caption,
                label,
                f"/endpoints/{endpoint.name}",
            )
        )
        if served is not None:
            lineage.link(f"version:{served.id}", node)
    return lineage


def _served_number(ref: str, model: models.ModelRead) -> int | None:
    """The version number an endpoint's reference (a number, an alias or `latest`) stands for now."""
    if ref == "latest":
        return model.latest_version
    if ref.isdigit():
        return int(ref)
    return model.aliases.get(ref)


def _version_node(
    model_id: str,
    version: models.ModelVersionRead,
    aliases: list[str],
    translator: Translator,
) -> Node:
    _ = translator.gettext
    if version.operation.startswith("compress."):
        caption = _("Compressed version")
    elif version.parent_version_id:
        caption = _("Fine-tuned version")
    else:
        caption = _("Model version")
    label = " · ".join([f"v{version.number}", *sorted(aliases)])
    return Node(
        f"version:{version.id}",
        "version",
        caption,
        label,
        f"/models/{model_id}?version={version.number}",
    )


def _hidden_node(key: str, kind: Kind, caption: str, translator: Translator) -> Node:
    """Something upstream in another org that the visitor may not see: the lineage may name it
    (it is part of how the model was made), but the box says so and links nowhere."""
    return Node(key, kind, caption, translator.gettext("not visible to you"))


def _outside_version_node(
    session: Session, actor: Actor, version_id: str, translator: Translator
) -> Node:
    """A parent in another model (a base model fine-tuned here), if the actor may see it."""
    caption = translator.gettext("Base model version")
    try:
        version = models.get_version(session, actor, version_id)
        parent_model = models.get_model(session, actor, version.model_id)
    except NotFound:
        return _hidden_node(f"version:{version_id}", "version", caption, translator)
    return Node(
        f"version:{version.id}",
        "version",
        caption,
        f"{parent_model.name} v{version.number}",
        f"/models/{parent_model.id}?version={version.number}",
    )


def _dataset_node(
    session: Session, actor: Actor, dataset_version_id: str, translator: Translator
) -> Node:
    caption = translator.gettext("Dataset version")
    try:
        version = data.get_version(session, actor, dataset_version_id)
        dataset = data.get_dataset(session, actor, version.dataset_id)
    except NotFound:  # another org's private data
        return _hidden_node(f"dataset:{dataset_version_id}", "dataset", caption, translator)
    return Node(
        f"dataset:{version.id}",
        "dataset",
        caption,
        f"{dataset.name} v{version.number}",
        f"/datasets/{dataset.id}/versions/{version.number}",
    )


def _job_caption(operation: str, translator: Translator) -> str:
    _ = translator.gettext
    if operation == "train":
        return _("Training job")
    if operation.startswith("compress."):
        return _("Compression job")
    if operation == "import":
        return _("Import job")
    return _("Job")


# --- drawing ----------------------------------------------------------------------------------


def columns_of(lineage: Lineage) -> list[list[str]]:
    """Nodes in columns: each one column right of its furthest input (longest path), endpoints last."""
    rank = dict.fromkeys(lineage.nodes, 0)
    # Longest paths settle within one pass per node of a DAG.
    for _ in range(len(lineage.nodes)):
        changed = False
        for source, target in lineage.edges:
            if rank[target] < rank[source] + 1:
                rank[target], changed = rank[source] + 1, True
        if not changed:
            break
    inner = [rank[k] for k, node in lineage.nodes.items() if node.kind != "endpoint"]
    last = max(inner, default=-1) + 1
    for key, node in lineage.nodes.items():
        if node.kind == "endpoint":
            rank[key] = last
    columns: list[list[str]] = [[] for _ in range(max(rank.values(), default=-1) + 1)]
    for key in lineage.nodes:
        columns[rank[key]].append(key)
    return [column for column in columns if column]


def _units(character: str) -> int:
    return 2 if unicodedata.east_asian_width(character) in "WF" else 1


def fitted(text: str, units: int = LABEL_UNITS) -> str:
    """The text, cut with an ellipsis where it would overflow its box."""
    used, kept = 0, []
    for character in text:
        used += _units(character)
        if used > units:
            return "".join(kept[:-1]) + "…"
        kept.append(character)
    return text


def draw_lineage(lineage: Lineage) -> Markup:
    """The graph as an SVG of boxes (linked where the visitor may open them) and arrows."""
    columns = columns_of(lineage)
    place: dict[str, tuple[float, float]] = {}
    for index, column in enumerate(columns):
        for row, key in enumerate(column):
            place[key] = (PAD + index * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
    rows = max((len(c) for c in columns), default=1)
    width = PAD * 2 + len(columns) * BOX_W + max(len(columns) - 1, 0) * GAP_X
    height = PAD * 2 + rows * BOX_H + (rows - 1) * GAP_Y
    parts = [
        f'<svg class="lineage" role="img" aria-labelledby="lineage-title" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f'<title id="lineage-title">{escape(lineage.title)}</title>',
        ARROW_HEAD,
    ]
    for source, target in lineage.edges:
        (x1, y1), (x2, y2) = place[source], place[target]
        start_x, start_y, end_x, end_y = (
            x1 + BOX_W,
            y1 + BOX_H / 2,
            x2 - 2,
            y2 + BOX_H / 2,
        )
        middle = (start_x + end_x) / 2
        parts.append(
            f'<path class="arrow" d="M{start_x:.0f},{start_y:.0f} C{middle:.0f},{start_y:.0f} {middle:.0f},{end_y:.0f} '
            f'{end_x:.0f},{end_y:.0f}" fill="none" stroke="#4a4f57" stroke-width="1.5" marker-end="url(#lineage-arrow)"/>'
        )
    for key, node in lineage.nodes.items():
        parts.append(_box(node, *place[key]))
    parts.append("</svg>")
    return Markup("".join(parts))


def _box(node: Node, x: float, y: float) -> str:
    colour = COLOURS[node.kind]
    box = (
        f'<g class="node node-{node.kind}" data-key="{escape(node.key)}"><title>{escape(node.caption)}: {escape(node.label)}</title>'
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#ffffff" stroke="{colour}" stroke-width="2"/>'
        f'<rect x="{x:.0f}" y="{y:.0f}" width="6" height="{BOX_H}" rx="2" fill="{colour}"/>'
        f'<text x="{x + 14:.0f}" y="{y + 20:.0f}" font-size="12" fill="#4a4f57">{escape(fitted(node.caption, LABEL_UNITS + 4))}</text>'
        f'<text x="{x + 14:.0f}" y="{y + 40:.0f}" font-size="14" font-weight="600" fill="#1a1a1a">{escape(fitted(node.label))}</text></g>'
    )
    if node.url is None:
        return box
    return f'<a href="{escape(node.url)}" aria-label="{escape(node.caption)}: {escape(node.label)}">{box}</a>'
