"""The engine is a pure package: numpy, scipy and the standard library (pandas/pyreadstat at the input edge)."""

import ast
import sys
from pathlib import Path

import pxm.analytics.sem as sem

PKG = Path(sem.__file__).parent
EDGE = {"pandas", "pyreadstat", "openpyxl"}
ALLOWED = {"numpy", "scipy"} | EDGE


def test_imports_only_numpy_scipy_stdlib():
    for path in PKG.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top != "pxm", f"{path.name} imports {name}: the engine must not import other pxm code"
                assert top in ALLOWED or top in sys.stdlib_module_names, f"{path.name} imports {name}"


def test_pandas_only_at_the_edge():
    for path in PKG.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module-level imports only
            if isinstance(node, ast.Import):
                tops = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = {node.module.split(".")[0]}
            else:
                continue
            assert not (tops & EDGE), f"{path.name} imports {tops & EDGE} at module level"


def test_files_stay_small():
    for path in PKG.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path.name
