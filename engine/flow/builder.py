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
survives Redis. Actions get the dispatcher's :class:`~engine.flow.services.FlowServices`
and the update's :func:`quote_origin`, not aiogram's middleware data.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiogram.enums import ContentType
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Chat, Message, User
from aiogram_dialog import Dialog, DialogManager, ShowMode, StartMode, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Group, Row, Select
from aiogram_dialog.widgets.kbd.base import Keyboard
from aiogram_dialog.widgets.text import Text

from engine.config.models import AppConfig
from engine.flow.actions import ACTIONS, ActionContext, ActionFailedError
from engine.flow.buttons import (
    VISIBLE_KEY,
    button_id,
    parse_button_id,
    swapped,
    visible_buttons,
)
from engine.flow.context import ERROR_KEY, input_limits, window_context
from engine.flow.keyboard import CurrentMessageOnly, IntentMarkup, MemoKeyboard
from engine.flow.options import option_codes
from engine.flow.parse import InputRejectedError, parse_number
from engine.flow.schema import FlowConfig
from engine.flow.services import services_in
from engine.journal.hook import QuoteOrigin
from engine.locale import user_locale
from engine.render import Renderer

log = logging.getLogger("engine.flow")

LOCALE_KEY = "locale"
FAILED_STEP_KEY = "_failed_step"
PRESET_SUFFIX = "_preset"
# The step a goto button left, to come back to once the step it went to is answered.
RETURN_KEY = "_return_to"
# Digests of the messages a send button sent from this dialog: a double tap sends once.
SENT_KEY = "_sent"
SENT_KEPT = 20


