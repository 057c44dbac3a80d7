"""`cnnspace report`: the report of a design-space study (report.html, plots, trials.csv)."""
from __future__ import annotations

from pathlib import Path

from ..errors import CnnspaceError
from ..explore import file_name, load_results, retrain_command, study_names
from ..report import write_report
from ..space import DesignSpace
from ..train import TrainConfig
from .train import OPTIONS as TRAIN_OPTIONS


def register(sub) -> None:
    p = sub.add_parser("report", help="report of a study: Pareto fronts, sweeps, EDFs, "
                       "a table of every trial (report.html, trials.csv)",
                       description="Writes report.html (self-contained: opens offline), the "
                       "plots as PNG and SVG, and trials.csv for a study `cnnspace explore` ran; "
                       "where the storage holds several studies, report-NAME.html, "
                       "trials-NAME.csv and plots-NAME/, so that none replaces another's.")
    p.add_argument("location", metavar="DIR_OR_STORAGE",
                   help="the folder `cnnspace explore --out` wrote, a .journal/.db file or a "
                   "storage URL")
    p.add_argument("--study-name", metavar="NAME", help="needed when the storage holds several")
    p.add_argument("--compare", action="append", default=[], metavar="NAME",
                   help="another study in the same storage whose error EDF is drawn alongside "
                   "(repeatable)")
    p.add_argument("--out", metavar="DIR",
                   help="where to write (default: DIR, the storage file's folder, or the "
                   "current folder for a URL)")
    p.set_defaults(run=run)


def run(args) -> int:
    location = Path(args.location)
    out = args.out or (location if location.is_dir() else
                       location.parent if location.is_file() else Path("."))
    path = write_study_report(args.location, args.study_name, out, args.compare)
    print(f"report: {path}")
    return 0


def write_study_report(location: str, study_name: str | None, out: str | Path,
                       compare: list[str] = ()) -> Path:
    """report.html, or report-NAME.html (and so on) where the storage holds several studies."""
    results = load_results(location, study_name)
    for i, name in enumerate(compare):
        if name == results.name:
            raise CnnspaceError(f"--compare {name}: that is the study of this report")
        if name in compare[:i]:
            raise CnnspaceError(f"--compare {name}: given twice")
    others = tuple(load_results(location, name) for name in compare)
    suffix = "" if len(study_names(location)) == 1 else f"-{file_name(results.name)}"
    return write_report(results, out, _command_maker(results.config), others, suffix)


def _command_maker(config: dict):
    """``row -> the `cnnspace train` command that re-trains its point``, flags taken from the
    train command's own table."""
    flags = {field: flag for flag, field, _ in TRAIN_OPTIONS if field}
    flags["recipe"] = "--recipe"
    space = DesignSpace.from_dict(config["space"])
    recipe = TrainConfig.from_recipe(config["train"]["recipe"]).to_dict()

    def command(row: dict) -> str:
        point = {a.name: row[a.name] for a in space.axes}
        return retrain_command(space, point, config["train"], config["data"],
                               config.get("image_size"), flags, recipe)
    return command
