"""How Haven's packages may import each other, read from the source with ``ast`` (nothing is imported).

The rule: module-level imports (those under ``if TYPE_CHECKING:`` included) form no circle, however
long; ``haven/web/`` (the HTTP toolkit every layer uses) imports no feature, nor the shield, the ops
endpoints or the app; ``haven/shield/`` imports no feature either: the app hands both what they need
(the password addresses, the busy page, the layout pages are drawn in). Features are ``accounts``,
``checker``, ``content``, ``mail`` and ``profiles``. Imports inside functions are not followed: they
run later, and the command-line front uses them to start quickly.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

HAVEN = Path(__file__).resolve().parent.parent / "haven"
FEATURES = (
    "haven.accounts",
    "haven.checker",
    "haven.content",
    "haven.mail",
    "haven.profiles",
    "haven.turnmail",
)
FORBIDDEN = {
    "haven.web": (*FEATURES, "haven.shield", "haven.ops", "haven.app", "haven.services", "haven.cli"),
    "haven.shield": (*FEATURES, "haven.app", "haven.services", "haven.cli", "haven.surge"),
}


def module_names() -> dict[str, Path]:
    found = {}
    for path in sorted(HAVEN.rglob("*.py")):
        parts = list(path.relative_to(HAVEN.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def top_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for statement in body:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            yield statement
        elif isinstance(statement, ast.If):
            yield from top_level_imports(statement.body)
            yield from top_level_imports(statement.orelse)
        elif isinstance(statement, ast.Try):
            yield from top_level_imports(statement.body)
            for handler in statement.handlers:
                yield from top_level_imports(handler.body)
            yield from top_level_imports(statement.orelse)
            yield from top_level_imports(statement.finalbody)


def resolve(module: str, is_package: bool, statement: ast.ImportFrom) -> str:
    """The absolute module a ``from`` import names (a relative one is resolved against ``module``)."""
    if not statement.level:
        return statement.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - statement.level + 1]
    return ".".join([*base, *([statement.module] if statement.module else [])])


def import_graph() -> dict[str, set[str]]:
    """Each Haven module and the Haven modules it imports at module level."""
    modules = module_names()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets: set[str] = set()
        for statement in top_level_imports(ast.parse(path.read_text(), str(path)).body):
            if isinstance(statement, ast.Import):
                targets.update(alias.name for alias in statement.names)
                continue
            source = resolve(module, path.name == "__init__.py", statement)
            for alias in statement.names:
                submodule = f"{source}.{alias.name}"  # ``from haven.shield import eta`` names a module
                targets.add(submodule if submodule in modules else source)
        graph[module] = {target for target in targets if target in modules}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (or one importing itself): Tarjan's."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph[node]:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_haven_modules_import_each_other_in_no_circle() -> None:
    assert cycles(import_graph()) == []


def test_the_web_toolkit_and_the_shield_import_no_feature() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for layer, banned in FORBIDDEN.items()
        if within(module, layer)
        for target in targets
        if any(within(target, name) for name in banned)
    )
    assert wrong == []


def test_the_check_sees_circles_and_layers() -> None:
    """The checks above would pass on an empty graph: they must see what they are looking for."""
    graph = import_graph()
    assert "haven.shield.core" in graph["haven.shield.admission"]  # a ``from … import Name``
    assert "haven.web.apidocs" in graph["haven.app"]  # a ``from package import module``
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
