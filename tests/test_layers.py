"""The layer picture in the README holds: no module imports a layer above its own (issue #11)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "firstlast"
# Bottom to top; a module may import its own package and anything in a lower layer.
LAYERS: list[set[str]] = [
    {"firstlast", "errors", "sentences"},  # sentences.py: the one splitter (issue #9, on main)
    {"types", "lifecycle"},
    {"records", "db", "retriever", "metrics"},
    {"language", "mapping", "schema"},  # schema: db.py's migrations
    {"ingest", "answerer"},
    {"handoff"},
    {"bot", "learning", "config", "insights"},  # insights: issue #14
    {"desk", "web"},  # web: what the widget and the console need on the server (issue #10)
    {"wiring", "testing"},
    {"api", "eval"},
    {"cli"},
]
RANK = {name: level for level, names in enumerate(LAYERS) for name in names}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("firstlast"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("firstlast")}
    return found


def _upward(importer: str, module: str) -> bool:
    here, there = _part(importer), _part(module)
    return here != there and RANK[there] >= RANK[here]


def test_every_module_and_package_has_a_layer() -> None:
    parts = {
        p.stem for p in SRC.iterdir() if (p.suffix == ".py" or p.is_dir()) and not p.name.startswith("__")
    }
    assert parts <= set(RANK), parts - set(RANK)


def test_no_import_runs_back_up_the_layers() -> None:
    upward = []
    for path in SRC.rglob("*.py"):
        importer = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        upward += [f"{importer} imports {m}" for m in _imports(path) if _upward(importer, m)]
    assert upward == []


def test_the_import_that_ran_back_up_before_would_be_caught() -> None:
    assert _upward("firstlast.handoff.desk", "firstlast.bot")  # main had this one
    assert _upward("firstlast.bot", "firstlast.desk") and not _upward("firstlast.desk", "firstlast.bot")
