"""Flow YAML → aiogram-dialog: a StatesGroup, a Dialog and one Window per step.

The only module of :mod:`engine.flow` that imports aiogram. Each step kind maps to widgets:

* ``choice``: a :class:`Select` of currencies in ``columns``;
* ``input``: a :class:`MessageInput` parsing typed numbers, plus preset buttons;
* ``card``: text only; a kept card (``keep_message``) with ``input`` also takes typed text
  as an ``input`` step does (same parser, limits and errors, then ``actions`` and ``next``),
  each answer a new message below it: the card typed on is never edited.

Every window gets the declared navigation buttons; only the buttons of the message the
dialog shows now are live (:class:`~engine.flow.keyboard.CurrentMessageOnly`: a double tap
on a ``keep_message`` card acts once). Texts come from the :class:`Renderer`
in the user's locale. Dialog data holds only JSON-safe values (Decimals as strings), so it
survives Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiogram.enums import ContentType
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, User
from aiogram_dialog import Dialog, DialogManager, ShowMode, StartMode, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Group, Row, Select
from aiogram_dialog.widgets.kbd.base import Keyboard
from aiogram_dialog.widgets.text import Text

from engine.config.models import AppConfig
from engine.flow.actions import ACTIONS, ActionContext, ActionFailedError
from engine.flow.context import ERROR_KEY, input_limits, window_context
from engine.flow.keyboard import CurrentMessageOnly, IntentMarkup, MemoKeyboard
from engine.flow.options import option_codes
from engine.flow.parse import InputRejectedError, parse_number
from engine.flow.schema import FlowConfig, NavButton
from engine.locale import user_locale
from engine.render import Renderer

log = logging.getLogger("engine.flow")

LOCALE_KEY = "locale"
FAILED_STEP_KEY = "_failed_step"
PRESET_SUFFIX = "_preset"
# A navigation button's id is "<step>.<button>": a window edited in place keeps its message,
# so a second quick tap of Back, sent from the window this message showed before, names
# that window's step and is ignored instead of going back twice.
NAV_SEPARATOR = "."


class TemplateText(Text):
    """A window's text: ``templates/<locale>/<template>.j2`` rendered with the getter data."""

    def __init__(self, renderer: Renderer, template: str) -> None:
        super().__init__()
        self.renderer = renderer
        self.template = template

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        return self.renderer.window(data[LOCALE_KEY], self.template, data)


class Label(Text):
    """A button label from ``strings.yaml``; ``item`` fields are its variables."""

    def __init__(self, renderer: Renderer, key: str) -> None:
        super().__init__()
        self.renderer = renderer
        self.key = key

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        item = data.get("item")
        context = dict(item) if isinstance(item, Mapping) else {}
        # Inside a Select, the window's data is nested under "data" beside the item.
        window = data["data"] if "item" in data else data
        return self.renderer.string(window[LOCALE_KEY], "buttons", self.key, context)


@dataclass(frozen=True)
class FlowDialog:
    """A built flow: its states and the aiogram-dialog :class:`Dialog`."""

    flow: FlowConfig
    states: type[StatesGroup]
    dialog: Dialog

    def state(self, step_id: str) -> State:
        state: State = getattr(self.states, step_id)
        return state

    async def start(self, manager: DialogManager) -> None:
        """Start the flow from its first step, replacing whatever dialog was open."""
        await manager.start(self.state(self.flow.start), mode=StartMode.RESET_STACK)


INTENT_MARKUP = IntentMarkup()


