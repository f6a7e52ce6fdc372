"""Pydantic models of a flow file (``flows/*.yaml``).

A flow is an ordered mapping of steps. Step ids become aiogram state names and parts of
callback_data, so they are snake_case and renaming one is a migration.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
StepKind = Literal["choice", "input", "card"]
NavButton = Literal["back", "cancel", "new_deal", "retry"]
NAV_BUTTONS: tuple[NavButton, ...] = ("back", "cancel", "new_deal", "retry")


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

    type: Literal["decimal", "percent", "amount"]
    min: Annotated[Decimal, Field(allow_inf_nan=False)] | None = None
    max: Annotated[Decimal, Field(allow_inf_nan=False)] | None = None
    max_decimals: int | None = Field(default=None, ge=0, le=12)
    currency: str | None = Field(
        default=None, description="for type amount: the saved value holding the currency code"
    )


class OptionsSpec(_Model):
    """Where a choice step's buttons come from.

    ``from: directions``: the currencies a client may give (the keys of ``directions``);
    with ``of: <saved value>``, the currencies a client may receive for that currency.
    ``from: currencies``: every configured currency.
    """

    from_: Literal["directions", "currencies"] = Field(alias="from")
    of: str | None = None


class StepConfig(_Model):
    """One window of the dialog.

    ``input`` (with ``save_as``, ``next`` and optionally ``actions``/``on_error``) is what an
    ``input`` step reads; a ``card`` with ``keep_message`` may take it too, to answer typed
    text below itself (the result card requotes another amount).
    """

    kind: StepKind
    template: str | None = Field(default=None, description="defaults to the step id")
    options: OptionsSpec | None = None
    columns: int = Field(default=3, ge=1, le=8)
    save_as: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None
    input: InputSpec | None = None
    presets: list[Annotated[Decimal, Field(allow_inf_nan=False)]] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)
    next: StepId | None = None
    back: StepId | None = None
    on_error: StepId | None = None
    buttons: list[NavButton] = Field(default_factory=list)
    keep_message: bool = Field(
        default=False,
        description="buttons pressed and text typed on this window send a new message and "
        "leave this one",
    )


class FlowConfig(_Model):
    """A whole dialog."""

    id: StepId
    start: StepId
    on_cancel: StepId | None = Field(
        default=None, description="the step Cancel leads to; without it Cancel ends the dialog"
    )
    steps: dict[StepId, StepConfig] = Field(min_length=1)

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
