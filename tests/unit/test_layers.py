"""The package's layers hold: every import arrow points down, and no modules import each other in a circle.

Layers, bottom up (docs/architecture.md draws them):

    common (and the generated v1)   tensors, spaces, metrics, files, backoff: no service
    spec                            ExperimentSpec and every config model: no TensorFlow, no Gymnasium
    envs                            env families, env batches, the installed env catalogue
    admission                       one `admit` that every door an experiment comes in by calls
    actor | learner                 the data plane: actors never import the learner or TensorFlow
    controller                      the control plane: never the learner or TensorFlow
    launch | client | plots | cli   entry points

The check reads the source (every `import`, lazy ones inside functions and TYPE_CHECKING ones
included), so it needs none of the optional dependencies installed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "services"
PACKAGE = "seedrl"

# layer -> the layers (top-level packages of seedrl) it may import, itself included.
ALLOWED: dict[str, set[str]] = {
    "common": {"common", "v1"},
    "v1": {"v1"},
    "spec": {"common", "spec"},
    "envs": {"common", "spec", "envs"},
    "admission": {"common", "spec", "envs", "admission"},
    "actor": {"common", "v1", "spec", "envs", "actor"},
    "learner": {"common", "v1", "spec", "envs", "learner"},
    "controller": {"common", "v1", "spec", "envs", "admission", "controller"},
    "launch": {"common", "v1", "spec", "envs", "admission", "controller", "launch"},
    "client": {"common", "spec", "client"},
    "plots": {"common", "plots"},
    "cli": {"common", "spec", "envs", "admission", "actor", "learner", "controller", "launch", "client", "plots", "cli"},
    "__init__": set(),
}
# Third-party packages a layer must never import.
FORBIDDEN_THIRD_PARTY: dict[str, set[str]] = {
    "common": {"tensorflow", "keras", "gymnasium", "fastapi", "kubernetes"},
    "spec": {"tensorflow", "keras", "gymnasium", "fastapi", "kubernetes", "grpc"},
    "envs": {"tensorflow", "keras", "fastapi", "kubernetes"},
    "admission": {"tensorflow", "keras", "fastapi", "kubernetes"},
    "actor": {"tensorflow", "keras", "fastapi", "kubernetes"},
    "controller": {"tensorflow", "keras"},
    "client": {"tensorflow", "keras", "gymnasium"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


MODULES: dict[str, Path] = {module_name(path): path for path in ROOT.rglob("*.py")}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(module: str, path: Path) -> set[str]:
    """The modules `module` imports: seedrl modules resolved to the deepest module named, others by top-level name."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names)
    return found


def seedrl_imports(module: str) -> set[str]:
    resolved = set()
    for name in imports_of(module, MODULES[module]):
        while name.startswith(PACKAGE) and name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in MODULES and name != module:
            resolved.add(name)
    return resolved


def test_every_import_points_down_the_layers() -> None:
    wrong = []
    for module in sorted(MODULES):
        layer = layer_of(module)
        for target in sorted(seedrl_imports(module)):
            if target != PACKAGE and layer_of(target) not in ALLOWED[layer]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_layers_import_no_forbidden_third_party_package() -> None:
    wrong = []
    for module in sorted(MODULES):
        forbidden = FORBIDDEN_THIRD_PARTY.get(layer_of(module), set())
        for name in sorted(imports_of(module, MODULES[module])):
            if name.split(".")[0] in forbidden:
                wrong.append(f"{module} imports {name}")
    assert not wrong, "\n".join(wrong)


def find_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_modules_import_each_other_in_a_circle() -> None:
    circles = find_circles({module: seedrl_imports(module) for module in MODULES})
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(circle) for circle in circles)


@pytest.mark.parametrize("graph, circles", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}, [["a", "b", "c"]]),
])
def test_circles_are_found(graph: dict[str, set[str]], circles: list[list[str]]) -> None:
    assert find_circles(graph) == circles


def test_the_checks_see_an_arrow_added_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec module importing the learner, the way `common/spec.py` once did, fails the layer check."""
    path = tmp_path / "spec" / "bad.py"
    path.parent.mkdir()
    path.write_text("from seedrl.learner.agents.vtrace.agent import VTraceAgent\nimport tensorflow\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["MODULES"]), "ROOT", tmp_path)
    module = module_name(path)
    assert module == "seedrl.spec.bad"
    assert imports_of(module, path) == {"seedrl.learner.agents.vtrace.agent", "tensorflow"}
    assert layer_of("seedrl.learner.agents.vtrace.agent") not in ALLOWED[layer_of(module)]
    assert "tensorflow" in {name.split(".")[0] for name in imports_of(module, path)} & FORBIDDEN_THIRD_PARTY["spec"]
