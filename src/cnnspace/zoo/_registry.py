"""A decorator registry of model builders, each returning a NetSpec (timm-style, wildcard listing)."""
from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping

from .._values import is_int
from ..spec import NetSpec, SpecError, freeze, parse_input, thaw


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its builder, description, every setting with its default, its
    task (``is_family``: it has settings beyond num_classes and input), and whether many of its
    points may be built at once in lanes (``cnnspace.space.analyze_family``)."""
    name: str
    build: Callable[..., NetSpec]
    description: str
    defaults: Mapping[str, Any]  # every setting the builder accepts, with its default
    task: str  # "classification": outputs are class scores; others say what their outputs mean
    lanes: bool = False

    @property
    def is_family(self) -> bool:
        return set(self.defaults) - {"num_classes", "input"} != set()


_MODELS: dict[str, ModelEntry] = {}


def register_model(description: str | Callable[..., NetSpec], name: str | None = None,
                   task: str = "classification", replace_existing: bool = False,
                   lanes: bool = False):
    """Registers ``fn(num_classes=..., input=(C, H, W), **settings) -> NetSpec``. Every setting
    is a keyword parameter with its default (settings are checked against them). A name already
    taken by another builder is refused unless ``replace_existing``. Used bare, as timm's
    (``@register_model``), the description is the first line of ``fn``'s docstring.

    ``lanes=True`` lets ``analyze_family`` and ``analyze_points`` build many points in one call,
    each number setting holding all their values (``cnnspace._lanes``). Only for a builder that
    uses numbers through arithmetic, comparisons and ``int()``/``range()``: not ``isinstance(v,
    int)``, a dict looked up by a number, or a number written into a layer name, where lanes
    would take another way than a plain int does."""
    if callable(description):
        fn = description
        summary = (inspect.getdoc(fn) or "").split("\n")[0]
        return register_model(summary, name, task, replace_existing, lanes)(fn)
    if not isinstance(description, str):
        raise TypeError(f"register_model(description, ...): expected a str description, got "
                        f"{type(description).__name__}")
    def register(fn: Callable[..., NetSpec]):
        key = name or fn.__name__
        params = inspect.signature(fn).parameters
        if "num_classes" not in params or "input" not in params:
            raise TypeError(f"model {key!r} must accept num_classes and input")
        loose = [p.name for p in params.values()
                 if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is p.empty]
        if loose:
            raise TypeError(f"model {key!r}: {', '.join(loose)} must be keyword parameters with "
                            "defaults (settings are checked against them)")
        taken = _MODELS.get(key)
        if taken and _origin(taken.build) != _origin(fn) and not replace_existing:
            raise ValueError(f"a model named {key!r} is already registered (by "
                             f"{'.'.join(_origin(taken.build))}); choose another name or pass "
                             "replace_existing=True")
        _MODELS[key] = ModelEntry(key, fn, description, MappingProxyType(
            {p.name: p.default for p in params.values()}), task, lanes)
        return fn
    return register


def _origin(fn: Callable) -> tuple[str, str]:
    """Where a builder is defined: the same function registered again (a reloaded module) is
    no conflict."""
    return fn.__module__, fn.__qualname__


def list_models(pattern: str | None = "*") -> list[str]:
    """Registered names matching the wildcard ``pattern`` in any case (VGG, AlexNet); a pattern
    without wildcards matches the names that contain it; None or "" lists them all."""
    if pattern is None:
        pattern = "*"
    if not isinstance(pattern, str):
        raise SpecError(f"expected a wildcard pattern (a str such as 'squeezenet*'), got "
                        f"{type(pattern).__name__}", field="pattern")
    if not any(c in pattern for c in "*?["):
        pattern = f"*{pattern}*"
    pattern = pattern.lower()
    return sorted(n for n in _MODELS if fnmatch.fnmatchcase(n.lower(), pattern))


def model_entry(name: str) -> ModelEntry:
    """The registration of model ``name``: its builder, description, settings and task."""
    if not isinstance(name, str):
        given = type(name).__name__
        hint = ": a spec already, use it as it is" if isinstance(name, NetSpec) else ""
        raise SpecError(f"expected a model name (a str such as 'squeezenet1_1'), got {given}"
                        f"{hint}", field="model")
    try:
        return _MODELS[name]
    except KeyError:
        import difflib  # here: only a mistyped name needs it

        # names are lower case: VGG16, squeezenet1.1 and alexnet-caffe are near misses
        spelled = name.lower().replace(".", "_").replace("-", "_")
        close = [n for n in _MODELS if n == spelled] or difflib.get_close_matches(
            spelled, list(_MODELS), n=3, cutoff=0.8)
        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
        raise SpecError(f"unknown model {name!r}{hint}; registered models: "
                        f"{', '.join(sorted(_MODELS))}", field="model") from None


def get_spec(name: str, /, **settings: Any) -> NetSpec:
    """The spec of a registered model; ``settings`` are checked against what the model accepts
    (``name`` only positional: a family's own ``name`` setting is one of them)."""
    entry = model_entry(name)
    # numpy's scalars and arrays (sweeps are written with np.arange) as plain Python values
    settings = {key: freeze(value) for key, value in settings.items()}
    unknown = sorted(set(settings) - set(entry.defaults))
    if unknown:
        raise SpecError(f"model {name!r} has no setting {unknown[0]!r}; it accepts: "
                        f"{', '.join(entry.defaults)}", field=unknown[0])
    if "input" in settings:  # HxW keeps the model's own channel count
        default = entry.defaults["input"]
        channels = default[0] if isinstance(default, (list, tuple)) and len(default) == 3 else 3
        settings["input"] = parse_input(settings["input"], channels)
    if "num_classes" in settings and (not is_int(settings["num_classes"])
                                      or settings["num_classes"] < 1):
        raise SpecError(f"expected a positive integer, got {thaw(settings['num_classes'])!r}",
                        field="num_classes")
    spec = entry.build(**settings)
    if not isinstance(spec, NetSpec):
        raise SpecError(f"model {name!r}: its builder returned {type(spec).__name__}, not a "
                        "NetSpec", field="model")
    meta = {"model": name, "settings": {k: list(v) if isinstance(v, tuple) else v
                                        for k, v in settings.items()}}
    return replace(spec, meta={**meta, **spec.meta})
