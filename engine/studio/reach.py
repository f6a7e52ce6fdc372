"""``check``'s warning about steps that no path from ``start`` reaches.

A step nothing names at all is already an error of the flow's own checks
(:func:`engine.flow.loader.check_flow`). This finds the subtler ones: a step named only by
steps that are never shown themselves, only as ``back`` of a step without a Back button, or
the ``on_cancel`` step when no step shown has a Cancel button. Such a step is probably a
mistake but does no harm (the bot never shows it), so it is a warning: ``check`` still
passes and the bot still starts. The paths are the graph's (:func:`engine.studio.graph.
flow_edges`), so ``crypto-helper graph`` draws exactly what this reasons about.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from engine.config.source import load_yaml
from engine.errors import ConfigError, Problem
from engine.flow.schema import FlowConfig
from engine.studio.graph import flow_edges, step_buttons, unreachable_steps


def unreachable_warnings(flows: Sequence[tuple[Path, FlowConfig]]) -> list[Problem]:
    """A warning at the step's line for every step of each ``(file, flow)`` that no path
    from ``start`` reaches."""
    problems: list[Problem] = []
    for path, flow in flows:
        unreachable = unreachable_steps(flow)
        if not unreachable:
            continue
        try:
            _, smap = load_yaml(path)
        except ConfigError as exc:  # read a moment ago; changed since: say what is wrong now
            problems += exc.problems
            continue
        for step_id in unreachable:
            why = _why(flow, step_id, unreachable)
            message = f"no path from start reaches this step, so it is never shown{why}"
            found = smap.problem(("steps", step_id), message, key=True)
            problems.append(dataclasses.replace(found, warning=True))
    return problems


def _why(flow: FlowConfig, step_id: str, unreachable: Sequence[str]) -> str:
    """What leads to ``step_id`` that is not a way there, in plain words."""
    shown = [sid for sid in flow.steps if sid not in unreachable]
    buttons = {sid: step_buttons(flow.steps[sid]) for sid in shown}
    if step_id == flow.on_cancel and not any("cancel" in buttons[sid] for sid in shown):
        return (
            ": it is the flow's on_cancel, but no step that is shown has a cancel button; "
            "add cancel to a step's buttons, or remove this step and on_cancel"
        )
    no_button = [
        sid for sid in shown if flow.steps[sid].back == step_id and "back" not in buttons[sid]
    ]
    if no_button:
        return (
            f": step {no_button[0]!r} names it as back, but has no back button; add back to "
            "its buttons, or remove this step"
        )
    leading = list(
        dict.fromkeys(
            e.source for e in flow_edges(flow) if e.target == step_id and e.source != step_id
        )
    )
    if leading:
        names = ", ".join(repr(sid) for sid in leading)
        verb, those = ("leads", "that one") if len(leading) == 1 else ("lead", "those")
        return (
            f": only {names} {verb} here, and no path reaches {those} either; lead here from "
            "a step that is shown, or remove it"
        )
    return "; lead here from a step that is shown (next, on_error or a button), or remove it"
