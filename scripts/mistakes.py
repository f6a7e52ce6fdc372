"""What ``crypto-helper check`` says about the mistakes people make editing the YAML, and
how long it takes.

Each mistake is applied to a fresh copy of the shipped definitions; ``check`` runs as a
subprocess (as a person runs it), and its output and wall time are printed::

    python scripts/mistakes.py                  # this checkout
    python scripts/mistakes.py --code OTHER     # another checkout's engine (e.g. a worktree)
    python scripts/mistakes.py --markdown       # a table for a note (the README's comes from it)

Not a test: the tests assert the exact messages (tests/engine/test_check_*.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(os.environ.get("MISTAKES_ROOT") or Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class Mistake:
    what: str
    file: str
    old: str = ""
    new: str = ""
    apply: Callable[[Path], None] | None = None


def _cp1251(name: str) -> Callable[[Path], None]:
    def apply(project: Path) -> None:
        path = project / name
        path.write_bytes(path.read_text(encoding="utf-8").encode("cp1251", errors="replace"))

    return apply


def _typo_in_rule(project: Path) -> None:
    path = project / "config.yaml"
    text = path.read_text(encoding="utf-8")
    for old in ("      provider: [rapira", "      provider: rapira"):
        if old in text:
            path.write_text(text.replace(old, old.replace("rapira", "rapria"), 1), "utf-8")
            return


def _rename_zar(project: Path) -> None:
    path = project / "config.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("ZAR", "ZRA"), encoding="utf-8")


def _long_template(project: Path) -> None:
    path = project / "templates/en/help.j2"
    path.write_text(path.read_text(encoding="utf-8") + "x" * 4100, encoding="utf-8")


MISTAKES = [
    Mistake("currency code in lower case", "config.yaml", "  - code: USD\n", "  - code: usd\n"),
    Mistake(
        "a direction to an unknown currency",
        "config.yaml",
        "  RUB: [USDT, USD,",
        "  RUB: [USDT, USX,",
    ),
    Mistake(
        "a tab indents a line",
        "config.yaml",
        '    kind: fiat\n    emoji: "🇺🇸"',
        '    kind: fiat\n\temoji: "🇺🇸"',
    ),
    Mistake("a quote opened, never closed", "config.yaml", 'emoji: "🇪🇺"', 'emoji: "🇪🇺'),
    Mistake("a colon missing after a key", "config.yaml", "    decimals: 0\n", "    decimals 0\n"),
    Mistake("a misspelt key", "config.yaml", "    decimals: 0\n", "    decimal: 0\n"),
    Mistake(
        "min_amount above max_amount",
        "config.yaml",
        '    min_amount: "1000"\n',
        '    min_amount: "30000000000"\n',
    ),
    Mistake("decimals out of range", "config.yaml", "    decimals: 0\n", "    decimals: 20\n"),
    Mistake(
        "a number where text is expected",
        "config.yaml",
        "name: {ru: Евро, en: Euro}",
        "name: {ru: Евро, en: 5}",
    ),
    Mistake(
        "a locale's name missing", "config.yaml", "name: {ru: Евро, en: Euro}", "name: {ru: Евро}"
    ),
    Mistake("the same currency twice", "config.yaml", "  - code: ZAR\n", "  - code: AED\n"),
    Mistake("an unknown provider in a rule", "config.yaml", apply=_typo_in_rule),
    Mistake("a fiat currency code that is no ISO 4217 code", "config.yaml", apply=_rename_zar),
    Mistake(
        "margin max of 100 % or more",
        "flows/exchange.yaml",
        "min: 0, max: 10,",
        "min: 0, max: 150,",
    ),
    Mistake(
        "a preset outside min/max",
        "flows/exchange.yaml",
        "presets: [0.5, 1, 1.5, 2, 2.5, 3]",
        "presets: [0.5, 1, 1.5, 2, 2.5, 30]",
    ),
    Mistake(
        "next: names a step that does not exist",
        "flows/exchange.yaml",
        "    next: amount\n",
        "    next: amout\n",
    ),
    Mistake(
        "a misspelt variable in a template",
        "templates/en/result.j2",
        "{{ quote.result|",
        "{{ quot.result|",
    ),
    Mistake("an {% if %} never closed", "templates/en/result.j2", "{% endif %}", ""),
    Mistake(
        "an HTML tag Telegram does not know",
        "templates/en/result.j2",
        "Margin: {{",
        "<div>Margin:</div> {{",
    ),
    Mistake(
        "a tag opened, never closed",
        "templates/en/result.j2",
        "<b>Exchange quote</b>",
        "<b>Exchange quote",
    ),
    Mistake(
        "a link with an unquoted URL",
        "templates/en/help.j2",
        "<b>Crypto Helper</b>",
        "<a href=https://example.com>Crypto Helper</a>",
    ),
    Mistake("a text over 4096 characters", "templates/en/help.j2", apply=_long_template),
    Mistake(
        "a button label missing in one locale",
        "templates/en/strings.yaml",
        '  retry: "🔁 Retry"\n',
        "",
    ),
    Mistake(
        "a pop-up over 200 characters",
        "templates/en/strings.yaml",
        '  restarted: "The bot was restarted — starting the quote over."',
        '  restarted: "' + "The bot was restarted. " * 10 + '"',
    ),
    Mistake(
        "a command description left empty",
        "config.yaml",
        "description: {ru: Текущие курсы, en: Current rates}",
        "description: {ru: Текущие курсы, en: ''}",
    ),
    Mistake(
        "a template saved as Windows-1251",
        "templates/ru/result.j2",
        apply=_cp1251("templates/ru/result.j2"),
    ),
    Mistake("config.yaml saved as Windows-1251", "config.yaml", apply=_cp1251("config.yaml")),
    Mistake("a routed pair without a demo rate", "config.yaml", '      ZAR/RUB: "4.5120"\n', ""),
]


def project_copy(dest: Path) -> Path:
    shutil.copy(ROOT / "config.yaml", dest / "config.yaml")
    for folder in ("flows", "templates"):
        shutil.copytree(ROOT / folder, dest / folder)
    return dest / "config.yaml"


def run_check(mistake: Mistake, code: Path) -> tuple[str, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        config = project_copy(project)
        if mistake.apply is not None:
            mistake.apply(project)
        else:
            path = project / mistake.file
            text = path.read_text(encoding="utf-8")
            if mistake.old not in text:
                return "(not applicable: the file has no such text)", 0.0, -1
            path.write_text(text.replace(mistake.old, mistake.new, 1), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(code)}
        env.pop("CONFIG_PATH", None)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "engine.cli", "check", "--config", str(config)],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        seconds = time.perf_counter() - started
    output = (done.stdout + done.stderr).strip().replace(str(project) + "/", "")
    return output, seconds, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose engine runs")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    times = []
    os.environ.setdefault("MISTAKES_ROOT", str(ROOT))
    for i, mistake in enumerate(MISTAKES, 1):
        output, seconds, code = run_check(mistake, args.code.resolve())
        if code >= 0:
            times.append(seconds)
        if args.markdown:
            cell = output.replace("|", "\\|").replace("\n", "<br>")
            print(f"| {i} | {mistake.what} | exit {code}: {cell} |")
        else:
            print(f"── {i}. {mistake.what} ({mistake.file}) exit {code}, {seconds:.2f} s")
            print(output)
            print()
    times.sort()
    print(
        f"check wall time: median {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s "
        f"over {len(times)} runs"
    )


if __name__ == "__main__":
    main()
