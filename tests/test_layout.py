"""The package's layout is its architecture: the model imports neither the studies nor the
edges, no module imports another that imports it back, and model.py stays a short story."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PKG = Path(__file__).resolve().parents[1] / "gcm_sim"
LAYERS = ("studies", "edges")


def _module(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _graph() -> nx.DiGraph:
    """Every import between gcm_sim modules (module level and inside functions)."""
    g = nx.DiGraph()
    modules = {_module(p): p for p in PKG.rglob("*.py")}
    for name, path in modules.items():
        g.add_node(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name and t != "gcm_sim":
                    g.add_edge(name, t)
    return g


def test_model_imports_neither_studies_nor_edges():
    g = _graph()
    model_layer = [n for n in g if not any(n.startswith(f"gcm_sim.{layer}") for layer in LAYERS)
                   and n not in ("gcm_sim", "gcm_sim.__main__", "gcm_sim.config")]
    bad = [(a, b) for a in model_layer for b in g.successors(a)
           if any(b.startswith(f"gcm_sim.{layer}") for layer in LAYERS)]
    assert not bad, f"the model imports studies or edges: {bad}"


def test_studies_import_only_the_outputs_and_report_of_the_edges():
    g = _graph()
    bad = [(a, b) for a in g if a.startswith("gcm_sim.studies") for b in g.successors(a)
           if b.startswith("gcm_sim.edges") and b not in ("gcm_sim.edges.outputs", "gcm_sim.edges.report")]
    assert not bad, f"studies import the command line or the dashboard: {bad}"


def test_no_import_cycles():
    cycles = list(nx.simple_cycles(_graph()))
    assert not cycles, f"import cycles: {cycles}"


def test_model_py_is_short_and_each_mechanism_has_a_step():
    assert len((PKG / "model.py").read_text(encoding="utf-8").splitlines()) < 250
    for path in (PKG / "mechanisms").glob("*.py"):
        if path.name in ("__init__.py", "documents.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{path.name} has no docstring"
        assert "step" in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, f"{path.name} has no step()"
