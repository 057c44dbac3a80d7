"""Argument helpers shared by subcommands: model selection, --set, --input, --format, output."""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path
from typing import Any, Iterator

import yaml
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from .. import spec as spec_mod
from .._threads import is_thread_count, thread_count_expected
from .._yaml_file import safe_load
from ..errors import CnnspaceError
from ..zoo import get_spec, list_models

FORMATS = ("table", "json", "csv")
_UNLIMITED = 10_000  # characters: room to measure a table's natural width
CHECKPOINT_SUFFIXES = (".pt", ".pth")
MODEL_HELP = "a zoo name (see `cnnspace zoo`) or a spec file (.yaml/.json/.prototxt/.onnx)"
CHECKPOINT_HELP = ("a zoo name (see `cnnspace zoo`), a spec file (.yaml/.json/.prototxt/.onnx) or "
                   "a trained model (.pt/.pth checkpoint or .cnnz: the network it holds)")


def names_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` names a training checkpoint by its suffix, in any case (MODEL.PT)."""
    return Path(path).suffix.lower() in CHECKPOINT_SUFFIXES


def add_model_args(p: argparse.ArgumentParser, name: str = "model",
                   help: str = MODEL_HELP) -> None:
    p.add_argument(name, metavar="MODEL_OR_SPEC", help=help)
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="a model or family setting, e.g. --set sr=0.25 (repeatable)")
    p.add_argument("--input", metavar="CxHxW", type=input_size,
                   help="input size, e.g. 3x224x224 (or HxW)")


def input_size(text: str) -> str:
    """--input's text; left empty (`--input "$SIZE"` with SIZE unset) it would be no size at all
    and the model's own would be used without a word. Checked here, so that a bad size is the
    option's fault, not the first model's (diff blamed its side A)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty size; give CxHxW or HxW, e.g. 3x224x224")
    try:
        spec_mod.parse_input(text)
    except spec_mod.SpecError as e:
        raise argparse.ArgumentTypeError(e.detail) from None
    return text


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CnnspaceError(f"--set expects KEY=VALUE, got {pair!r}")
        if key.strip() in settings:  # the last one silently won, as a mistyped sweep script did
            raise CnnspaceError(f"--set {key.strip()}: given twice; give each setting once")
        try:
            settings[key.strip()] = safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            settings[key.strip()] = value
    return settings


def load_model(ref: str, settings: list[str] | dict | None = None,
               input_size: str | None = None) -> spec_mod.NetSpec:
    """A zoo model (with settings) or a spec file; ``input_size`` overrides the input shape.
    The spec is checked at that input, so that an error names the model or file."""
    settings = parse_settings(settings) if isinstance(settings, list) else dict(settings or {})
    path = Path(ref)
    if names_checkpoint(path) and ref not in list_models():
        raise CnnspaceError(f"{ref} is a training checkpoint; this command takes a zoo model or "
                            f"a spec file (`cnnspace spec {ref} -o net.yaml` writes the "
                            "checkpoint's architecture as one)")
    if ref in list_models():
        if input_size:
            if "input" in settings:
                raise CnnspaceError("give the input size once: --input or --set input=..., "
                                    "not both")
            settings["input"] = input_size
        return spec_mod.validated(get_spec(ref, **settings), ref)
    if path.suffix.lower() in spec_mod.SPEC_SUFFIXES or path.exists():
        if settings:
            raise CnnspaceError(f"--set applies to zoo models, not to the spec file {ref}")
        spec = spec_mod.load(path)
        return spec_mod.validated(spec.with_input(input_size), ref) if input_size else spec
    raise CnnspaceError(f"{ref!r} is neither a registered model (see `cnnspace zoo`) nor an "
                        "existing spec file")


@contextlib.contextmanager
def as_options(*names: str) -> Iterator[None]:
    """A SpecError about one of the fields ``names`` (no layer, no file) as the command-line
    option that gave it: `--batch 0` is "--batch: expected ...", not "field 'batch': ..."."""
    try:
        yield
    except spec_mod.SpecError as e:
        if e.field in names and e.layer is None and e.source is None:
            raise CnnspaceError(f"--{e.field}: {e.detail}") from None
        raise


def check_threads(threads: int | None) -> None:
    """--threads: a count of CPU threads, or None for torch's default."""
    if threads is not None and not is_thread_count(threads):
        raise CnnspaceError(f"--threads expects {thread_count_expected()}, got {threads}")


def add_format_arg(p: argparse.ArgumentParser, formats=FORMATS) -> None:
    p.add_argument("--format", choices=formats, default="table", help="output format")


def rerun_advice(threads: int) -> str:
    """What to do about a timing that did not settle, with the threads it ran on."""
    return "rerun it on an idle machine" + ("" if threads == 1 else ", or with --threads 1")


def plural(count: int, noun: str) -> str:
    """'1 epoch', '3 epochs', '10,000 points'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


# Folders new_run_folder made, removed when the command ends if still empty (it failed on its
# input).
_RESERVED: list[Path] = []


def new_run_folder(name: str) -> Path:
    """``runs/NAME-TIME``, made here: ``-2``, ``-3``... for runs started in the same second.
    Making it is what reserves the name: two commands started together (a script launching
    runs in parallel) that only looked for a free name would both take the first one."""
    base = Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    made = [f for f in reversed(base.parents) if f != Path(".") and not f.exists()]
    out, n = base, 2
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                out.mkdir()
                break
            except FileExistsError:
                out, n = base.with_name(f"{base.name}-{n}"), n + 1
    except OSError as e:
        raise CnnspaceError(f"cannot make the run folder {out}: {e.strerror or e}; name "
                            "another with --out") from None
    _RESERVED.extend([*made, out])
    return out


def remove_unused_run_folders() -> None:
    """The folders new_run_folder made that the command left empty; run as a command ends."""
    for folder in reversed(_RESERVED):  # deepest first
        try:
            folder.rmdir()  # only while empty
        except OSError:
            pass
    _RESERVED.clear()


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


class _TableConsole(Console):
    """Rich fits a table to the terminal (80 characters in a file or pipe) by wrapping text and,
    where it cannot wrap enough, cutting words and numbers down to "…" (a number cut so reads as
    another number) or folding them mid-word ("filter_siz" / "e 3x3→6x6"). A table that would be
    cut or folded is printed at its own width instead: a terminal wraps its lines, a file keeps
    them whole."""

    def print(self, *objects, **kwargs) -> None:
        tables = [t for t in objects if isinstance(t, Table)]
        room = self.options.update(max_width=_UNLIMITED)
        sizes = [Measurement.get(self, room, t) for t in tables]
        # Wide enough for every table's longest words, then for every cell if a cell is cut.
        width = max([self.width, *(m.minimum for m in sizes)])
        natural = max((m.maximum for m in sizes), default=0)
        if any(self._cut(t, width, natural) for t in tables):
            width = natural
        if width <= self.width:
            super().print(*objects, **kwargs)
            return
        width, self.width = self.width, width
        try:
            super().print(*objects, **kwargs)
        finally:
            self.width = width

    @staticmethod
    def _cut(table: Table, width: int, natural: int) -> bool:
        """Whether fitting ``table`` to ``width`` cuts a cell (rich's own layout decides)."""
        if width >= natural:
            return False

        def ellipses(width: int) -> int:
            console = Console(file=io.StringIO(), width=width, color_system=None,
                              markup=False)
            console.print(table)
            return console.file.getvalue().count("…")
        return ellipses(width) > ellipses(natural)


def table_console() -> Console:
    """stdout for tables and the summaries printed with them. Without rich's markup: what
    cnnspace prints is the user's (names, paths, values such as ``[conv1, fire4]``), and one
    reading as markup ("n[/x]") vanished or raised MarkupError."""
    return _TableConsole(markup=False)


def stderr_console() -> Console:
    """stderr for status lines and notes, without markup as ``table_console``."""
    return Console(stderr=True, markup=False, highlight=False)
