"""The contract of engine/lazy_aiogram.py: aiogram imported with its models built on first use
reads and writes the bot's Bot API traffic exactly as aiogram's eager import does, and falls
back, loudly, to the eager build when aiogram or pydantic are not shaped as it expects.

Each import is a fresh interpreter (aiogram is imported once per process); the traffic is
tests/data/telegram/bot_api.json, in the Bot API's format, through
tests/engine/lazy_aiogram_probe.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from engine.lazy_aiogram import _Recorder, aiogram_problem, annotation_names

ROOT = Path(__file__).resolve().parents[2]
PROBE = "tests.engine.lazy_aiogram_probe"
EAGER_WARNING = "aiogram's models are built eagerly at import (slower start): "


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out, err


def probe_both(*extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The probe's output with the lazy import and with aiogram's own, run side by side."""
    lazy, eager = start("-m", PROBE, "lazy", *extra), start("-m", PROBE, "eager", *extra)
    return json.loads(finish(lazy)[0]), json.loads(finish(eager)[0])


def run_code(code: str) -> tuple[str, str]:
    return finish(start("-c", textwrap.dedent(code)))


@pytest.mark.slow
def test_the_bots_bot_api_traffic_is_the_same_built_lazily() -> None:
    lazy, eager = probe_both()
    assert lazy == eager
    assert [u["event"] for u in lazy["updates"]] == [
        "Message",
        "Message",
        "CallbackQuery",
        "CallbackQuery",
        "InlineQuery",
        "ChosenInlineResult",
        "Message",
        "Message",
        "ChatMemberUpdated",
        "Message",
        "Message",
    ]
    # The forward references that made aiogram rebuild everything at import, resolved:
    assert "reply_to_message=Message(message_id=17" in lazy["updates"][1]["repr"]
    assert "message=Message(message_id=17" in lazy["updates"][2]["repr"]
    assert "message=InaccessibleMessage(" in lazy["updates"][3]["repr"]
    assert "inline_query=InlineQuery(id='981234', from_user=User(" in lazy["updates"][4]["repr"]
    assert "some_future_field" in lazy["updates"][10]["json"]  # extra="allow" kept
    # Every method the warm-up prepares for is in the contract, and nothing else:
    from engine.bot.warmup import CALLED_METHODS

    called = {method.__api_method__ for method in CALLED_METHODS}
    assert {name.split("(")[0] for name in lazy["requests"]} == called
    assert sorted(lazy["requests"]) == sorted(lazy["answers"])
    assert '"parse_mode": "HTML"' in lazy["requests"]["sendMessage"]


@pytest.mark.slow
def test_every_type_and_method_has_the_same_schema_built_lazily() -> None:
    lazy, eager = probe_both("--schemas")
    assert len(lazy["schemas"]) > 500
    differing = [
        name for name in lazy["schemas"] if lazy["schemas"][name] != eager["schemas"][name]
    ]
    assert differing == []


@pytest.mark.slow
def test_crypto_helper_run_imports_aiogram_with_nothing_built() -> None:
    # run with a config that does not exist: it stops at the check, after importing aiogram.
    out, _ = run_code(
        """
        from engine import cli
        from pydantic import BaseModel
        assert cli.main(["run", "--config", "/nonexistent/config.yaml"]) == 2
        from aiogram import methods, types
        for package in (types, methods):
            models = [m for m in vars(package).values() if isinstance(m, type)
                      and issubclass(m, BaseModel)]
            print(len(models), *[m.__name__ for m in models if m.__pydantic_complete__])
        update = types.Update.model_validate({"update_id": 1, "message": {
            "message_id": 2, "date": 0, "chat": {"id": 3, "type": "private"}, "text": "hi",
            "reply_to_message": {"message_id": 1, "date": 0, "chat": {"id": 3, "type": "private"}}}})
        print(type(update.message.reply_to_message).__name__, types.Update.__pydantic_complete__)
        """
    )
    type_counts, method_counts, parsed = out.splitlines()
    types, *built_types = type_counts.split()
    methods, *built_methods = method_counts.split()
    assert int(types) > 300
    assert built_types == ["InlineKeyboardMarkup"]  # the import's own probe
    assert int(methods) > 150
    # methods/base.py's own, built before the hook applies (Response[T] is built per T):
    assert built_methods == ["Request", "Response", "TelegramMethod"]
    assert parsed == "Message True"


