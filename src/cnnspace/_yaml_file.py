"""Reading YAML a user wrote: safe loading only, and every problem as one clear line."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import CnnspaceError

# Far beyond any spec, study or schedule, far below what exhausts memory or the stack: YAML's
# aliases let a few lines stand for billions of values ("billion laughs").
MAX_VALUES = 1_000_000
MAX_DEPTH = 100


class _Loader(yaml.SafeLoader):
    """SafeLoader reading ``1e-3`` as the number YAML 1.2 and JSON read it: PyYAML follows YAML
    1.1, whose floats need a dot, and makes it the text '1e-3' (``lr: 1e-3`` refused as "not a
    number"). Nor does it keep YAML 1.1's octal and base-60 numbers, which YAML 1.2 and JSON
    lack: `010` would be 8 and `1:0` 60 without a word; they stay text, which a field refuses.
    So do YAML 1.1's other booleans: `yes`, `no`, `on` and `off` are text in YAML 1.2 and JSON,
    and `bias: off` read as false would build a network the file does not say."""

    def resolve(self, kind, value, implicit):
        tag = super().resolve(kind, value, implicit)
        if ((tag == _INT and re.match(r"[-+]?0[0-9_]", value))
                or (tag in (_INT, _FLOAT) and ":" in value)
                or (tag == _BOOL and value.lower() not in ("true", "false"))):
            return "tag:yaml.org,2002:str"
        return tag


class _Dumper(yaml.SafeDumper):
    """SafeDumper quoting the text that ``_Loader`` reads as a number (a layer named '1e3'),
    which PyYAML's YAML 1.1 rules leave bare: written so, it would come back as 1000.0."""


_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
for _cls in (_Loader, _Dumper):
    _cls.add_implicit_resolver(
        _FLOAT, re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"))


def safe_dump(data: Any, **options) -> str:
    """``yaml.safe_dump``, as ``safe_load`` reads it back."""
    return yaml.dump(data, Dumper=_Dumper, **options)


class Refused(yaml.YAMLError):
    """YAML that is valid but too large or too deep to read safely."""


def _check_size(root: yaml.Node) -> None:
    """Counts the values ``root`` stands for once its aliases are expanded, in time linear in
    the text (a node met again is counted from memory), and refuses a node inside itself."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # on the path from the root: meeting one again is a cycle
    stack = [(root, 1, False)]
    while stack:
        node, depth, children_counted = stack.pop()
        children = _children(node)
        if children_counted:
            open_nodes.discard(id(node))
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > MAX_VALUES:
                raise Refused(f"stands for more than {MAX_VALUES:,} values once its aliases "
                              "(*name) are expanded")
            sizes[id(node)] = total
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            raise Refused("an alias (*name) refers to a value that contains it")
        if depth > MAX_DEPTH:
            raise Refused(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.MappingNode):
            _refuse_repeated_keys(node)
        open_nodes.add(id(node))
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children)


def _refuse_repeated_keys(node: yaml.MappingNode) -> None:
    """PyYAML keeps the last of two equal keys without a word (`kernel: 3, kernel: 5` is 5)."""
    seen: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
            line, known = key.start_mark.line + 1, (key.tag, key.value)
            if known in seen:
                raise Refused(f"line {line}: key {key.value!r} is given twice (first on line "
                              f"{seen[known]})")
            seen[known] = line


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return node.value if isinstance(node, yaml.SequenceNode) else []


def safe_load(text: str) -> Any:
    """``yaml.safe_load``, refusing documents too large or too deep to hold."""
    # yaml.safe_load's own steps, with the size checked between reading the text into nodes
    # and building the values (where aliases would multiply)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return loader.construct_document(node)
    except ValueError as e:  # a value YAML reads but Python cannot hold: 2024-13-45, 5000 digits
        raise Refused(str(e).split("; use sys.set_int_max_str_digits")[0]) from None
    except RecursionError:
        raise Refused(f"nested too deeply to read (more than {MAX_DEPTH} levels)") from None
    finally:
        loader.dispose()


def yaml_problem(e: yaml.YAMLError) -> str:
    """PyYAML's several-line message as one line: where in the text, and what is wrong."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).strip().splitlines()[0]
    return (f"line {mark.line + 1}, column {mark.column + 1}: " if mark else "") + problem


def read_yaml(path: Path, error: Callable[[str], CnnspaceError]) -> Any:
    """The file's data; ``error(message)`` makes the exception raised when it cannot be had."""
    try:
        return safe_load(path.read_text())
    except OSError as e:
        raise error(f"cannot read the file: {e.strerror}") from None
    except UnicodeDecodeError:
        raise error("not a text file") from None
    except yaml.YAMLError as e:
        raise error(f"not valid YAML: {yaml_problem(e)}") from None
