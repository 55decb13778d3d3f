"""The package's own code does the learning: what "from scratch" promises.

The core (:mod:`sknn_scratch.core`) may import NumPy and the standard library
only; no module of the package may import an autograd or deep-learning
framework, or one of scikit-learn's learning modules. The imports are read from
the source with :mod:`ast`, so a docstring that names these modules is no
violation and an import inside a function is one.
"""

import ast
import sys
from pathlib import Path

import pytest

import sknn_scratch

PACKAGE_DIR = Path(sknn_scratch.__file__).parent
CORE_MODULES = sorted((PACKAGE_DIR / "core").glob("*.py"))
ALL_MODULES = sorted(PACKAGE_DIR.rglob("*.py"))

FORBIDDEN = (
    "sklearn.neural_network",
    "sklearn.linear_model",
    "torch",
    "jax",
    "tensorflow",
    "keras",
    "autograd",
)


def imported_modules(path):
    """Return the names of the modules a source file imports, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_within(name, package):
    return name == package or name.startswith(package + ".")


def test_the_walk_finds_the_modules():
    assert {path.name for path in CORE_MODULES} >= {
        "activations.py",
        "losses.py",
        "layers.py",
        "network.py",
        "optimizers.py",
    }
    assert len(ALL_MODULES) > len(CORE_MODULES)


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda path: path.name)
def test_core_imports_numpy_and_the_standard_library_only(path):
    allowed_packages = ("numpy", "sknn_scratch.core")
    for name in imported_modules(path):
        top_level = name.split(".")[0]
        allowed = any(is_within(name, package) for package in allowed_packages)
        assert allowed or top_level in sys.stdlib_module_names, (
            f"{path.name} imports {name}"
        )


@pytest.mark.parametrize(
    "path", ALL_MODULES, ids=lambda path: str(path.relative_to(PACKAGE_DIR))
)
def test_no_module_imports_a_learning_library(path):
    for name in imported_modules(path):
        for forbidden in FORBIDDEN:
            assert not is_within(name, forbidden), f"{path.name} imports {name}"


def test_the_import_check_reads_imports_not_text(tmp_path):
    mention_only = tmp_path / "mention.py"
    mention_only.write_text(
        '"""Unlike sklearn.linear_model, this imports nothing."""\n'
    )
    nested_import = tmp_path / "nested.py"
    nested_import.write_text("def f():\n    from sklearn.linear_model import Ridge\n")

    assert imported_modules(mention_only) == []
    assert "sklearn.linear_model" in imported_modules(nested_import)
