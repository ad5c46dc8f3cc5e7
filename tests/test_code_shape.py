"""Engineering standards that a test can hold: short functions, no print, no private imports
of another package's modules (see the brief: functions under ~80 lines; no `print` in library
code; no imports of another package's private modules)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "tcplab"
MAX_FUNCTION_LINES = 80


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(SRC.rglob("*.py"))]


def test_functions_are_under_80_lines() -> None:
    long = [
        f"{p.relative_to(SRC)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
        for p, tree in _modules()
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        and n.end_lineno is not None
        and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, "split these functions:\n" + "\n".join(long)


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return rel[0] if len(rel) > 1 else ""


def test_no_imports_of_another_packages_private_modules() -> None:
    bad = []
    for p, tree in _modules():
        mine = _package_of(p)
        for n in ast.walk(tree):
            if not isinstance(n, ast.ImportFrom) or not n.module:
                continue
            parts = n.module.split(".")
            if parts[0] != "tcplab" or len(parts) < 3:
                continue
            if parts[1] != mine and any(x.startswith("_") for x in parts[2:]):
                bad.append(f"{p.relative_to(SRC)}:{n.lineno} from {n.module} import ...")
    assert not bad, "import through the package's public API instead:\n" + "\n".join(bad)


def test_no_print_in_library_code() -> None:
    bad = [
        f"{p.relative_to(SRC)}:{n.lineno}"
        for p, tree in _modules()
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
    ]
    assert not bad, "use logging or the CLI console:\n" + "\n".join(bad)
