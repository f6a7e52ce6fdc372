"""A flow as a graph: its steps, every way from one to another, and the steps no path reaches.

:func:`flow_edges` is the one reading of a flow's transitions, as the generated dialog runs
them (:mod:`engine.flow.builder`):

* ``next``: a choice made, a number accepted (after the step's ``actions`` succeed);
* ``on_error``: the step's actions failed (no rate);
* buttons: ``back`` goes to ``back`` (else the previous step in file order), ``cancel`` to
  the flow's ``on_cancel`` (without one the dialog ends), ``new_deal`` to ``start``,
  ``retry`` runs the failed step's actions again and goes on to that step's ``next``;
  the flow's own buttons as :func:`_own_button_edges` says (``goto``, ``swap``, ``set``;
  a ``send`` button stays on its window, so it is no edge).

A declared ``back`` on a step without a Back button is no way anywhere, and neither is a
``/cancel`` command (it ends the dialog), so neither is an edge. :func:`flow_graph` prints
the edges as Mermaid (what the gallery embeds) or Graphviz DOT; :func:`unreachable_steps`
walks them from ``start`` for ``crypto-helper check``.

Why hand-written: the text is a few lines per step, and the Python libraries that write
DOT (graphviz, pydot) would add a runtime dependency for quoting one string; none writes
Mermaid. The tests parse the DOT with pydot and the Mermaid structurally.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from engine.flow.schema import FlowConfig, StepConfig

GraphFormat = Literal["mermaid", "dot"]
GRAPH_FORMATS: tuple[GraphFormat, ...] = ("mermaid", "dot")
EdgeKind = Literal["start", "next", "on_error", "button"]

# Nodes that are not steps. Step nodes are named "s_<step id>", so no step id (nor a Mermaid
# or DOT keyword such as ``end`` or ``node``) can clash with them.
ENTRY = "entry"
ENDED = "ended"
ENTRY_LABEL = "start"
ENDED_LABEL = "dialog ends"


@dataclass(frozen=True, slots=True)
class Edge:
    """One way from ``source`` to ``target`` (step ids, or :data:`ENTRY` / :data:`ENDED`)."""

    source: str
    target: str
    kind: EdgeKind
    label: str


def step_buttons(step: StepConfig) -> list[str]:
    """The names of a step's buttons, row after row (a ``[list]`` in ``buttons`` is a row)."""
    names: list[str] = []
    for item in step.buttons:
        names += item if isinstance(item, list) else [item]
    return names


def flow_edges(flow: FlowConfig) -> list[Edge]:
    """Every transition of ``flow``, in file order, each once.

    Targets that are not steps of the flow (a typo ``check`` reports) are left out.
    """
    edges: list[Edge] = [Edge(ENTRY, flow.start, "start", ENTRY_LABEL)]
    failed_by: dict[str, list[str]] = {}  # on_error step -> the steps whose actions failed
    for step_id, step in flow.steps.items():
        if step.on_error:
            failed_by.setdefault(step.on_error, []).append(step_id)
    for step_id, step in flow.steps.items():
        if step.next:
            label = f"next ({', '.join(step.actions)} done)" if step.actions else "next"
            edges.append(Edge(step_id, step.next, "next", label))
        if step.on_error:
            failed = f"on_error ({', '.join(step.actions)} failed)"
            label = failed if step.actions else "on_error"
            edges.append(Edge(step_id, step.on_error, "on_error", label))
        for button in step_buttons(step):
            if button in flow.buttons:
                edges += _own_button_edges(flow, step_id, button)
                continue
            for target in _button_targets(flow, step_id, button, failed_by):
                edges.append(Edge(step_id, target, "button", f"button {button}"))
    known = {*flow.steps, ENTRY, ENDED}
    seen: set[Edge] = set()
    unique = []
    for edge in edges:
        if edge.target in known and edge not in seen:
            seen.add(edge)
            unique.append(edge)
    return unique


def _own_button_edges(flow: FlowConfig, step_id: str, name: str) -> list[Edge]:
    """Where one of the flow's own buttons (``buttons:`` of the flow file) leads from
    ``step_id``: ``goto`` to that step, and, once it is answered, on with ``step_id``'s
    actions and next (Back there returns here too); ``swap``/``set`` run the button's
    actions, then its ``next`` (else this step again), on failure this step's on_error;
    ``send`` sends a message and stays."""
    spec = flow.buttons[name]
    step = flow.steps[step_id]
    when = ", ".join(f"{key}={value}" for key, value in spec.when.items())
    label = f"button {name}" + (f" (when {when})" if when else "")
    if spec.goto is not None:
        edges = [Edge(step_id, spec.goto, "button", label)]
        if spec.goto in flow.steps:
            edges.append(Edge(spec.goto, step.next or step_id, "next", f"answered after {name}"))
            if "back" in step_buttons(flow.steps[spec.goto]):
                edges.append(Edge(spec.goto, step_id, "button", f"button back after {name}"))
        return edges
    if spec.swap is not None or spec.set is not None:
        edges = [Edge(step_id, spec.next or step_id, "button", label)]
        if spec.actions and step.on_error:
            failed = f"on_error ({', '.join(spec.actions)} failed after {name})"
            edges.append(Edge(step_id, step.on_error, "on_error", failed))
        return edges
    return []  # send: a message of its own below; the window stays


