"""Reading YAML a user wrote: safe loading only, and every problem as one clear line."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import CnnspaceError


def yaml_problem(e: yaml.YAMLError) -> str:
    """PyYAML's several-line message as one line: where in the text, and what is wrong."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).strip().splitlines()[0]
    return (f"line {mark.line + 1}, column {mark.column + 1}: " if mark else "") + problem


def read_yaml(path: Path, error: Callable[[str], CnnspaceError]) -> Any:
    """The file's data; ``error(message)`` makes the exception raised when it cannot be had."""
    try:
        return yaml.safe_load(path.read_text())
    except OSError as e:
        raise error(f"cannot read the file: {e.strerror}") from None
    except UnicodeDecodeError:
        raise error("not a text file") from None
    except yaml.YAMLError as e:
        raise error(f"not valid YAML: {yaml_problem(e)}") from None