def quote_origin(user: User | None, chat: Chat | None, config: AppConfig) -> QuoteOrigin | None:
    """Who asks for a quote in which chat, as the journal records it (``None`` when the
    update has no user or no chat)."""
    if user is None or chat is None:
        return None
    locale = user_locale(user, config.locales, config.bot.default_locale)
    return QuoteOrigin(user.id, user.username, chat.id, locale)


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

    def __init__(
        self, renderer: Renderer, key: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.renderer = renderer
        self.key = key
        self.extra = dict(extra or {})

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        item = data.get("item")
        context = dict(item) if isinstance(item, Mapping) else dict(self.extra)
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

    async def open_at(self, manager: DialogManager, step_id: str, data: Mapping[str, Any]) -> None:
        """Open the flow at ``step_id`` with these answers (JSON-safe), in a new message,
        replacing whatever dialog was open: a one-line quote's card is the dialog's own, so
        its buttons and typed amounts work as after the dialog."""
        await manager.start(
            self.state(step_id),
            data=dict(data),
            mode=StartMode.RESET_STACK,
            show_mode=ShowMode.SEND,
        )


INTENT_MARKUP = IntentMarkup()


def _keyboard_key(data: dict[str, Any]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """What a generated keyboard depends on: the locale, the options offered and which of
    the flow's own buttons show (labels see only the item; the rest is fixed per step)."""
    options = tuple(option["code"] for option in data.get("options", ()))
    return data[LOCALE_KEY], options, tuple(sorted(data.get(VISIBLE_KEY, ())))


def _shown(name: str) -> Any:
    """``when`` of one of the flow's own buttons: the getter lists the visible ones."""

    def predicate(data: dict[str, Any], widget: Any, manager: DialogManager) -> bool:
        return name in data.get(VISIBLE_KEY, ())

    return predicate


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
        assert step.next is not None
        await self._run(manager, step_id, step.actions, step.next)

    async def _run(
        self, manager: DialogManager, step_id: str, actions: Sequence[str], then: str
    ) -> None:
        """Run ``actions`` for ``step_id`` (its on_error on failure), then show ``then``."""
        data = manager.dialog_data
        for key, value in self.flow.defaults.items():  # actions see every answer
            data.setdefault(key, value)
        middleware_data = manager.middleware_data
        origin = quote_origin(
            middleware_data.get("event_from_user"), middleware_data.get("event_chat"), self.config
        )
        context = ActionContext(data, services_in(middleware_data), origin)
        try:
            for name in actions:
                await ACTIONS[name](context)
        except ActionFailedError as exc:
            log.info("step %s: action failed (%s)", step_id, exc.reason)
            data[FAILED_STEP_KEY] = step_id
            on_error = self.flow.steps[step_id].on_error
            assert on_error is not None
            await self._go(manager, on_error)
            return
        data.pop(FAILED_STEP_KEY, None)
        await self._go(manager, then)

    async def _answered(self, manager: DialogManager, step_id: str) -> None:
        """``step_id`` was answered: go on from it, or, when a goto button brought the
        dialog here, do the step it came from again (its actions and next)."""
        origin = manager.dialog_data.pop(RETURN_KEY, None)
        if origin in self.flow.steps and origin != step_id:
            step = self.flow.steps[origin]
            await self._run(manager, origin, step.actions, step.next or origin)
            return
        await self._run_actions_then_next(manager, step_id)

    def _tapped_here(self, manager: DialogManager, button: Button) -> tuple[str, str, str | None]:
        """(step, button, locale) of a tap; step is '' when the tap came from the window
        this message showed before (a second quick tap): the caller ignores it."""
        step_id = self._step_of(manager)
        owner, name, locale = parse_button_id(button.widget_id or "")
        if owner != step_id:
            log.info("step %s: %s tapped on step %s's window: ignored", step_id, name, owner)
            return "", name, locale
        return step_id, name, locale

    async def _on_nav(
        self, callback: CallbackQuery, button: Button, manager: DialogManager
    ) -> None:
        step_id, name, _ = self._tapped_here(manager, button)
        if not step_id:
            return
        self._keep_message(manager)
        if name == "back":
            # Back from a step a goto button opened returns to the card it was tapped on.
            target = manager.dialog_data.pop(RETURN_KEY, None) or self.flow.back_of(step_id)
            assert target is not None
            await self._go(manager, str(target))
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
        await self._answered(manager, step_id)

    async def _accept_number(self, manager: DialogManager, text: str) -> None:
        step_id = self._step_of(manager)
        step = self.flow.steps[step_id]
        assert step.save_as is not None
        limits = input_limits(step, self.config, self.flow.answers(manager.dialog_data))
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
        await self._answered(manager, step_id)

    async def _on_message(self, message: Message, widget: Any, manager: DialogManager) -> None:
        # A kept card answers typed text (a new result, or itself again with the error) in a
        # new message whatever the chat type, so the card typed on keeps its text.
        self._keep_message(manager)
        await self._accept_number(manager, message.text or "")

    async def _on_preset(
        self, callback: CallbackQuery, widget: Any, manager: DialogManager, item_id: str
    ) -> None:
        await self._accept_number(manager, item_id)

    async def _on_own(
        self, callback: CallbackQuery, button: Button, manager: DialogManager
    ) -> None:
        """One of the flow's own buttons (``buttons:`` of the flow file)."""
        step_id, name, locale = self._tapped_here(manager, button)
        spec = self.flow.buttons.get(name)
        if not step_id or spec is None:
            return
        data = manager.dialog_data
        if spec.send is not None:
            await self._send(callback, manager, step_id, spec.send, locale)
            return
        if name not in self.visible(step_id, data):  # e.g. the reverse direction went away
            log.info("step %s: button %s is not available now: ignored", step_id, name)
            return
        self._keep_message(manager)
        if spec.goto is not None:
            data[RETURN_KEY] = step_id
            await self._go(manager, spec.goto)
            return
        if spec.swap is not None:
            data.update(swapped(spec.swap, data))
        data.update(spec.set or {})
        await self._run(manager, step_id, spec.actions, spec.next or step_id)

    async def _send(
        self,
        callback: CallbackQuery,
        manager: DialogManager,
        step_id: str,
        template: str,
        locale: str | None,
    ) -> None:
        """Send ``template`` as a message of its own below; the window stays as it is.
        The same text twice from one dialog (a double tap) is sent once."""
        manager.show_mode = ShowMode.NO_UPDATE
        if locale not in self.renderer.locales:
            user: User | None = manager.middleware_data.get("event_from_user")
            locale = user_locale(user, self.renderer.locales, self.config.bot.default_locale)
        data = manager.dialog_data
        context = window_context(self.flow, step_id, self.config, data, locale, self.renderer)
        text = self.renderer.window(locale, template, context)
        digest = hashlib.blake2b(f"{template}\0{locale}\0{text}".encode(), digest_size=8)
        sent = [str(d) for d in data.get(SENT_KEY, ())]
        if digest.hexdigest() in sent:
            log.info("step %s: %s already sent from this dialog: not again", step_id, template)
            return
        message = callback.message
        if message is None:
            return
        await manager.middleware_data["bot"].send_message(message.chat.id, text, parse_mode="HTML")
        data[SENT_KEY] = [*sent, digest.hexdigest()][-SENT_KEPT:]

    def visible(self, step_id: str, data: Mapping[str, Any]) -> list[str]:
        return visible_buttons(self.flow, self.config, step_id, data)

    # -- windows --------------------------------------------------------------------------

    def _getter(self, step_id: str) -> Any:
        step = self.flow.steps[step_id]
        config, flow, renderer, builder = self.config, self.flow, self.renderer, self

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
            context[VISIBLE_KEY] = builder.visible(step_id, data)
            return context

        return getter

    def _row(self, step_id: str, names: Sequence[str]) -> Row:
        """One row of a step's buttons: navigation ones and the flow's own."""
        buttons: list[Button] = []
        for name in names:
            spec = self.flow.buttons.get(name)
            if spec is None:  # back, cancel, new_deal, retry
                label = Label(self.renderer, name)
                buttons.append(Button(label, id=button_id(step_id, name), on_click=self._on_nav))
            elif spec.send is not None and spec.locales == "each":
                buttons += [
                    Button(
                        Label(self.renderer, name, {"locale": loc, "lang": loc.upper()}),
                        id=button_id(step_id, name, loc),
                        on_click=self._on_own,
                    )
                    for loc in self.renderer.locales
                ]
            else:
                buttons.append(
                    Button(
                        Label(self.renderer, name),
                        id=button_id(step_id, name),
                        on_click=self._on_own,
                        when=_shown(name) if spec.send is None else None,
                    )
                )
        return Row(*buttons)

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
        keyboards += [self._row(step_id, row) for row in step.button_rows()]
        if keyboards:
            widgets.append(MemoKeyboard(*keyboards, key=_keyboard_key))
        return Window(
            *widgets,
            state=self._state(step_id),
            getter=self._getter(step_id),
            parse_mode="HTML",
            markup_factory=INTENT_MARKUP,
        )


async def _take_start_data(start_data: Any, manager: DialogManager) -> None:
    """Answers given to :meth:`FlowDialog.open_at` become the dialog's data."""
    if isinstance(start_data, Mapping):
        manager.dialog_data.update(start_data)


def build_dialog(flow: FlowConfig, config: AppConfig, renderer: Renderer) -> FlowDialog:
    """Generate the aiogram-dialog for ``flow``."""
    builder = _Builder(flow, config, renderer)
    windows = [builder.window(step_id) for step_id in flow.steps]
    dialog = Dialog(*windows, name=flow.id, on_start=_take_start_data)
    # A double tap on a kept card must act once: only the current message's buttons count.
    dialog.callback_query.middleware(CurrentMessageOnly())
    return FlowDialog(flow, builder.states, dialog)
