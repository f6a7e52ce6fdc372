"""Load a flow file and check it against config.yaml, the action table and the templates.

Every problem is reported at its file:line:col, all at once.
"""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment, TemplateSyntaxError
from pydantic import ValidationError

from engine.config.loader import pydantic_problems
from engine.config.models import AppConfig
from engine.config.source import SourceMap, did_you_mean, display_path, load_yaml, read_text
from engine.errors import ConfigError, Problem
from engine.flow.actions import ACTIONS
from engine.flow.schema import NAV_BUTTONS, FlowConfig, StepConfig
from engine.render import TEMPLATE_SUFFIX, create_environment


def load_flow(path: Path, config: AppConfig) -> FlowConfig:
    """Parse, validate and cross-check one flow.

    Raises:
        ConfigError: every problem found.
    """
    data, smap = load_yaml(path)
    try:
        flow = FlowConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(pydantic_problems(exc, smap, FlowConfig)) from None
    problems = check_flow(flow, smap, config)
    if problems:
        raise ConfigError(problems)
    return flow


def load_flows(config: AppConfig) -> list[FlowConfig]:
    """Every flow named in config.yaml; problems of all files are reported together."""
    flows, problems = [], []
    for path in config.flows:
        try:
            flows.append(load_flow(path, config))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return flows


def template_names(config: AppConfig, locale: str) -> list[str]:
    folder = config.templates_dir / locale
    return sorted(p.stem for p in folder.glob(f"*{TEMPLATE_SUFFIX}")) if folder.is_dir() else []


def check_flow(flow: FlowConfig, smap: SourceMap, config: AppConfig) -> list[Problem]:
    """Problems no single model can see: references between steps, actions, templates."""
    problems: list[Problem] = []
    add = problems.append
    ids = list(flow.steps)
    saved = [s.save_as for s in flow.steps.values() if s.save_as]

    def step_ref(step_id: str | None, loc: tuple[str | int, ...]) -> None:
        if step_id is not None and step_id not in flow.steps:
            add(
                smap.problem(
                    loc, f"{step_id!r} is not a step of this flow{did_you_mean(step_id, ids)}"
                )
            )

    step_ref(flow.start, ("start",))
    step_ref(flow.on_cancel, ("on_cancel",))
    error_targets = {s.on_error for s in flow.steps.values() if s.on_error}
    reached = {flow.start, flow.on_cancel}

    for step_id, step in flow.steps.items():
        loc: tuple[str | int, ...] = ("steps", step_id)
        for attr in ("next", "back", "on_error"):
            step_ref(getattr(step, attr), (*loc, attr))
        reached.update((step.next, step.on_error))
        if step.back:
            reached.add(step.back)
        typed_card = step.kind == "card" and step.input is not None
        needs = {
            "choice": ("options", "save_as", "next"),
            "input": ("input", "save_as", "next"),
            "card": ("save_as", "next") if typed_card else (),
        }[step.kind]
        for attr in needs:
            if getattr(step, attr) is None:
                add(smap.problem(loc, f"a {step.kind} step needs '{attr}'"))
        forbidden = {
            "choice": ("input",),
            "input": ("options",),
            "card": ("options",) if typed_card else ("options", "save_as"),
        }[step.kind]
        for attr in forbidden:
            if getattr(step, attr) is not None:
                add(smap.problem((*loc, attr), f"a {step.kind} step has no '{attr}'", key=True))
        if typed_card and not step.keep_message:
            # Typed input answers with a new card below this one: without keep_message the
            # card would be a passing window, not a quote left in the chat to requote from.
            add(
                smap.problem(
                    (*loc, "input"),
                    "a card takes typed input only with 'keep_message: true'",
                    key=True,
                )
            )
        if step.presets and step.kind != "input":
            add(smap.problem((*loc, "presets"), "only input steps have presets", key=True))
        if step.options and step.options.of is not None and step.options.of not in saved:
            add(
                smap.problem(
                    (*loc, "options", "of"),
                    f"{step.options.of!r} is not saved by any step"
                    f"{did_you_mean(step.options.of, saved)}",
                )
            )
        if step.input is not None:
            spec = step.input
            if spec.type == "amount":
                if spec.currency is None:
                    add(smap.problem((*loc, "input"), "an amount input needs 'currency'"))
                elif isinstance(spec.currency, dict):
                    problems += _currency_choice_problems(
                        spec.currency, (*loc, "input", "currency"), smap, saved, flow
                    )
                elif spec.currency not in saved:
                    add(
                        smap.problem(
                            (*loc, "input", "currency"),
                            f"{spec.currency!r} is not saved by any step"
                            f"{did_you_mean(spec.currency, saved)}",
                        )
                    )
            if spec.min is not None and spec.max is not None and spec.min >= spec.max:
                add(
                    smap.problem(
                        (*loc, "input"), f"min ({spec.min}) must be less than max ({spec.max})"
                    )
                )
            if spec.type == "percent" and spec.max is not None and spec.max >= 100:
                add(
                    smap.problem(
                        (*loc, "input", "max"),
                        f"a percentage below 100 is needed here (it is {spec.max}): at 100 % "
                        "or more the client would get nothing",
                    )
                )
            if spec.type == "percent" and spec.min is not None and spec.min < 0:
                add(
                    smap.problem(
                        (*loc, "input", "min"),
                        f"a margin cannot be negative (it is {spec.min}): the desk would pay",
                    )
                )
            for i, preset in enumerate(step.presets):
                places = max(0, -int(preset.normalize().as_tuple().exponent))
                if spec.max_decimals is not None and places > spec.max_decimals:
                    add(
                        smap.problem(
                            (*loc, "presets", i),
                            f"{preset} has more than {spec.max_decimals} decimals",
                        )
                    )
                if (spec.min is not None and preset < spec.min) or (
                    spec.max is not None and preset > spec.max
                ):
                    add(
                        smap.problem(
                            (*loc, "presets", i),
                            f"the preset {preset} is outside the allowed {spec.min}..{spec.max}",
                        )
                    )
        problems += _unknown_actions(step.actions, loc, smap)
        if step.actions and step.on_error is None:
            add(smap.problem((*loc, "actions"), "a step with actions needs 'on_error'"))
        for bloc, button in _button_locs(step, loc):
            if button == "back" and flow.back_of(step_id) is None:
                add(smap.problem(bloc, "Back has nowhere to go from the first step; set 'back'"))
            if button == "retry" and step_id not in error_targets:
                add(smap.problem(bloc, "Retry only works on a step that is some step's on_error"))
            if button not in NAV_BUTTONS and button not in flow.buttons:
                known = [*NAV_BUTTONS, *flow.buttons]
                add(
                    smap.problem(
                        bloc,
                        f"{button!r} is not a button: use back, cancel, new_deal, retry or "
                        f"one declared under 'buttons:'{did_you_mean(button, known)}",
                    )
                )
        for name in step.button_names():
            own = flow.buttons.get(name)
            if own is not None and own.goto is not None:
                reached.add(own.goto)
        problems += _check_template(flow.template_of(step_id), (*loc, "template"), smap, config)
    problems += _flow_button_problems(flow, smap, config, saved)
    reached.update(b.next for b in flow.buttons.values() if b.next)
    for step_id in ids:
        if step_id not in reached:
            add(
                smap.problem(
                    ("steps", step_id),
                    "no step leads here (not start, next, back, "
                    "on_error or on_cancel of any step)",
                    key=True,
                )
            )
    return problems


