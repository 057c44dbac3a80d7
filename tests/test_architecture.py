"""Data flows one way: a package imports only packages below it (README, Architecture). The
levels are the project's layering; the CLI's commands may import anything."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cnnspace"
LEVELS = {"spec": 0, "data": 0, "nn": 1, "zoo": 1, "metrics": 2, "space": 3, "train": 4,
          "scale": 4, "compress": 5, "detect": 5, "explore": 5, "report": 6}
SHARED = {"errors", "_atomic", "_cpus", "_csv", "_lanes", "_memory", "_parent", "_signals", "_threads", "_units", "_values",
          "_weight_formats", "_yaml_file", "__version__"}  # what every package may use


def _imported_packages(source: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 2:  # from .. import x
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "cnnspace."):
            found.add(node.module.split(".")[1])
    return found


def test_every_package_has_a_level():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages - {"commands"} == set(LEVELS)


@pytest.mark.parametrize("package", sorted(LEVELS))
def test_packages_import_only_lower_levels(package):
    wrong = sorted(f"{source.name} imports {other}"
                   for source in (PACKAGE / package).glob("*.py")
                   for other in _imported_packages(source) - SHARED
                   if LEVELS.get(other, 99) >= LEVELS[package])
    assert not wrong
