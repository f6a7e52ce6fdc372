"""The flow's own buttons (``buttons:`` of a flow file), as pure functions of the answers.

Shared by the bot (:mod:`engine.flow.builder`) and the previews (:mod:`engine.preview`),
so ``crypto-helper check`` shows exactly the keyboard the bot sends. No aiogram here.

A button's widget id (the part of its callback data after the dialog's intent id) is
``<step>.<button>``, and ``<step>.<button>.<locale>`` for a send button with ``locales:
each``. Naming the step matters: a window edited in place keeps its message, so a second
quick tap arrives from the window this message showed before; the step in its id shows it
and the tap is ignored instead of acting on the next window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.config.models import AppConfig
from engine.flow.options import option_codes
from engine.flow.schema import FlowConfig

SEPARATOR = "."
#: The variable under which a window's getter lists the flow's own buttons it shows.
VISIBLE_KEY = "visible_buttons"


def button_id(step_id: str, name: str, locale: str | None = None) -> str:
    """A button's widget id: ``<step>.<button>`` (``.<locale>`` for a per-locale send)."""
    return SEPARATOR.join(part for part in (step_id, name, locale) if part)


def parse_button_id(widget_id: str) -> tuple[str, str, str | None]:
    """(step, button, locale or None) of a widget id made by :func:`button_id`."""
    step_id, _, rest = widget_id.partition(SEPARATOR)
    name, _, locale = rest.partition(SEPARATOR)
    return step_id, name, locale or None


def visible_buttons(
    flow: FlowConfig, config: AppConfig, step_id: str, data: Mapping[str, Any]
) -> list[str]:
    """The flow's own buttons of ``step_id`` that show for these answers: their ``when``
    holds and, for a swap, the exchanged answers are still choices their steps offer (the
    reverse direction is configured)."""
    answers = flow.answers(data)
    shown = []
    for name in flow.steps[step_id].button_names():
        spec = flow.buttons.get(name)
        if spec is None:
            continue
        if any(str(answers.get(key)) != value for key, value in spec.when.items()):
            continue
        if spec.swap is not None and not swap_valid(flow, config, spec.swap, answers):
            continue
        shown.append(name)
    return shown


def swap_valid(
    flow: FlowConfig, config: AppConfig, keys: Sequence[str], answers: Mapping[str, Any]
) -> bool:
    """Whether two answers, exchanged, are still choices their steps offer."""
    a, b = keys
    swapped = {**answers, a: answers.get(b), b: answers.get(a)}
    for step in flow.steps.values():
        key = step.save_as
        if step.kind != "choice" or key is None or key not in keys or step.options is None:
            continue
        if swapped[key] not in option_codes(step.options, config, swapped):
            return False
    return True


def swapped(keys: Sequence[str], data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with the two answers exchanged."""
    a, b = keys
    return {**data, a: data.get(b), b: data.get(a)}
