"""Pydantic models of a flow file (``flows/*.yaml``).

A flow is an ordered mapping of steps. Step ids become aiogram state names and parts of
callback_data, so they are snake_case and renaming one is a migration.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
StepKind = Literal["choice", "input", "card"]
NavButton = Literal["back", "cancel", "new_deal", "retry"]
NAV_BUTTONS: tuple[NavButton, ...] = ("back", "cancel", "new_deal", "retry")
#: A button a step shows: a navigation button or one of the flow's own ``buttons``.
ButtonRef = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
AnswerKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Model):
    """How typed text is parsed and which values are accepted.

    ``type``:
        ``decimal``: a plain number within ``min``..``max``;
        ``percent``: the same, and a trailing ``%`` is accepted;
        ``amount``: a sum of money in the currency saved under ``currency``; its min, max
        and decimals come from config.yaml unless given here.
    """

    type: Literal["decimal", "percent", "amount"] = Field(
        description="decimal: a plain number; percent: the same, a trailing % allowed; "
        "amount: money in the currency named by 'currency' (its limits from config.yaml)"
    )
    min: Annotated[Decimal, Field(allow_inf_nan=False)] | None = Field(
        default=None, description="the smallest number accepted"
    )
    max: Annotated[Decimal, Field(allow_inf_nan=False)] | None = Field(
        default=None, description="the largest number accepted"
    )
    max_decimals: int | None = Field(
        default=None, ge=0, le=12, description="at most this many decimals may be typed"
    )
    currency: str | dict[str, str] | None = Field(
        default=None,
        description="for type amount: the saved value holding the currency code, or a "
        "choice by another answer: {by: fixed, give: give, receive: get} reads the "
        "currency from 'give' while fixed is give, from 'get' while it is receive (the "
        "first case when the answer is not given yet)",
    )

    def currency_key(self, answers: Mapping[str, Any]) -> str | None:
        """The saved value holding this amount's currency, for these answers."""
        if not isinstance(self.currency, dict):
            return self.currency
        cases = {k: v for k, v in self.currency.items() if k != "by"}
        value = str(answers.get(self.currency.get("by", ""), ""))
        return cases.get(value, next(iter(cases.values()), None))


class OptionsSpec(_Model):
    """Where a choice step's buttons come from.

    ``from: directions``: the currencies a client may give (the keys of ``directions``);
    with ``of: <saved value>``, the currencies a client may receive for that currency.
    ``from: currencies``: every configured currency.
    """

    from_: Literal["directions", "currencies"] = Field(
        alias="from",
        description="directions: the currencies a client may give (or, with 'of', get); "
        "currencies: every currency of config.yaml",
    )
    of: str | None = Field(
        default=None,
        description="the saved answer (like give) whose directions list the buttons: what "
        "a client may get for it",
    )


class StepConfig(_Model):
    """One window of the dialog.

    ``input`` (with ``save_as``, ``next`` and optionally ``actions``/``on_error``) is what an
    ``input`` step reads; a ``card`` with ``keep_message`` may take it too, to answer typed
    text below itself (the result card requotes another amount).
    """

    kind: StepKind = Field(
        description="choice: currency buttons; input: the admin types a number (or taps a "
        "preset); card: shows a result with navigation buttons"
    )
    template: str | None = Field(
        default=None,
        description="the window's text: templates/<locale>/<template>.j2; defaults to the step id",
    )
    options: OptionsSpec | None = Field(
        default=None, description="a choice step: where its currency buttons come from"
    )
    columns: int = Field(
        default=3, ge=1, le=8, description="how many currency or preset buttons share a row"
    )
    save_as: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = Field(
        default=None,
        description="the name the answer is kept under (like give, margin), for later steps "
        "and the texts",
    )
    input: InputSpec | None = Field(
        default=None, description="an input step (or a kept card): how typed text is read"
    )
    presets: list[Annotated[Decimal, Field(allow_inf_nan=False)]] = Field(
        default_factory=list,
        description="an input step: numbers offered as buttons, like [0.5, 1, 1.5]",
    )
    actions: list[str] = Field(
        default_factory=list,
        description="what runs once the step is answered, like [compute_quote]; on failure "
        "the dialog goes to on_error",
    )
    next: StepId | None = Field(default=None, description="the step shown once this is answered")
    back: StepId | None = Field(
        default=None, description="where Back goes; default: the step above in this file"
    )
    on_error: StepId | None = Field(
        default=None,
        description="the step shown when the actions fail (no rate): its Retry runs them again",
    )
    buttons: list[ButtonRef | list[ButtonRef]] = Field(
        default_factory=list,
        description="the buttons under the window: back, cancel, new_deal, retry or one of "
        "the flow's own buttons; names side by side make one row, a [list] is a row of its own",
    )
    keep_message: bool = Field(
        default=False,
        description="buttons pressed and text typed on this window send a new message and "
        "leave this one",
    )

    def button_rows(self) -> list[list[str]]:
        """``buttons`` as rows: a [list] is a row, names side by side share one."""
        rows: list[list[str]] = []
        loose: list[str] = []
        for item in self.buttons:
            if isinstance(item, list):
                if loose:
                    rows.append(loose)
                    loose = []
                rows.append(list(item))
            else:
                loose.append(item)
        if loose:
            rows.append(loose)
        return [row for row in rows if row]

    def button_names(self) -> list[str]:
        return [name for row in self.button_rows() for name in row]


