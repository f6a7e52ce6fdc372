"""``crypto-helper graph`` and :func:`engine.studio.graph.flow_graph`: the flow drawn as
Mermaid and DOT, every transition of the builder's semantics, labels always quoted."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from engine.cli import main
from engine.definitions import load_definitions
from engine.flow.schema import FlowConfig
from engine.studio.graph import ENDED, ENTRY, Edge, flow_edges, flow_graph, unreachable_steps

ROOT = Path(__file__).resolve().parents[3]
MERMAID_JS = ROOT / "engine" / "studio" / "assets" / "mermaid.tiny.js"  # the gallery's


@pytest.fixture(scope="module")
def shipped() -> FlowConfig:
    return load_definitions(ROOT / "config.yaml").flows[0]


def flow(steps: dict[str, dict[str, object]], **top: object) -> FlowConfig:
    return FlowConfig.model_validate(
        {"id": "demo", "start": next(iter(steps)), **top, "steps": steps}
    )


# -- a structural Mermaid reader: what the gallery's Mermaid must accept -------------------

_NODE = re.compile(
    r"^(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
    r'(?P<shape>\(\[|\{|\[/|\[)"(?P<label>[^"]*)"(?P<close>\]\)|\}|/\]|\])$'
)
_EDGE = re.compile(
    r'^(?P<src>[A-Za-z_][A-Za-z0-9_]*) (?P<arrow>-->|-\.->|==>)(?:\|"(?P<label>[^"]*)"\|)? '
    r"(?P<dst>[A-Za-z_][A-Za-z0-9_]*)$"
)
_CLOSING = {"([": "])", "{": "}", "[/": "/]", "[": "]"}
_MERMAID_KEYWORDS = {"end", "graph", "subgraph", "flowchart", "style", "class", "classDef"}


def read_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """Nodes (id → label) and edges (source, arrow, label, target) of our flowchart; fails
    on any line that is not one of the forms Mermaid's flowchart grammar defines."""
    lines = text.splitlines()
    assert text.endswith("\n")
    assert lines[1] == "flowchart TD", lines[:2]
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str, str]] = []
    for line in lines:
        if line.startswith("%%") or line == "flowchart TD":
            continue
        assert line.startswith("    "), line
        body = line.strip()
        if body.startswith(("classDef ", "class ")):
            continue
        if node := _NODE.match(body):
            assert _CLOSING[node["shape"]] == node["close"], line
            assert node["id"] not in _MERMAID_KEYWORDS and node["id"] not in nodes, line
            nodes[node["id"]] = node["label"]
        elif edge := _EDGE.match(body):
            edges.append((edge["src"], edge["arrow"], edge["label"] or "", edge["dst"]))
        else:
            raise AssertionError(f"not a Mermaid node or edge: {line!r}")
    for src, _, _, dst in edges:
        assert src in nodes and dst in nodes, (src, dst)
    return nodes, edges


with warnings.catch_warnings():
    # pydot 4.0 calls pyparsing's pre-3.0 names, which pyparsing 3.3 warns about.
    warnings.filterwarnings("ignore", r".* deprecated - use ", DeprecationWarning)
    import pydot
    import pydot.dot_parser


def read_dot(text: str) -> pydot.Dot:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r".* deprecated - use ", DeprecationWarning)
        graphs = pydot.graph_from_dot_data(text)
    assert graphs is not None and len(graphs) == 1
    return graphs[0]


def dot_label(item: pydot.Node | pydot.Edge) -> str:
    label = item.get_label()
    assert label.startswith('"') and label.endswith('"')
    return label[1:-1].replace('\\"', '"').replace("\\\\", "\\")


# -- the shipped flow ----------------------------------------------------------------------


def test_shipped_flow_mermaid(shipped: FlowConfig, snapshot) -> None:
    assert flow_graph(shipped) == snapshot


def test_shipped_flow_dot(shipped: FlowConfig, snapshot) -> None:
    assert flow_graph(shipped, "dot") == snapshot


def test_shipped_flow_mermaid_reads_back(shipped: FlowConfig) -> None:
    nodes, edges = read_mermaid(flow_graph(shipped))
    assert nodes == {
        "entry": "start",
        "s_source": "source (choice)",
        "s_target": "target (choice)",
        "s_margin": "margin (input)",
        "s_amount": "amount (input)",
        "s_result": "result (card)",
        "s_rates_unavailable": "rates_unavailable (card)",
        "s_cancelled": "cancelled (card)",
    }
    assert len(edges) == len(flow_edges(shipped))
    assert ("s_amount", "==>", "on_error (compute_quote failed)", "s_rates_unavailable") in edges
    assert ("s_rates_unavailable", "-.->", "button retry", "s_result") in edges
    assert ("entry", "-->", "", "s_source") in edges


