"""The source files a result depends on, found by reading import statements, and their hashes.

A chapter declares the files that compute its result (``Chapter.compute_files``: its config and measurement).
``source_hashes`` follows every ``resnet_lab`` import in them, transitively, and returns each file's sha256.
A result stores that map in its provenance; it is stale as soon as any of those files reads differently
(``changed``). Everything here is what a reader can check: the imports written in the files, and the hashes
written in the result. Two rules go beyond the written imports:

- a package whose ``__init__`` imports every file of its folder at run time (``DISCOVERED``: the model registry)
  depends on all of them;
- importing a module does not count its parent packages' ``__init__`` files (a chapter package's ``__init__``
  imports its claims and tables, which must never make a result stale).
"""
from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent     # .../resnet_lab
ROOT = PACKAGE.parent                          # paths are written relative to this (resnet_lab/...)
DISCOVERED = ("models",)                       # packages whose __init__ imports every module of the folder


def _module_file(parts: list[str]) -> Path | None:
    """Return the file of module ``resnet_lab.<parts>`` (a module file or a package's ``__init__``), or None."""
    base = PACKAGE.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_parts(path: Path) -> list[str]:
    """Return the dotted package of a file under ``resnet_lab`` as parts below it (its own, for ``__init__``)."""
    return list(path.relative_to(PACKAGE).parent.parts)


def imported_files(path: Path) -> set[Path]:
    """Return the ``resnet_lab`` files that ``path`` imports (absolute or relative), from its import statements."""
    path = Path(path).resolve()
    found = set()

    def add(parts: list[str]) -> None:
        module = _module_file(parts) if parts else None  # the top package's own __init__ never counts
        if module is not None:
            found.add(module)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE.name:
                    add(parts[1:])
        elif isinstance(node, ast.ImportFrom):
            module = node.module.split(".") if node.module else []
            if node.level:
                package = _package_parts(path)
                parts = package[:len(package) - (node.level - 1)] + module
            elif module and module[0] == PACKAGE.name:
                parts = module[1:]
            else:
                continue
            add(parts)
            for alias in node.names:  # `from package import submodule` imports the submodule's file
                add([*parts, alias.name])
    return found


def _discovered(path: Path) -> set[Path]:
    """Return every module of a ``DISCOVERED`` package, for its ``__init__`` (else nothing)."""
    if path.name == "__init__.py" and path.parent.name in DISCOVERED and path.parent.parent == PACKAGE:
        return {p for p in path.parent.glob("*.py") if p.name != "__init__.py"}
    return set()


def source_closure(files: Iterable[Path]) -> list[Path]:
    """Return ``files`` and every ``resnet_lab`` file they import, transitively, sorted."""
    todo, seen = [Path(f).resolve() for f in files], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        if not path.is_file():
            raise FileNotFoundError(f"source file {path} (declared in a chapter's compute_files) does not exist")
        seen.add(path)
        todo += [p for p in imported_files(path) | _discovered(path) if p not in seen]
    return sorted(seen)


def file_hash(path: Path) -> str:
    """Return the first 16 hex digits of the sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _name(path: Path) -> str:
    """Return how a result names a source file: relative to the repository, absolute if outside it."""
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()


def source_hashes(files: Iterable[Path]) -> dict[str, str]:
    """Return ``{"resnet_lab/…/file.py": hash}`` for ``files`` and everything they import (``source_closure``)."""
    return {_name(p): file_hash(p) for p in source_closure(files)}


def changed(saved: dict[str, str]) -> list[str]:
    """Return the files of a saved ``source_hashes`` map that now read differently or are gone, sorted."""
    out = []
    for name, digest in sorted(saved.items()):
        path = ROOT / name  # an absolute name stays absolute
        if not path.is_file() or file_hash(path) != digest:
            out.append(name)
    return out