def _button_targets(
    flow: FlowConfig, step_id: str, button: str, failed_by: dict[str, list[str]]
) -> list[str]:
    if button == "back":
        target = flow.back_of(step_id)
        return [target] if target else []
    if button == "cancel":
        return [flow.on_cancel or ENDED]
    if button == "new_deal":
        return [flow.start]
    if button == "retry":
        return [n for failed in failed_by.get(step_id, ()) if (n := flow.steps[failed].next)]
    return []


def unreachable_steps(flow: FlowConfig) -> list[str]:
    """The steps, in file order, that no path of :func:`flow_edges` reaches from ``start``."""
    out: dict[str, list[str]] = {}
    for edge in flow_edges(flow):
        out.setdefault(edge.source, []).append(edge.target)
    reached = {ENTRY}
    todo = [ENTRY]
    while todo:
        for target in out.get(todo.pop(), ()):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    return [step_id for step_id in flow.steps if step_id not in reached]


def flow_graph(flow: FlowConfig, fmt: GraphFormat = "mermaid") -> str:
    """``flow`` as Mermaid ``flowchart`` text or a Graphviz ``digraph``, ending in a newline.

    Steps are labelled with their id and kind and shaped by it (choice: a diamond, input: a
    parallelogram, card: a box); ``next`` edges are solid, ``on_error`` edges thick in
    Mermaid and dashed in DOT, buttons dotted; steps no path reaches are marked
    "unreachable". Every label is quoted, so any text (``→``, quotes) is valid.
    """
    if fmt == "mermaid":
        return _mermaid(flow)
    if fmt == "dot":
        return _dot(flow)
    raise ValueError(f"unknown graph format {fmt!r}: use one of {', '.join(GRAPH_FORMATS)}")


def _step_label(flow: FlowConfig, step_id: str, unreachable: Iterable[str]) -> str:
    label = f"{step_id} ({flow.steps[step_id].kind})"
    return f"{label}, unreachable" if step_id in unreachable else label


def _node_id(node: str) -> str:
    return node if node in (ENTRY, ENDED) else f"s_{node}"


def _nodes(flow: FlowConfig, edges: list[Edge]) -> list[str]:
    ended = any(edge.target == ENDED for edge in edges)
    return [ENTRY, *flow.steps, *([ENDED] if ended else [])]


# -- Mermaid ----------------------------------------------------------------------------

_MERMAID_ARROWS: dict[EdgeKind, str] = {
    "start": "-->",
    "next": "-->",
    "on_error": "==>",
    "button": "-.->",
}


def _mermaid_text(text: str) -> str:
    """A quoted Mermaid label: ``"`` and ``#`` written as entity codes, the rest as is."""
    return '"' + text.replace("#", "#35;").replace('"', "#quot;") + '"'


def _mermaid(flow: FlowConfig) -> str:
    edges = flow_edges(flow)
    unreachable = unreachable_steps(flow)
    lines = [f"%% flow {flow.id}", "flowchart TD"]
    for node in _nodes(flow, edges):
        if node == ENTRY:
            lines.append(f"    {ENTRY}([{_mermaid_text(ENTRY_LABEL)}])")
        elif node == ENDED:
            lines.append(f"    {ENDED}([{_mermaid_text(ENDED_LABEL)}])")
        else:
            shape = {"choice": "{{{}}}", "input": "[/{}/]", "card": "[{}]"}[flow.steps[node].kind]
            text = _mermaid_text(_step_label(flow, node, unreachable))
            lines.append(f"    {_node_id(node)}{shape.format(text)}")
    for edge in edges:
        arrow = _MERMAID_ARROWS[edge.kind]
        label = "" if edge.kind == "start" else f"|{_mermaid_text(edge.label)}|"
        lines.append(f"    {_node_id(edge.source)} {arrow}{label} {_node_id(edge.target)}")
    if unreachable:
        lines.append("    classDef unreachable stroke-dasharray: 4 4,color:#888")
        ids = ",".join(_node_id(step_id) for step_id in unreachable)
        lines.append(f"    class {ids} unreachable")
    return "\n".join(lines) + "\n"


# -- DOT --------------------------------------------------------------------------------

_DOT_STYLES: dict[EdgeKind, str] = {
    "start": "solid",
    "next": "solid",
    "on_error": "dashed",
    "button": "dotted",
}
_DOT_SHAPES = {"choice": "diamond", "input": "parallelogram", "card": "box"}


def _dot_text(text: str) -> str:
    """A quoted DOT ID: backslashes and double quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot(flow: FlowConfig) -> str:
    edges = flow_edges(flow)
    unreachable = unreachable_steps(flow)
    lines = [f"digraph {_dot_text(flow.id)} {{", "    rankdir=TB;"]
    for node in _nodes(flow, edges):
        if node in (ENTRY, ENDED):
            label = ENTRY_LABEL if node == ENTRY else ENDED_LABEL
            attrs = f"label={_dot_text(label)}, shape=oval"
        else:
            shape = _DOT_SHAPES[flow.steps[node].kind]
            attrs = f"label={_dot_text(_step_label(flow, node, unreachable))}, shape={shape}"
            if node in unreachable:
                attrs += ", style=dashed, fontcolor=gray40"
        lines.append(f"    {_node_id(node)} [{attrs}];")
    for edge in edges:
        attrs = f"style={_DOT_STYLES[edge.kind]}"
        if edge.kind != "start":
            attrs = f"label={_dot_text(edge.label)}, {attrs}"
        lines.append(f"    {_node_id(edge.source)} -> {_node_id(edge.target)} [{attrs}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