def test_shipped_flow_dot_parses(shipped: FlowConfig) -> None:
    graph = read_dot(flow_graph(shipped, "dot"))
    assert graph.get_name() == '"exchange"'
    labels = {n.get_name(): dot_label(n) for n in graph.get_nodes()}
    assert labels["s_margin"] == "margin (input)" and labels["entry"] == "start"
    edges = {(e.get_source(), e.get_destination(), e.get("style")) for e in graph.get_edges()}
    assert len(graph.get_edges()) == len(flow_edges(shipped))
    assert ("s_amount", "s_rates_unavailable", "dashed") in edges
    assert ("s_target", "s_source", "dotted") in edges
    assert ("s_source", "s_target", "solid") in edges


def test_shipped_flow_transitions(shipped: FlowConfig) -> None:
    edges = {(e.source, e.target, e.label) for e in flow_edges(shipped)}
    assert {
        (ENTRY, "source", "start"),
        ("source", "target", "next"),
        ("target", "source", "button back"),  # Back: the previous step in file order
        ("source", "cancelled", "button cancel"),  # Cancel: the flow's on_cancel
        ("result", "amount", "button back"),  # Back: the declared back
        ("result", "result", "next (compute_quote done)"),  # a typed amount: a new card
        ("result", "source", "button new_deal"),
        ("rates_unavailable", "result", "button retry"),  # the failed step's next
        ("result", "margin", "button change_margin"),  # the flow's own goto button
        ("margin", "result", "answered after change_margin"),  # and back to the card
        ("result", "result", "button swap"),  # the reverse deal on a new card
        ("amount", "amount", "button fix_receive (when fixed=give)"),
    } <= edges
    assert not any("for_client" in label for _, _, label in edges)  # a send stays put
    assert not unreachable_steps(shipped)


# -- semantics and quoting -----------------------------------------------------------------


def test_cancel_without_on_cancel_ends_the_dialog() -> None:
    demo = flow({"pick": {"kind": "card", "buttons": ["cancel"]}})
    assert flow_edges(demo)[-1] == Edge("pick", ENDED, "button", "button cancel")
    nodes, edges = read_mermaid(flow_graph(demo))
    assert nodes["ended"] == "dialog ends"
    assert ("s_pick", "-.->", "button cancel", "ended") in edges
    assert "ended" in {n.get_name() for n in read_dot(flow_graph(demo, "dot")).get_nodes()}


def test_a_declared_back_without_a_back_button_is_no_way() -> None:
    demo = flow(
        {
            "one": {"kind": "card", "buttons": ["new_deal"]},
            "two": {"kind": "card", "back": "one"},
        }
    )
    assert [e.target for e in flow_edges(demo) if e.source == "two"] == []
    assert unreachable_steps(demo) == ["two"]


def test_step_ids_that_are_keywords_and_labels_with_quotes_arrows_and_hashes() -> None:
    odd = 'a "b" → #c\\'
    demo = flow(
        {
            "end": {
                "kind": "input",
                "input": {"type": "decimal"},
                "save_as": "x",
                "actions": [odd],
                "on_error": "node",
                "next": "graph",
            },
            "node": {"kind": "card", "buttons": ["retry", "back"]},
            "graph": {"kind": "card", "buttons": ["new_deal"]},
        }
    )
    nodes, edges = read_mermaid(flow_graph(demo))
    assert {"s_end", "s_node", "s_graph"} <= set(nodes)
    assert ("s_end", "==>", "on_error (a #quot;b#quot; → #35;c\\ failed)", "s_node") in edges
    graph = read_dot(flow_graph(demo, "dot"))
    by_pair = {
        (e.get_source(), e.get_destination()): dot_label(e)
        for e in graph.get_edges()
        if e.get_source() != "entry"  # the way in has no label
    }
    assert by_pair[("s_end", "s_node")] == f"on_error ({odd} failed)"
    assert by_pair[("s_node", "s_graph")] == "button retry"


def test_unreachable_steps_are_marked_in_both_formats() -> None:
    demo = flow(
        {
            "one": {"kind": "card", "buttons": ["new_deal"]},
            "lost": {
                "kind": "card",
                "next": "also_lost",
                "save_as": "x",
                "input": {"type": "decimal"},
                "keep_message": True,
            },
            "also_lost": {"kind": "card", "buttons": ["back"]},
        }
    )
    assert unreachable_steps(demo) == ["lost", "also_lost"]
    nodes, _ = read_mermaid(flow_graph(demo))
    assert nodes["s_lost"] == "lost (card), unreachable"
    assert "    class s_lost,s_also_lost unreachable" in flow_graph(demo).splitlines()
    dot_nodes = {n.get_name(): n for n in read_dot(flow_graph(demo, "dot")).get_nodes()}
    assert dot_nodes["s_also_lost"].get("style") == "dashed"
    assert dot_label(dot_nodes["s_one"]) == "one (card)"