class ButtonSpec(_Model):
    """One of the flow's own buttons; its label is ``buttons.<id>`` in strings.yaml. It does
    exactly one of:

    ``goto: <step>``: answer that step again, keeping the other answers; once answered,
    the step the button was on is done again (its actions and next: the card is requoted).
    Back from there returns to that step.
    ``swap: [a, b]``: exchange two answers (shown only when the swapped ones are still
    valid choices, e.g. the reverse direction is configured), then ``actions`` and ``next``.
    ``set: {answer: value}``: set answers, then ``actions`` and ``next``.
    ``send: <template>``: send that template as a separate message (the window stays);
    with ``locales: each``, one button per locale, the message in that language.
    """

    goto: StepId | None = Field(
        default=None,
        description="answer that step again; then this step is done again (the card requoted)",
    )
    swap: tuple[AnswerKey, AnswerKey] | None = Field(
        default=None, description="exchange two answers, like [give, get] (the reverse deal)"
    )
    set: dict[AnswerKey, str] | None = Field(
        default=None, description="set answers, like {fixed: receive}"
    )
    send: str | None = Field(default=None, description="a template name, e.g. client")
    locales: Literal["own", "each"] = Field(
        default="own",
        description="with send: 'own' sends it in the admin's language, 'each' shows one "
        "button per locale",
    )
    actions: list[str] = Field(
        default_factory=list, description="with swap or set: actions to run afterwards"
    )
    next: StepId | None = Field(
        default=None,
        description="with swap or set: the step to show afterwards (default: the same step)",
    )
    when: dict[AnswerKey, str] = Field(
        default_factory=dict,
        description="shown only while these answers have these values, e.g. {fixed: give}",
    )

    @property
    def does(self) -> str:
        """Which of goto / swap / set / send this button does ('' when none, 'many')."""
        chosen = [k for k in ("goto", "swap", "set", "send") if getattr(self, k) is not None]
        return chosen[0] if len(chosen) == 1 else ("many" if chosen else "")


class FlowConfig(_Model):
    """A whole dialog."""

    id: StepId = Field(
        description="the dialog's name: part of the bot's state; renaming it is a migration"
    )
    start: StepId = Field(description="the first step shown")
    on_cancel: StepId | None = Field(
        default=None, description="the step Cancel leads to; without it Cancel ends the dialog"
    )
    defaults: dict[AnswerKey, str] = Field(
        default_factory=dict,
        description="answers every dialog starts with, until a button sets them "
        "(e.g. fixed: give)",
    )
    buttons: dict[ButtonRef, ButtonSpec] = Field(
        default_factory=dict, description="this flow's own buttons, by id; steps list them"
    )
    steps: dict[StepId, StepConfig] = Field(
        min_length=1,
        description="the windows, by id (small letters, digits, _): each id is part of the "
        "bot's state and button data, so renaming one is a migration",
    )

    def answers(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The dialog data with the flow's ``defaults`` under it."""
        return {**self.defaults, **data}

    def template_of(self, step_id: str) -> str:
        return self.steps[step_id].template or step_id

    def back_of(self, step_id: str) -> str | None:
        """The step Back leads to: declared, else the previous step in file order."""
        step = self.steps[step_id]
        if step.back:
            return step.back
        ids = list(self.steps)
        index = ids.index(step_id)
        return ids[index - 1] if index > 0 else None
