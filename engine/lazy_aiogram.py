"""Import aiogram with its Bot API models built on first use instead of all at import.

Why: ``aiogram/types/__init__.py`` ends with a loop that calls
``model_rebuild(_types_namespace=...)`` on every one of its ~400 models, building each
pydantic schema although ``TelegramObject`` declares ``defer_build=True``. Here that is
1.7–2 s and about 100 MB of a 166 MB ``import aiogram`` (aiogram/aiogram#1513, #1876, #1891).
The loop is there for forward references: every types module has ``from __future__ import
annotations`` and imports the types it refers to (``Message`` ↔ ``Chat`` ↔ ``User`` …) only
under ``TYPE_CHECKING`` to avoid import cycles, so pydantic, which evaluates a model's
annotations against its module's globals, cannot find them; the loop hands it one namespace
holding every type.

What :func:`import_aiogram` does instead, once, before anything else imports aiogram:

1. While ``import aiogram`` runs, pydantic's ``BaseModel.model_rebuild`` is replaced by a
   recorder: a call for a deferred ``aiogram.types`` model that passes ``_types_namespace``
   is noted (the class and the namespace) and builds nothing; every other call goes to
   pydantic's own. The original is put back in ``finally``.
2. Each ``aiogram.types`` module then gets, from that namespace, the names its models'
   annotations use and its globals lack: what its ``TYPE_CHECKING`` imports would have bound.
   So pydantic's ordinary resolution finds them wherever a schema is built: a model's first
   use, a model built inside another one (a method's parameters, ``Response[Message]``, an
   ``Update`` around its ``Message``), a ``TypeAdapter``. Each deferred model also keeps the
   namespace as its ``__pydantic_parent_namespace__``, so its first-use rebuild resolves
   against it first, as aiogram's own rebuild did, whichever frame happens to trigger it.
   The Bot API methods (``TelegramMethod``, not declared ``defer_build``: each would build
   at class creation, 40 ms and 1.5 MB for all) are declared so for the time of the import
   (an import hook on ``aiogram.methods.base``) and build on first use the same way.
3. A probe builds one model that needs a filled-in name (``InlineKeyboardMarkup``).

Fallback: if pydantic's ``model_rebuild`` no longer has the parameters recorded here, or
aiogram no longer rebuilds its types this way (a model not recorded, one built already, a
namespace of another shape), or the probe fails, a WARNING names the reason and aiogram's
models are built eagerly, as aiogram itself would: nothing runs differently, it only starts
slower. ``tests/engine/test_lazy_aiogram.py`` holds the contract: every Bot API type and
method the bot uses parses and serialises exactly as with eager building.

Thread-safety: pydantic (2.12–2.13) does not guard a deferred model's first build against a
concurrent one in another thread. The bot uses aiogram's models on its event loop's thread
only (a reload's validation runs in a thread but never touches aiogram); the warm-up
(:mod:`engine.bot.warmup`) builds the ones it uses before serving.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import inspect
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from pydantic import BaseModel

log = logging.getLogger(__name__)

TYPES_PACKAGE = "aiogram.types"
METHODS_BASE = "aiogram.methods.base"
# The parameters of pydantic's BaseModel.model_rebuild that the recorder takes and passes on.
REBUILD_PARAMETERS = ("force", "raise_errors", "_parent_namespace_depth", "_types_namespace")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class AiogramImport:
    """How aiogram was imported.

    Attributes:
        lazy: its models build on first use (False: eagerly, as aiogram does).
        deferred: how many models were left to build on first use.
        seconds: how long the import took.
        reason: why the import was eager (None when lazy).
    """

    lazy: bool
    deferred: int
    seconds: float
    reason: str | None = None


class _Recorder:
    """Stands in for ``BaseModel.model_rebuild`` while aiogram is imported."""

    def __init__(self, original: Any) -> None:
        self.original = original  # the classmethod object from BaseModel.__dict__
        self.deferred: list[type[BaseModel]] = []
        self.namespaces: list[Mapping[str, Any]] = []

    def model_rebuild(
        self,
        cls: type[BaseModel],
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Mapping[str, Any] | None = None,
    ) -> bool | None:
        if (
            _types_namespace is not None
            and not force
            and cls.__module__.startswith(TYPES_PACKAGE + ".")
            and cls.model_config.get("defer_build") is True
        ):
            self.deferred.append(cls)
            if not any(ns is _types_namespace for ns in self.namespaces):
                self.namespaces.append(_types_namespace)
            return None
        rebuild: Callable[..., bool | None] = self.original.__func__
        return rebuild(
            cls,
            force=force,
            raise_errors=raise_errors,
            # One frame more than pydantic expects: this one.
            _parent_namespace_depth=_parent_namespace_depth + 1,
            _types_namespace=_types_namespace,
        )

    @contextmanager
    def installed(self) -> Iterator[None]:
        recorder = self

        def model_rebuild(cls: type[BaseModel], /, **kwargs: Any) -> bool | None:
            return recorder.model_rebuild(cls, **kwargs)

        BaseModel.model_rebuild = classmethod(model_rebuild)  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            BaseModel.model_rebuild = self.original  # type: ignore[method-assign]

    def namespace(self) -> Mapping[str, Any]:
        return self.namespaces[0]


class _DeferredMethods(importlib.abc.MetaPathFinder):
    """While aiogram is imported: once ``aiogram.methods.base`` has run, its
    ``TelegramMethod`` is declared ``defer_build`` as well, so the ~170 methods defined after
    it (whose configuration inherits it) build on first use like the types; put back after.
    """

    def __init__(self) -> None:
        self.base: type[BaseModel] | None = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != METHODS_BASE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            base = getattr(module, "TelegramMethod", None)
            if (
                isinstance(base, type)
                and issubclass(base, BaseModel)
                and "defer_build" not in base.model_config
            ):
                base.model_config["defer_build"] = True
                self.base = base

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec

    @contextmanager
    def installed(self) -> Iterator[None]:
        sys.meta_path.insert(0, self)
        try:
            yield
        finally:
            sys.meta_path.remove(self)
            if self.base is not None:  # methods defined from now on: as aiogram declares them
                del self.base.model_config["defer_build"]


def pydantic_problem() -> str | None:
    """Why pydantic's ``model_rebuild`` cannot be recorded as this module does, or None."""
    original = BaseModel.__dict__.get("model_rebuild")
    if not isinstance(original, classmethod):
        return "pydantic's BaseModel.model_rebuild is no longer a classmethod"
    parameters = inspect.signature(original.__func__).parameters
    missing = [p for p in REBUILD_PARAMETERS if p not in parameters]
    if missing:
        return f"pydantic's BaseModel.model_rebuild has no parameter {', '.join(missing)}"
    return None