@pytest.mark.slow
def test_a_changed_pydantic_model_rebuild_means_an_eager_import_and_a_warning() -> None:
    out, err = run_code(
        """
        from pydantic import BaseModel
        original = BaseModel.__dict__["model_rebuild"].__func__

        def model_rebuild(cls, *, force=False, raise_errors=True, **renamed):
            return original(cls, force=force, raise_errors=raise_errors, **renamed)

        BaseModel.model_rebuild = classmethod(model_rebuild)  # as if pydantic renamed two
        from engine.lazy_aiogram import import_aiogram
        report = import_aiogram()
        from aiogram.types import Message
        print(report.lazy, report.deferred, Message.__pydantic_complete__)
        """
    )
    reason = "pydantic's BaseModel.model_rebuild has no parameter _parent_namespace_depth, _types_namespace"
    assert out.split() == ["False", "0", "True"]
    assert err == EAGER_WARNING + reason + "\n"


@pytest.mark.slow
def test_forward_references_left_unresolved_mean_an_eager_build_and_a_warning() -> None:
    # As if aiogram bound its forward references some other way than this module knows:
    # filling in the names achieves nothing, so the probe's first build fails.
    out, err = run_code(
        """
        import json
        from engine import lazy_aiogram
        lazy_aiogram.resolve_names = lambda models, namespace: 0
        report = lazy_aiogram.import_aiogram()
        from aiogram import types
        print(report.lazy, types.Message.__pydantic_complete__, types.Update.__pydantic_complete__)
        update = types.Update.model_validate({"update_id": 1, "callback_query": {
            "id": "q", "from": {"id": 1, "is_bot": False, "first_name": "a"}, "chat_instance": "c",
            "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}})
        print(type(update.callback_query.message).__name__)
        """
    )
    assert out.split() == ["False", "True", "True", "InaccessibleMessage"]
    assert err == (
        EAGER_WARNING + "building InlineKeyboardMarkup on first use failed: PydanticUserError: "
        "`InlineKeyboardMarkup` is not fully defined; you should define all referenced types, "
        "then call `InlineKeyboardMarkup.model_rebuild()`.\n"
    )


# -- aiogram_problem: what the recorder must have seen ---------------------------------------


class Deferred(BaseModel):
    model_config = ConfigDict(defer_build=True)
    child: Child | None = None


class Child(BaseModel):
    model_config = ConfigDict(defer_build=True)
    name: str


class FakeTypes:
    """A stand-in for ``aiogram.types``: two exported models and something else."""

    __name__ = "aiogram.types"
    __all__ = ("Deferred", "Child", "NOT_A_MODEL")
    Deferred = Deferred
    Child = Child
    NOT_A_MODEL = 1


def recorded(*models: type[BaseModel], namespace: dict[str, Any] | None = None) -> _Recorder:
    recorder = _Recorder(BaseModel.__dict__["model_rebuild"])
    recorder.deferred.extend(models)
    recorder.namespaces.append(
        {"Deferred": Deferred, "Child": Child} if namespace is None else namespace
    )
    return recorder


def test_the_rebuild_loop_as_known_is_no_problem() -> None:
    assert aiogram_problem(FakeTypes, recorded(Deferred, Child)) is None  # type: ignore[arg-type]


def test_a_model_rebuilt_otherwise_is_a_problem() -> None:
    assert (
        aiogram_problem(FakeTypes, recorded(Deferred))  # type: ignore[arg-type]
        == "aiogram.types.Child was not rebuilt through model_rebuild at import"
    )


def test_no_model_recorded_is_a_problem() -> None:
    recorder = _Recorder(BaseModel.__dict__["model_rebuild"])
    assert (
        aiogram_problem(FakeTypes, recorder)  # type: ignore[arg-type]
        == "aiogram.types rebuilt no model through model_rebuild(_types_namespace=...)"
    )


def test_a_namespace_without_an_exported_model_is_a_problem() -> None:
    assert (
        aiogram_problem(FakeTypes, recorded(Deferred, Child, namespace={"Deferred": Deferred}))  # type: ignore[arg-type]
        == "aiogram.types.Child is not in the namespace its models are rebuilt with"
    )


def test_a_model_built_already_is_a_problem() -> None:
    class Built(BaseModel):
        name: str

    assert (
        aiogram_problem(FakeTypes, recorded(Deferred, Child, Built))  # type: ignore[arg-type]
        == f"{__name__}.test_a_model_built_already_is_a_problem.<locals>.Built was built at "
        "import already"
    )


def test_the_names_of_a_models_postponed_annotations() -> None:
    assert annotation_names(Deferred) == {"Child", "None"}
