"""The files a set of definitions is made of, and the set's fingerprint.

A set is config.yaml, the flow files it lists and, for each of its locales, the templates
(``*.j2``, in subfolders too, as Jinja includes them) and ``strings.yaml``: everything
``crypto-helper check`` reads. Its fingerprint (a short sha256 of the files' names and
contents) names the set that runs on ``/health/ready`` and tells a reload whether there is
anything new to load. Hidden files and editors' backups (``.result.j2.swp``, ``result.j2~``)
are no part of it. No aiogram import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.config.models import AppConfig
from engine.render import STRINGS_FILE, TEMPLATE_SUFFIX

# Shown: enough to tell sets apart in a log line or on /health/ready.
FINGERPRINT_LENGTH = 12


@dataclass(frozen=True)
class FileSet:
    """The files of one set, and the folders new files of it may appear in.

    Attributes:
        config: config.yaml (absolute).
        files: every file of the set, sorted; config.yaml first.
        template_folders: each locale's templates folder and its subfolders, where a new
            template joins the set.
    """

    config: Path
    files: tuple[Path, ...]
    template_folders: tuple[Path, ...]

    @property
    def folders(self) -> tuple[Path, ...]:
        """Every folder holding a file of the set, or where one may appear: what a watcher
        watches (each on its own, not the folders below it)."""
        return _unique([*(path.parent for path in self.files), *self.template_folders])

    def fingerprint(self) -> str:
        """A short sha256 of every file's name (relative to config.yaml's folder) and
        contents; a file that went missing counts as such."""
        digest = hashlib.sha256()
        root = self.config.parent
        for path in self.files:
            digest.update(_name(path, root).encode() + b"\0")
            try:
                content = path.read_bytes()
            except OSError:  # removed, or unreadable, since it was listed
                digest.update(b"\0missing\0")
                continue
            digest.update(str(len(content)).encode() + b"\0" + content)
        return digest.hexdigest()[:FINGERPRINT_LENGTH]

    def holds(self, path: Path) -> bool:
        """Whether a change of ``path`` may change the set: one of its files, or a new
        template or strings file in one of its template folders."""
        if path in self.files:
            return True
        return path.parent in self.template_folders and _is_template_file(path)


def file_set(config_file: Path, config: AppConfig) -> FileSet:
    """The files of the set that ``config`` (loaded from ``config_file``) describes."""
    config_file = config_file.resolve()
    files: list[Path] = [config_file, *(flow.resolve() for flow in config.flows)]
    folders: list[Path] = []
    for locale in config.locales:
        folder = (config.templates_dir / locale).resolve()
        folders.append(folder)
        if not folder.is_dir():
            continue
        inside = sorted(p for p in folder.rglob("*") if _visible(p, folder))
        folders += [p for p in inside if p.is_dir()]
        files += [p for p in inside if p.is_file() and _is_template_file(p)]
    return FileSet(config_file, _unique(files), _unique(folders))


def is_ignored(path: Path) -> bool:
    """Hidden files and folders, and editors' backups and swap files."""
    name = path.name
    return name.startswith((".", "#")) or name.endswith(("~", ".swp", ".swx", ".tmp", ".bak"))


def _visible(path: Path, folder: Path) -> bool:
    return not any(is_ignored(Path(part)) for part in path.relative_to(folder).parts)


def _is_template_file(path: Path) -> bool:
    return not is_ignored(path) and (path.suffix == TEMPLATE_SUFFIX or path.name == STRINGS_FILE)


def _name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _unique(paths: Iterable[Path]) -> tuple[Path, ...]:
    return tuple(dict.fromkeys(paths))