def test_the_flows_own_buttons() -> None:
    demo = FlowConfig.model_validate(
        {
            "id": "demo",
            "start": "pick",
            "buttons": {
                "again": {"goto": "pick"},
                "flip": {"swap": ["a", "b"], "actions": ["compute_quote"], "next": "done"},
                "mode": {"set": {"m": "x"}, "when": {"m": "y"}},
                "copy": {"send": "client"},
            },
            "steps": {
                "pick": {
                    "kind": "choice",
                    "options": {"from": "currencies"},
                    "save_as": "a",
                    "next": "card",
                    "buttons": ["back"],
                },
                "card": {
                    "kind": "card",
                    "buttons": [["again", "flip"], ["mode", "copy"]],
                    "on_error": "oops",
                    "next": "done",
                },
                "done": {"kind": "card"},
                "oops": {"kind": "card", "buttons": ["retry"]},
            },
        }
    )
    edges = [(e.source, e.target, e.kind, e.label) for e in flow_edges(demo) if e.source != ENTRY]
    assert edges == [
        ("pick", "card", "next", "next"),
        ("card", "done", "next", "next"),
        ("card", "oops", "on_error", "on_error"),
        ("card", "pick", "button", "button again"),  # goto
        ("pick", "done", "next", "answered after again"),  # then on with card's next
        ("pick", "card", "button", "button back after again"),  # Back returns to the card
        ("card", "done", "button", "button flip"),  # swap, its actions, its next
        ("card", "oops", "on_error", "on_error (compute_quote failed after flip)"),
        ("card", "card", "button", "button mode (when m=y)"),  # set: the same step again
        ("oops", "done", "button", "button retry"),  # copy (send) stays: no edge
    ]
    assert read_mermaid(flow_graph(demo))[1][4] == ("s_card", "-.->", "button again", "s_pick")
    read_dot(flow_graph(demo, "dot"))


def test_an_unknown_format_is_refused(shipped: FlowConfig) -> None:
    with pytest.raises(ValueError, match="use one of mermaid, dot"):
        flow_graph(shipped, "svg")  # type: ignore[arg-type]


# -- the command ---------------------------------------------------------------------------


def test_graph_command(
    project: Path, capsys: pytest.CaptureFixture[str], shipped: FlowConfig
) -> None:
    assert main(["graph"]) == 0
    assert capsys.readouterr().out == flow_graph(shipped)
    assert main(["graph", "--format", "dot", "--flow", "exchange"]) == 0
    assert capsys.readouterr().out == flow_graph(shipped, "dot")


def test_graph_command_unknown_flow(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--flow", "exchnage"]) == 2
    assert capsys.readouterr().err == "crypto-helper graph: no flow 'exchnage'; flows: exchange\n"


def test_graph_command_on_a_broken_config(
    project: Path, edit, pos, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("flows/exchange.yaml", "    next: margin\n", "    next: margni\n")
    assert main(["graph"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"flows/exchange.yaml:{pos('flows/exchange.yaml', 'margni')}: "
        "steps.target.next: 'margni' is not a step of this flow"
    )


# -- Mermaid's own parser, in a headless Chromium (as the gallery draws the graph) -----------


def mermaid_parse(tmp_path: Path, graphs: dict[str, str]) -> dict[str, str]:
    """``name → "ok"`` or Mermaid's parse error, from mermaid.parse() in Chromium."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or not MERMAID_JS.is_file():
        pytest.skip(
            "needs Debian's chromium and the gallery's mermaid.tiny.js (.ci/run installs it)"
        )
    page = tmp_path / "parse.html"
    page.write_text(
        f"""<!doctype html><html><body><pre id="out">pending</pre>
<script src="{MERMAID_JS.as_uri()}"></script>
<script>
(async () => {{
  const out = {{}};
  for (const [name, text] of Object.entries({json.dumps(graphs)})) {{
    try {{ await mermaid.parse(text); out[name] = "ok"; }}
    catch (e) {{ out[name] = String(e.message || e); }}
  }}
  document.getElementById("out").textContent = JSON.stringify(out);
}})();
</script></body></html>""",
        encoding="utf-8",
    )
    dom = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    text = found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    return json.loads(text.replace("&amp;", "&"))


def test_mermaid_itself_parses_every_graph(tmp_path: Path, shipped: FlowConfig) -> None:
    odd = flow(
        {
            "end": {
                "kind": "input",
                "input": {"type": "decimal"},
                "save_as": "x",
                "actions": ['a "b" → #c\\'],
                "on_error": "node",
                "next": "graph",
            },
            "node": {"kind": "card", "buttons": ["retry", "back", "cancel"]},
            "graph": {"kind": "card", "buttons": ["new_deal"]},
            "lost": {"kind": "card", "back": "end"},
        }
    )
    assert unreachable_steps(odd) == ["lost"]
    results = mermaid_parse(
        tmp_path,
        {
            "shipped": flow_graph(shipped),
            "odd": flow_graph(odd),
            "broken on purpose": "flowchart TD\n    a --> |x b\n",
        },
    )
    assert results["shipped"] == "ok"
    assert results["odd"] == "ok"
    assert results["broken on purpose"].startswith("Parse error")  # the harness can fail
