"""Reading a YAML file a user wrote: safe loading only, and every problem as one clear error."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import CnnspaceError


def read_yaml(path: Path, error: Callable[[str], CnnspaceError]) -> Any:
    """The file's data; ``error(message)`` makes the exception raised when it cannot be had."""
    try:
        return yaml.safe_load(path.read_text())
    except OSError as e:
        raise error(f"cannot read the file: {e.strerror}") from None
    except UnicodeDecodeError:
        raise error("not a text file") from None
    except yaml.YAMLError as e:
        raise error(f"not valid YAML: {e}") from None
