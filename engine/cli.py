"""The ``crypto-helper`` command.

``check`` validates and renders everything (fast, no aiogram import); ``preview`` prints
rendered windows as text (``--html DIR``: a gallery of them drawn as Telegram shows them);
``graph`` prints a flow as Mermaid or DOT; ``schema`` writes the editors' JSON Schemas;
``chat`` talks to the bot in the terminal (offline, no token); ``run`` starts the bot;
``reload`` has the running bot reload config, flows and templates (checked first).
``--config PATH`` works on every command, else ``$CONFIG_PATH``, else ``./config.yaml``. A
user's mistake exits 2 with ``file:line:col: path: message`` lines and no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_USER_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crypto-helper", description="Crypto Helper: exchange-desk quoting bot"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="PATH", help="config file (default: $CONFIG_PATH or ./config.yaml)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "check", parents=[common], help="validate config, flows and templates; render every window"
    )
    preview = sub.add_parser(
        "preview", parents=[common], help="print rendered windows (offline rates)"
    )
    preview.add_argument("--locale", help="only this locale, e.g. en")
    preview.add_argument("--step", help="only this step, e.g. amount")
    preview.add_argument(
        "--case", help="only cases containing this text, e.g. RUB→USDT (or RUB->USDT, rub-usdt)"
    )
    preview.add_argument(
        "--html",
        metavar="DIR",
        help="write a gallery of every window, drawn as Telegram shows it, into DIR",
    )
    graph = sub.add_parser(
        "graph", parents=[common], help="print the flow as a graph (Mermaid or Graphviz DOT)"
    )
    graph.add_argument(
        "--format",
        choices=("mermaid", "dot"),
        default="mermaid",
        help="mermaid (default; GitHub and the gallery draw it) or dot (Graphviz)",
    )
    graph.add_argument("--flow", metavar="ID", help="only this flow (default: every flow)")
    chat = sub.add_parser(
        "chat", parents=[common], help="chat with the bot in this terminal (offline, no token)"
    )
    chat.add_argument("--locale", help="your Telegram language, e.g. en (default: the bot's)")
    chat.add_argument(
        "--user-id", type=int, default=1, metavar="N", help="your Telegram user id (an admin)"
    )
    schema = sub.add_parser(
        "schema",
        parents=[common],
        help="write JSON Schemas of config.yaml, flows and strings.yaml (editor autocompletion)",
    )
    schema.add_argument(
        "--out",
        metavar="DIR",
        help="where to write them (default: schemas/ beside the config file)",
    )
    db = sub.add_parser("db", help="the quote journal's database (DATABASE_URL or DATA_DIR)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply the schema migrations (run also does at start)")
    run = sub.add_parser("run", parents=[common], help="start the bot")
    run.add_argument(
        "--offline",
        action="store_true",
        help="quote from the static rates in config.yaml (demo mode)",
    )
    sub.add_parser(
        "reload",
        parents=[common],
        help="have the running bot reload config, flows and templates (checked first; its "
        "port: PORT, else server.port)",
    )
    return parser


def _print_problems(problems: Sequence[object]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(problems)} problem(s) found.", file=sys.stderr)


def import_aiogram_lazily() -> None:
    """First thing for a command that imports aiogram: its Bot API models then build on
    first use, not all at import (:mod:`engine.lazy_aiogram`)."""
    from engine.lazy_aiogram import import_aiogram

    import_aiogram()


def cmd_check(args: argparse.Namespace) -> int:
    from engine.check import run_check

    report = run_check(args.config)
    for warning in report.warnings:
        print(warning, file=sys.stderr)
    if report.problems:
        _print_problems(report.problems)
        return EXIT_USER_ERROR
    print(report.summary)
    return 0


def cmd_gallery(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.studio.gallery import build_gallery

    if args.locale or args.step or args.case:
        print(
            "crypto-helper preview: --html draws every window; leave out --locale, --step "
            "and --case",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    folder = Path(args.html)
    if folder.exists() and not folder.is_dir():
        print(f"crypto-helper preview: {folder} is a file, not a folder", file=sys.stderr)
        return EXIT_USER_ERROR
    problems, gallery = build_gallery(args.config, folder)
    if gallery is None:
        _print_problems(problems)
        return EXIT_USER_ERROR
    print(
        f"{len(gallery.pictures)} windows on {len(gallery.pages)} pages: "
        f"{gallery.index.resolve().as_uri()}"
    )
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from engine.check import preview_screens
    from engine.preview import PreviewSelectionError, select_screens

    if args.html is not None:
        return cmd_gallery(args)
    problems, screens = preview_screens(args.config)
    if problems:
        _print_problems(problems)
        return EXIT_USER_ERROR
    try:
        chosen = select_screens(screens, locale=args.locale, step=args.step, case=args.case)
    except PreviewSelectionError as exc:  # a filter that matches nothing: say what would
        print(f"crypto-helper preview: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    for screen in chosen:
        print(f"── {screen.flow}.{screen.step} [{screen.locale}] {screen.case}")
        print(screen.text)
        for row in screen.keyboard:
            print("  " + "  ".join(f"[{label}]" for label, _ in row))
        print()
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from engine.definitions import load_definitions
    from engine.errors import ConfigError
    from engine.studio.graph import flow_graph

    try:
        defs = load_definitions(args.config)
    except ConfigError as exc:
        _print_problems(exc.problems)
        return EXIT_USER_ERROR
    flows = [f for f in defs.flows if args.flow in (None, f.id)]
    if not flows:
        known = ", ".join(f.id for f in defs.flows)
        print(f"crypto-helper graph: no flow {args.flow!r}; flows: {known}", file=sys.stderr)
        return EXIT_USER_ERROR
    print("\n".join(flow_graph(flow, args.format) for flow in flows), end="")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from pathlib import Path

    from engine.config.loader import config_path
    from engine.config.source import display_path
    from engine.studio.schema import write_schemas

    folder = Path(args.out) if args.out else config_path(args.config).parent / "schemas"
    try:
        written = write_schemas(folder)
    except OSError as exc:
        print(f"crypto-helper schema: cannot write {folder}: {exc.strerror}", file=sys.stderr)
        return EXIT_USER_ERROR
    for path in written:
        print(f"wrote {display_path(path)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import signal

    # SIGHUP reloads once the bot serves; until then (imports, the check) it must not end
    # the process, as its default would.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    import_aiogram_lazily()
    from engine.app import run_bot

    return run_bot(args.config, offline=args.offline)


def cmd_chat(args: argparse.Namespace) -> int:
    import_aiogram_lazily()
    from engine.app import local_app
    from engine.studio.chat import start_chat

    return start_chat(args.config, local_app, locale=args.locale, user_id=args.user_id)


def cmd_reload(args: argparse.Namespace) -> int:
    import os

    from engine.config.loader import config_path
    from engine.reload.command import request_reload
    from engine.settings import load_env_file

    load_env_file()  # PORT and METRICS_TOKEN as run reads them
    return request_reload(config_path(args.config), os.environ)


def cmd_db(args: argparse.Namespace) -> int:
    import os

    from engine.journal.command import db_upgrade
    from engine.settings import load_env_file

    load_env_file()  # DATABASE_URL and DATA_DIR as run reads them
    return db_upgrade(os.environ)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {
        "check": cmd_check,
        "preview": cmd_preview,
        "graph": cmd_graph,
        "schema": cmd_schema,
        "chat": cmd_chat,
        "db": cmd_db,
        "run": cmd_run,
        "reload": cmd_reload,
    }[args.command]
    return handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