def _keyboard_key(data: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """What a generated keyboard depends on: the locale and the options offered (labels
    see only the item; presets and navigation are fixed per step)."""
    return data[LOCALE_KEY], tuple(option["code"] for option in data.get("options", ()))


class _Builder:
    def __init__(self, flow: FlowConfig, config: AppConfig, renderer: Renderer) -> None:
        self.flow = flow
        self.config = config
        self.renderer = renderer
        self.states: type[StatesGroup] = type(
            flow.id, (StatesGroup,), {step_id: State() for step_id in flow.steps}
        )

    # -- navigation ---------------------------------------------------------------------

    def _state(self, step_id: str) -> State:
        state: State = getattr(self.states, step_id)
        return state

    def _step_of(self, manager: DialogManager) -> str:
        state = manager.current_context().state
        return str(state.state).split(":", 1)[1]

    async def _go(self, manager: DialogManager, step_id: str) -> None:
        manager.dialog_data.pop(ERROR_KEY, None)
        await manager.switch_to(self._state(step_id))

    def _keep_message(self, manager: DialogManager) -> None:
        if self.flow.steps[self._step_of(manager)].keep_message:
            manager.show_mode = ShowMode.SEND

    def _clear(self, manager: DialogManager) -> None:
        manager.dialog_data.clear()

    async def _run_actions_then_next(self, manager: DialogManager, step_id: str) -> None:
        step = self.flow.steps[step_id]
        context = ActionContext(manager.dialog_data, manager.middleware_data)
        try:
            for name in step.actions:
                await ACTIONS[name](context)
        except ActionFailedError as exc:
            log.info("step %s: action failed (%s)", step_id, exc.reason)
            manager.dialog_data[FAILED_STEP_KEY] = step_id
            assert step.on_error is not None
            await self._go(manager, step.on_error)
            return
        manager.dialog_data.pop(FAILED_STEP_KEY, None)
        assert step.next is not None
        await self._go(manager, step.next)

    async def _on_nav(
        self, callback: CallbackQuery, button: Button, manager: DialogManager
    ) -> None:
        step_id = self._step_of(manager)
        owner, _, name = button.widget_id.rpartition(NAV_SEPARATOR)
        if owner != step_id:  # a second quick tap, on the window this message showed before
            log.info("step %s: %s tapped on step %s's window: ignored", step_id, name, owner)
            return
        self._keep_message(manager)
        if name == "back":
            target = self.flow.back_of(step_id)
            assert target is not None
            await self._go(manager, target)
        elif name == "cancel":
            self._clear(manager)
            if self.flow.on_cancel is None:
                await manager.done()
            else:
                await self._go(manager, self.flow.on_cancel)
        elif name == "new_deal":
            self._clear(manager)
            await self._go(manager, self.flow.start)
        elif name == "retry":
            failed = manager.dialog_data.get(FAILED_STEP_KEY)
            if failed in self.flow.steps:
                await self._run_actions_then_next(manager, str(failed))
            else:  # the data is gone (restart, expiry): start over rather than guess
                self._clear(manager)
                await self._go(manager, self.flow.start)

    # -- steps ----------------------------------------------------------------------------

    async def _on_choice(
        self, callback: CallbackQuery, widget: Any, manager: DialogManager, item_id: str
    ) -> None:
        step_id = self._step_of(manager)
        step = self.flow.steps[step_id]
        assert step.options is not None and step.save_as is not None and step.next is not None
        if item_id not in option_codes(step.options, self.config, manager.dialog_data):
            log.info("step %s: stale choice %r ignored", step_id, item_id)
            return  # a button from an outdated keyboard: just show the window again
        manager.dialog_data[step.save_as] = item_id
        await self._go(manager, step.next)

    async def _accept_number(self, manager: DialogManager, text: str) -> None:
        step_id = self._step_of(manager)
        step = self.flow.steps[step_id]
        assert step.save_as is not None
        limits = input_limits(step, self.config, manager.dialog_data)
        try:
            value = parse_number(text, limits.rule)
        except InputRejectedError as exc:
            manager.dialog_data[ERROR_KEY] = {
                "code": exc.code,
                "params": {k: str(v) for k, v in exc.params.items()},
                "input": text[:64],
            }
            return
        manager.dialog_data[step.save_as] = str(value)
        await self._run_actions_then_next(manager, step_id)

    async def _on_message(self, message: Message, widget: Any, manager: DialogManager) -> None:
        # A kept card answers typed text (a new result, or itself again with the error) in a
        # new message whatever the chat type, so the card typed on keeps its text.
        self._keep_message(manager)
        await self._accept_number(manager, message.text or "")

    async def _on_preset(
        self, callback: CallbackQuery, widget: Any, manager: DialogManager, item_id: str
    ) -> None:
        await self._accept_number(manager, item_id)

    # -- windows --------------------------------------------------------------------------

    def _getter(self, step_id: str) -> Any:
        step = self.flow.steps[step_id]
        config, flow, renderer = self.config, self.flow, self.renderer

        async def getter(dialog_manager: DialogManager, **kwargs: Any) -> dict[str, Any]:
            user: User | None = dialog_manager.middleware_data.get("event_from_user")
            locale = user_locale(user, renderer.locales, config.bot.default_locale)
            data = dialog_manager.dialog_data
            context = window_context(flow, step_id, config, data, locale, renderer)
            if step.options is not None:
                context["options"] = [
                    context["currencies"][code]
                    for code in option_codes(step.options, config, data)
                ]
            context["presets"] = [{"value": p, "id": str(p)} for p in step.presets]
            return context

        return getter

    def _nav(self, step_id: str, buttons: Sequence[NavButton]) -> Row:
        return Row(
            *(
                Button(
                    Label(self.renderer, name),
                    id=f"{step_id}{NAV_SEPARATOR}{name}",
                    on_click=self._on_nav,
                )
                for name in buttons
            )
        )

    def window(self, step_id: str) -> Window:
        step = self.flow.steps[step_id]
        widgets: list[Any] = [TemplateText(self.renderer, self.flow.template_of(step_id))]
        keyboards: list[Keyboard] = []
        if step.kind == "choice":
            keyboards.append(
                Group(
                    Select(
                        Label(self.renderer, "currency"),
                        id=step_id,
                        item_id_getter=lambda item: item["code"],
                        items="options",
                        on_click=self._on_choice,
                    ),
                    width=step.columns,
                )
            )
        if step.input is not None:  # an input step, or a kept card that takes typed input
            widgets.append(MessageInput(self._on_message, content_types=ContentType.ANY))
            if step.presets:
                keyboards.append(
                    Group(
                        Select(
                            Label(self.renderer, "preset"),
                            id=f"{step_id}{PRESET_SUFFIX}",
                            item_id_getter=lambda item: item["id"],
                            items="presets",
                            on_click=self._on_preset,
                        ),
                        width=step.columns,
                    )
                )
        if step.buttons:
            keyboards.append(self._nav(step_id, step.buttons))
        if keyboards:
            widgets.append(MemoKeyboard(*keyboards, key=_keyboard_key))
        return Window(
            *widgets,
            state=self._state(step_id),
            getter=self._getter(step_id),
            parse_mode="HTML",
            markup_factory=INTENT_MARKUP,
        )


def build_dialog(flow: FlowConfig, config: AppConfig, renderer: Renderer) -> FlowDialog:
    """Generate the aiogram-dialog for ``flow``."""
    builder = _Builder(flow, config, renderer)
    windows = [builder.window(step_id) for step_id in flow.steps]
    dialog = Dialog(*windows, name=flow.id)
    # A double tap on a kept card must act once: only the current message's buttons count.
    dialog.callback_query.middleware(CurrentMessageOnly())
    return FlowDialog(flow, builder.states, dialog)
