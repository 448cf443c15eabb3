"""The accounts services import one way: no module reaches back to one that imports it.

Every import statement counts, function-local ones too (they only hide a cycle).
"""

import ast
from pathlib import Path

ACCOUNTS = Path(__file__).resolve().parents[2] / "accounts"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ACCOUNTS.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in ACCOUNTS.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        edges = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in paths)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    if target in paths:
                        edges.add(target)
                    elif node.module in paths:
                        edges.add(node.module)
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), list(graph.get(start, ()))
    while todo:
        name = todo.pop()
        if name == goal:
            return True
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return False


def test_no_accounts_services_module_is_part_of_an_import_cycle():
    graph = _import_graph()
    modules = [name for name in graph if name.startswith("accounts.services") or name == "accounts.tasks"]
    assert len(modules) > 5
    assert [name for name in modules if _reaches(graph, name, name)] == []


def test_no_module_imports_a_private_name_of_a_services_module():
    for path in ACCOUNTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("accounts.services"):
                assert not [alias.name for alias in node.names if alias.name.startswith("_")], path