def aiogram_problem(types: ModuleType, recorder: _Recorder) -> str | None:
    """Why what the recorder saw is not aiogram's rebuild loop as this module knows it, or
    None: every model that ``aiogram.types`` exports was recorded, with one namespace, and
    none of them has been built."""
    if not recorder.deferred:
        return f"{TYPES_PACKAGE} rebuilt no model through model_rebuild(_types_namespace=...)"
    if len(recorder.namespaces) != 1:
        return f"{TYPES_PACKAGE} rebuilt its models with {len(recorder.namespaces)} namespaces"
    namespace = recorder.namespace()
    if not isinstance(namespace, Mapping):
        return f"{TYPES_PACKAGE} passed a {type(namespace).__name__} as _types_namespace"
    seen = set(recorder.deferred)
    for name in getattr(types, "__all__", ()):
        model = getattr(types, name, None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        if model not in seen:
            return f"{TYPES_PACKAGE}.{name} was not rebuilt through model_rebuild at import"
        if namespace.get(name) is not model:
            return f"{TYPES_PACKAGE}.{name} is not in the namespace its models are rebuilt with"
    for model in recorder.deferred:
        if model.__pydantic_complete__:
            return f"{model.__module__}.{model.__qualname__} was built at import already"
    return None


def annotation_names(model: type[BaseModel]) -> set[str]:
    """The identifiers in the model's own annotations (strings, as its module postpones
    them)."""
    names: set[str] = set()
    for annotation in inspect.get_annotations(model).values():
        if isinstance(annotation, str):
            names.update(_IDENTIFIER.findall(annotation))
    return names


def resolve_names(models: list[type[BaseModel]], namespace: Mapping[str, Any]) -> int:
    """Give each model's module the names from ``namespace`` that its annotations use and
    its globals lack, and keep ``namespace`` on each model for its first build; return how
    many names were added."""
    added = 0
    shared = dict(namespace)  # one copy for all: pydantic only reads it
    for model in models:
        module_globals = vars(sys.modules[model.__module__])
        for name in annotation_names(model):
            if name not in module_globals and name in namespace:
                module_globals[name] = namespace[name]
                added += 1
        model.__pydantic_parent_namespace__ = shared
    return added


def unbuilt_methods() -> list[type[BaseModel]]:
    """The Bot API methods not built yet: all of them after the import (or, if the hook on
    ``aiogram.methods.base`` did not apply, those that could not be built then)."""
    from aiogram import methods
    from aiogram.methods.base import TelegramMethod

    found: list[type[BaseModel]] = []
    for name in methods.__all__:
        method = getattr(methods, name)
        if (
            isinstance(method, type)
            and issubclass(method, TelegramMethod)
            and not method.__pydantic_complete__
        ):
            found.append(method)
    return found


def probe() -> str | None:
    """Build one model that needs a name :func:`resolve_names` filled in; why it failed, or
    None."""
    from aiogram.types import InlineKeyboardMarkup

    data = {"inline_keyboard": [[{"text": "probe", "callback_data": "probe"}]]}
    try:
        markup = InlineKeyboardMarkup.model_validate(data)
    except Exception as exc:  # any failure means: build eagerly; the WARNING names it
        cause = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        return f"building InlineKeyboardMarkup on first use failed: {cause}"
    if markup.model_dump(exclude_none=True) != data:
        return "InlineKeyboardMarkup does not round-trip when built on first use"
    return None


def build_eagerly(models: list[type[BaseModel]], namespace: Mapping[str, Any]) -> None:
    """What aiogram's loop would have done: rebuild every model with the namespace; then
    the methods that could not be built at class creation."""
    for model in models:
        model.model_rebuild(_types_namespace=namespace)
    for method in unbuilt_methods():
        method.model_rebuild(_types_namespace=namespace)


def _warn_eager(reason: str) -> None:
    log.warning("aiogram's models are built eagerly at import (slower start): %s", reason)


def import_aiogram() -> AiogramImport:
    """Import aiogram, its Bot API models left to build on first use (module docstring).

    Call it before anything imports aiogram; if something already has, its models were
    built as aiogram builds them and this does nothing.
    """
    started = time.perf_counter()
    if "aiogram" in sys.modules:
        log.debug("aiogram was imported before: its models were built at import")
        return AiogramImport(False, 0, 0.0, "aiogram was imported before")
    problem = pydantic_problem()
    if problem is not None:
        _warn_eager(problem)
        importlib.import_module("aiogram")
        return AiogramImport(False, 0, time.perf_counter() - started, problem)
    recorder = _Recorder(BaseModel.__dict__["model_rebuild"])
    with recorder.installed(), _DeferredMethods().installed():
        types = importlib.import_module(TYPES_PACKAGE)
    problem = aiogram_problem(types, recorder)
    if problem is None:
        namespace = recorder.namespace()
        resolve_names(recorder.deferred, namespace)
        resolve_names(unbuilt_methods(), namespace)
        problem = probe()
    if problem is not None and not recorder.namespaces:
        # Nothing recorded, nothing to build: aiogram builds its models its own way now.
        log.warning("aiogram imported as it is, this module deferred nothing: %s", problem)
        return AiogramImport(False, 0, time.perf_counter() - started, problem)
    if problem is not None:
        _warn_eager(problem)
        build_eagerly(recorder.deferred, recorder.namespace())
        return AiogramImport(False, 0, time.perf_counter() - started, problem)
    seconds = time.perf_counter() - started
    log.debug(
        "aiogram imported in %.2f s; %d Bot API models build on first use",
        seconds,
        len(recorder.deferred),
    )
    return AiogramImport(True, len(recorder.deferred), seconds)
