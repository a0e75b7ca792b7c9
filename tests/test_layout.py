"""The package's layout, read from its imports with `ast`.

Three rules keep the architecture what the README's tree says it is:
imports run one way (no cycle, lazy imports inside functions included),
no module imports another module's private name, and the library (every
module outside `cachelab/lab/`) never imports the course's apparatus.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "cachelab"
FACADES = {"cachelab", "cachelab.__main__"}  # re-export the apparatus on purpose


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(name, path):
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports(path):
    """[(imported module, [names], line)] for every cachelab import in the file, lazy ones too."""
    name = module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names
                      if alias.name.split(".")[0] == "cachelab"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_of(name, path).split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "cachelab":
                continue
            names = [alias.name for alias in node.names]
            # `from . import x` names a module; count it as importing that module.
            submodules = [f"{target}.{n}" for n in names if (PACKAGE.parent / f"{target}.{n}".replace(".", "/")).with_suffix(".py").exists()]
            found += [(m, [], node.lineno) for m in submodules]
            if len(submodules) < len(names):
                found.append((target, [n for n in names if f"{target}.{n}" not in submodules], node.lineno))
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: imports(path) for name, path in MODULES.items()}


def edges(graph, skip=FACADES):
    """Module -> modules it imports, a package's import of its own submodules excluded (a façade)."""
    out = {}
    for name, found in graph.items():
        if name in skip:
            continue
        targets = set()
        for target, _, _ in found:
            if target in MODULES and target != name and not target.startswith(name + "."):
                targets.add(target)
        out[name] = targets
    return out


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_walker_sees_relative_lazy_and_submodule_imports():
    found = {target for target, _, _ in GRAPH["cachelab.lab.stampede_views"]}
    assert "cachelab.lab.stampede_sim" in found  # `from . import stampede_sim as sim`
    lazy = {target for target, _, _ in GRAPH["cachelab.lab.demo"]}
    assert "cachelab.redis.servers" in lazy or "cachelab.redis" in lazy  # imported inside main()


def test_find_cycle_finds_one_and_passes_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(edges(GRAPH))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_from_another_module(name):
    private = [(target, n, line) for target, names, line in GRAPH[name] for n in names
               if n.startswith("_") and not n.startswith("__") and target != name]
    assert not private, f"{name} imports private names: " + ", ".join(
        f"{t}.{n} (line {line})" for t, n, line in private)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("cachelab.lab")
                                        and n not in FACADES))
def test_the_library_never_imports_the_apparatus(name):
    bad = [(t, line) for t, _, line in GRAPH[name] if t.startswith("cachelab.lab")]
    assert not bad, f"{name} imports the course's apparatus: {bad}"


def test_every_module_declares_all():
    missing = [name for name, path in MODULES.items()
               if not name.rpartition(".")[2].startswith("_") and path.name != "__init__.py"
               and "__all__" not in path.read_text()]
    assert not missing, f"modules without __all__: {missing}"
