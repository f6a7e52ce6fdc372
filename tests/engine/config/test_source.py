"""engine/config/source.py parses with libyaml where PyYAML has it: the data, every value's
line and column, and every error message are the pure-Python parser's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.config import source
from engine.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = [
    ROOT / "config.yaml",
    *sorted((ROOT / "flows").glob("*.yaml")),
    *sorted((ROOT / "templates").glob("*/*.yaml")),
]
TRICKY = {
    "cyrillic": "title: «Курс»\nnote: {ru: Отменить расчёт, en: Cancel}  # comment\nx: 1\n",
    "decimals": "margin: 2.50\nmin: 1_000.5\ntiny: 1e-9\nint: 7\nbig: .inf\n",
    "multiline": "text: |\n  Строка один\n  Строка два\nfolded: >\n  a\n  b\nlist: [1, 2.5, x]\n",
    "anchors": "a: &base {k: 1}\nb: *base\n",
}
BROKEN = {
    "tab": "a:\n\tb: 1\n",
    "unclosed quote": 'a: "open\nb: 2\n',
    "colon": "a: b: c\n",
    "alias": "a: *nope\n",
    "bracket": "a: [1, 2\nb: 3\n",
    "tag": "a: !python/object x\n",
    "repeated key": "a: 1\nb: 2\na: 3\n",
    "empty": "# nothing\n",
}


def parsed(path: Path, loaders: tuple[type[yaml.SafeLoader], ...]) -> object:
    """What load_yaml gives (data and source map, or the problems) with ``loaders``."""
    saved = source._LOADERS
    source._LOADERS = loaders
    try:
        data, smap = source.load_yaml(path, "f.yaml")
        return repr(data), smap.values, smap.keys  # repr: 2.5 == Decimal("2.50") too
    except ConfigError as exc:
        return exc.problems
    finally:
        source._LOADERS = saved


def both(path: Path) -> tuple[object, object]:
    return parsed(path, source._LOADERS), parsed(path, (source._DecimalLoader,))


def test_libyaml_is_used_where_pyyaml_has_it() -> None:
    assert len(source._LOADERS) == (2 if yaml.__with_libyaml__ else 1)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_shipped_files_parse_the_same(path: Path) -> None:
    fast, pure = both(path)
    assert fast == pure


@pytest.mark.parametrize("name", [*TRICKY, *BROKEN])
def test_tricky_and_broken_texts_parse_or_fail_the_same(name: str, tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text({**TRICKY, **BROKEN}[name], encoding="utf-8")
    fast, pure = both(path)
    assert fast == pure
    assert isinstance(fast, list) == (name in BROKEN)