def _unknown_actions(
    names: list[str], loc: tuple[str | int, ...], smap: SourceMap
) -> list[Problem]:
    """An ``actions:`` list's names that are not actions, each at its place."""
    return [
        smap.problem(
            (*loc, "actions", i), f"{name!r} is not a known action{did_you_mean(name, ACTIONS)}"
        )
        for i, name in enumerate(names)
        if name not in ACTIONS
    ]


def _button_locs(
    step: StepConfig, loc: tuple[str | int, ...]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Each button a step lists, with where it is written."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    for i, item in enumerate(step.buttons):
        if isinstance(item, list):
            found += [((*loc, "buttons", i, j), name) for j, name in enumerate(item)]
        else:
            found.append(((*loc, "buttons", i), item))
    return found


def _currency_choice_problems(
    choice: dict[str, str],
    loc: tuple[str | int, ...],
    smap: SourceMap,
    saved: list[str],
    flow: FlowConfig,
) -> list[Problem]:
    """``currency: {by: fixed, give: give, receive: get}``: an answer, then cases naming
    saved values."""
    problems = []
    answers = [*saved, *flow.defaults]
    by = choice.get("by")
    if by is None:
        problems.append(
            smap.problem(loc, "a currency chosen by another answer needs 'by: <answer>'")
        )
    elif by not in answers:
        problems.append(
            smap.problem(
                (*loc, "by"),
                f"{by!r} is not an answer of this flow (saved by a step or in 'defaults')"
                f"{did_you_mean(by, answers)}",
            )
        )
    cases = {k: v for k, v in choice.items() if k != "by"}
    if not cases:
        problems.append(smap.problem(loc, "name at least one case, e.g. give: give"))
    for case, key in cases.items():
        if key not in saved:
            problems.append(
                smap.problem(
                    (*loc, case),
                    f"{key!r} is not saved by any step{did_you_mean(key, saved)}",
                )
            )
    return problems


def _flow_button_problems(
    flow: FlowConfig, smap: SourceMap, config: AppConfig, saved: list[str]
) -> list[Problem]:
    """The flow's own buttons: each does one thing, with what exists."""
    problems: list[Problem] = []
    add = problems.append
    answers = [*saved, *flow.defaults]
    choice_saves = {s.save_as for s in flow.steps.values() if s.kind == "choice" and s.save_as}
    ids = list(flow.steps)
    for button_id, button in flow.buttons.items():
        loc: tuple[str | int, ...] = ("buttons", button_id)
        if button.does == "":
            add(smap.problem(loc, "a button needs one of goto, swap, set or send"))
        elif button.does == "many":
            add(smap.problem(loc, "a button does one thing: goto, swap, set or send"))
        for attr in ("goto", "next"):
            target = getattr(button, attr)
            if target is not None and target not in flow.steps:
                add(
                    smap.problem(
                        (*loc, attr),
                        f"{target!r} is not a step of this flow{did_you_mean(target, ids)}",
                    )
                )
        for i, key in enumerate(button.swap or ()):
            if key not in choice_saves:
                add(
                    smap.problem(
                        (*loc, "swap", i),
                        f"{key!r} is not saved by a choice step; swap exchanges two choices"
                        f"{did_you_mean(key, sorted(choice_saves))}",
                    )
                )
        for key in [*(button.set or {}), *button.when]:
            if key not in answers:
                add(
                    smap.problem(
                        loc,
                        f"{key!r} is not an answer of this flow (saved by a step or in "
                        f"'defaults'){did_you_mean(key, answers)}",
                    )
                )
        if button.does in ("goto", "send") and (button.actions or button.next):
            add(
                smap.problem(
                    loc, f"'actions' and 'next' belong to swap and set buttons, not {button.does}"
                )
            )
        if button.locales == "each" and button.send is None:
            add(smap.problem((*loc, "locales"), "'locales' goes with send", key=True))
        problems += _unknown_actions(button.actions, loc, smap)
        if button.send is not None:
            problems += _check_template(button.send, (*loc, "send"), smap, config)
    return problems


def _check_template(
    name: str, loc: tuple[str | int, ...], smap: SourceMap, config: AppConfig
) -> list[Problem]:
    problems = []
    for locale in config.locales:
        env = create_environment(config.templates_dir / locale)
        path = config.templates_dir / locale / f"{name}{TEMPLATE_SUFFIX}"
        if not path.is_file():
            hint = did_you_mean(name, template_names(config, locale))
            problems.append(
                smap.problem(loc, f"template {locale}/{name}{TEMPLATE_SUFFIX} not found{hint}")
            )
            continue
        problem = template_syntax_problem(path, env)
        if problem is not None:
            problems.append(problem)
    return problems


def template_syntax_problem(path: Path, env: Environment) -> Problem | None:
    """The syntax error of the template file ``path``, at its line, or None (also a file
    that cannot be read, or is not UTF-8)."""
    try:
        source = read_text(path)
    except ConfigError as exc:
        return exc.problems[0]
    try:
        env.parse(source)
    except TemplateSyntaxError as exc:
        line, message = plain_syntax_error(exc, source)
        return Problem(display_path(path), line, 1, "", f"template syntax error: {message}")
    return None


_BLOCK = re.compile(r"{%-?\s*(\w+)")
_ENDS = {"if": "endif", "for": "endfor", "with": "endwith", "raw": "endraw", "macro": "endmacro"}
_TAGS = (
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "endfor",
    "set",
    "include",
    "with",
    "endwith",
    "raw",
    "endraw",
    "macro",
    "endmacro",
    "filter",
    "endfilter",
)


def plain_syntax_error(exc: TemplateSyntaxError, source: str) -> tuple[int, str]:
    """A Jinja syntax error said for a person, and the line it is best shown at."""
    message = exc.message or "invalid template"
    lineno = exc.lineno
    looked_for = re.findall(r"'(\w+)'", message.partition("looking for the following tags")[2])
    ends = [tag for tag in looked_for if tag.startswith("end")]
    if "Unexpected end of template" in message and ends:
        end = ends[0]
        opener = next((k for k, v in _ENDS.items() if v == end), end)
        line = _open_block_line(source, opener) or lineno
        return line, f"{{% {opener} %}} opened here is never closed: add {{% {end} %}}"
    unknown = re.search(r"Encountered unknown tag '(\w+)'", message)
    if unknown:
        tag = unknown.group(1)
        return lineno, f"{{% {tag} %}} is not a template tag{did_you_mean(tag, _TAGS)}"
    if "expected 'end of print statement'" in message or "end of print statement" in message:
        return lineno, "a {{ … }} here is not closed, or has something odd inside"
    char = re.search(r"unexpected char '(.)'", message)
    if char:
        return lineno, (
            f"a {{{{ … }}}} or {{% … %}} here is not closed, or holds a character that "
            f"cannot be inside it ({char.group(1)})"
        )
    if "unexpected '}'" in message:
        return lineno, "a } without its {{ or {%"
    return lineno, message


def _open_block_line(source: str, opener: str) -> int | None:
    """The line of the last ``{% opener %}`` not closed by its end tag."""
    stack: list[int] = []
    for match in _BLOCK.finditer(source):
        word = match.group(1)
        line = source.count("\n", 0, match.start()) + 1
        if word == opener:
            stack.append(line)
        elif word == _ENDS.get(opener) and stack:
            stack.pop()
    return stack[-1] if stack else None
