"""Open a flow at any step with given dialog data, as a new message.

aiogram-dialog's ``start(state, data=...)`` puts ``data`` in the context's *start data*;
the engine's windows read the *dialog data* (what the steps saved). This starts the flow
at ``step_id`` without rendering, fills the dialog data, then shows the window: the window
is the live step, so its buttons and typed input work exactly as if the admin had walked
there (a reopened result card takes a typed amount and requotes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram_dialog import DialogManager, ShowMode, StartMode

from engine.flow.builder import FlowDialog


async def open_step(
    manager: DialogManager, flow: FlowDialog, step_id: str, data: Mapping[str, Any]
) -> None:
    """Replace whatever dialog is open with ``flow`` at ``step_id``, its dialog data
    ``data`` (JSON-safe, as the steps store it), shown in a new message."""
    await manager.start(
        flow.state(step_id), mode=StartMode.RESET_STACK, show_mode=ShowMode.NO_UPDATE
    )
    manager.dialog_data.update(data)
    manager.show_mode = ShowMode.SEND
    await manager.show()
