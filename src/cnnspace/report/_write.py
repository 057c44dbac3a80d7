"""``write_report``: report.html (self-contained), plots/*.png and *.svg, and trials.csv."""
from __future__ import annotations

import io
import json
import os
from collections import Counter
from pathlib import Path
from typing import Callable

from matplotlib.figure import Figure
from optuna.trial import TrialState

from .._atomic import write_atomic, write_text_atomic
from .._csv import rows_to_csv
from ..explore import METRIC_COLUMNS, Counts, StudyError, StudyResults, curves, pareto_mask
from ..explore._session import sampling_of
from ..space import DesignSpace
from . import _html as H
from . import _plots

# Metrics a Pareto front is drawn against (each when the trials have it).
FRONT_AXES = ("size_mib", "macs", "latency_ms")
# What a reader must know of a front's metric: on a shared machine, one network's latency was
# measured at 0.3 ms and a network like it at 30 ms, while other jobs ran.
FRONT_NOTES = {"latency_ms": "; each latency measured by the trial's worker right after its "
                             "training, with whatever else ran on that machine then: compare "
                             "with care, or time the front's networks alike with cnnspace bench"}
EDF_MAX_GROUPS = 8  # an axis with more distinct values is not split into EDF curves
# The files a report drew into its plots folder, listed there: a later report removes only
# those. Telling them apart by name removed the user's own plots/pareto_mine.png as well.
DRAWN_LIST = ".drawn-by-report.json"
# The accuracy objectives, each with the per-epoch accuracy its learning curves show (curves
# hold each epoch's top1 and top5; the best epoch's is top1's maximum).
ACCURACIES = {"top1": "top1", "best_top1": "top1", "top5": "top5"}


def write_report(results: StudyResults, out_dir: str | Path,
                 command_for: Callable[[dict], str] | None = None,
                 compare: tuple[StudyResults, ...] = (), suffix: str = "") -> Path:
    """Writes the report of ``results`` into ``out_dir`` and returns report.html's path.
    ``command_for(row)`` gives the command that re-trains a trial's point; ``compare``: other
    studies whose error EDFs are drawn with this one's; ``suffix`` is added to every name
    written (report-SUFFIX.html, ...), so that several studies' reports share a folder."""
    for given in (results, *compare):
        if not isinstance(given, StudyResults):
            hint = (f": cnnspace.explore.load_results({str(given)!r}) reads a study"
                    if isinstance(given, (str, os.PathLike)) else "")
            raise StudyError(f"expected a StudyResults, got {type(given).__name__}{hint}")
    import matplotlib.pyplot as plt

    with plt.rc_context(_plots.STYLE):
        return _write(results, Path(out_dir), command_for, compare, suffix)


def _write(results: StudyResults, out_dir: Path, command_for, compare, suffix: str) -> Path:
    # Before any file: the axes name the plots' files, and a storage from elsewhere may hold
    # any name ('../../x' wrote a plot outside out_dir); a checked axis is a setting's name.
    space = DesignSpace.from_dict(results.config["space"])
    rows = [dict(r, command=command_for(r) if command_for and r["point_id"] else "")
            for r in results.rows]
    _mark_front(_completed(results, rows), rows, results.objectives)
    axes = list(results.axes)
    # The sweep and the parallel columns are over the axes that vary: one of a single value
    # (kept to widen later) made `sr` with `pct3x3: [0.5]` a study of two knobs, and no sweep.
    knobs = [a.name for a in space.axes if a.count != 1] or axes
    table, columns = f"trials{suffix}.csv", _columns(axes)
    _write_csv(out_dir / table, rows, columns)
    # The plots show the study's accuracy objective (top-5 for a study like the seed's
    # slides 30 and 31); top-1 where it has none (every trial records it).
    accuracy = next((o.name for o in results.objectives if o.name in ACCURACIES), "top1")
    finished = _with_accuracy(results, rows, accuracy)
    trained = _unique_points(finished)
    figures: list[tuple[str, str, Figure]] = []
    left_off = _left_off(rows, finished)
    for x in FRONT_AXES:
        have = [r for r in trained if H.finite_number(r.get(x))]
        if have:
            unmeasured = len(trained) - len(have)
            figures.append((f"pareto_{x}", f"Pareto front: {_plots.label(accuracy)} vs "
                            f"{_plots.label(x)}; frontier points labelled with their settings"
                            + (f"; not drawn: {unmeasured} network{'s' if unmeasured > 1 else ''}"
                               f" without a {_plots.label(x)}" if unmeasured else "")
                            + left_off + FRONT_NOTES.get(x, ""),
                            _plots.pareto(have, x, accuracy, axes)))
    if len(knobs) == 1 and trained:
        # Every value of the knob, also one whose network another value built (widths floor).
        knob = list({_value_key(r[knobs[0]]): r for r in reversed(finished)}.values())
        figures.append((f"sweep_{knobs[0]}", f"{_plots.label(accuracy)} and model size against "
                        f"{knobs[0]} (as the seed's slides 30 and 31)"
                        + _not_swept(rows, knob, knobs[0]),
                        _plots.sweep(knob, knobs[0], accuracy)))
    if trained:
        figures += _edf_figures(results, finished, accuracy, compare)
        figures.append(("parallel", "parallel coordinates of every trained point",
                        _plots.parallel(trained, knobs + ["size_mib", "macs", accuracy],
                                        accuracy)))
    # a running trial stores each epoch as it finishes: a report written meanwhile shows it
    running = {t.number: t.user_attrs["curve"] for t in results.trials
               if t.state == TrialState.RUNNING and t.user_attrs.get("curve")}
    curve_map = {**curves(results.trials), **running}
    if curve_map:
        figures.append(("curves", "learning curves (pruned trials stop early; running trials "
                        "so far, dashed)", _plots.learning_curves(
                            curve_map, ACCURACIES[accuracy], set(running),
                            {r["trial"]: _plots.point_label(r, axes) for r in rows})))
    images = _save_figures(out_dir / f"plots{suffix}", figures)
    title = f"cnnspace study {results.name}"
    html = H.page(title, [
        ("Study", _summary(results, space, len(trained))),
        ("Trade-offs", "".join(images) or f"<p>{_nothing_drawn(results.counts)}</p>"),
        ("Trials", f"<p>Click a column to sort. Also in <a href='{table}'>{table}</a>."
         "</p>" + H.table(rows, columns, text_columns=("outcome", "point_id", *axes,
                                                        "violated", "error", "worker"),
                           code_columns=("command",), percent_columns=tuple(ACCURACIES),
                           shown_as=dict.fromkeys(axes, _plots.short))),
    ])
    path = out_dir / f"report{suffix}.html"
    write_text_atomic(path, html)
    if suffix:
        _remove_superseded(out_dir, title, results.storage)
    return path


def _nothing_drawn(counts: Counts) -> str:
    """Why the report has no plot: a study still to train its first point, or one whose
    every trial ended without a final accuracy (failed, infeasible, ...)."""
    if counts.done + counts.infeasible == 0 or counts.running or counts.waiting:
        return "No trained point yet."
    return ("No trained point: no trial reached a final accuracy; the table says what became "
            "of each.")


def _not_swept(rows: list[dict], knob: list[dict], axis: str) -> str:
    """The values of the knob the sweep cannot show, each with what became of its last trial
    (infeasible, failed, running, ...): a gap in the sweep would otherwise pass unnoticed."""
    shown = {_value_key(r[axis]) for r in knob}
    missing = {_value_key(r[axis]): (r[axis], r["outcome"]) for r in rows
               if _value_key(r[axis]) not in shown}
    if not missing:
        return ""
    return "; no final accuracy: " + ", ".join(f"{axis}={_plots.short(v)} ({outcome})"
                                                for v, outcome in missing.values())


def _left_off(rows: list[dict], finished: list[dict]) -> str:
    """The trials a front leaves off, by what became of them: a front drawn without a word on
    them reads as if every trial had reached the end of its training."""
    drawn = {id(r) for r in finished}
    # a retried trial's point is its retry's; a trained or reused one left off has a NaN
    # accuracy or reused a twin that failed
    left = Counter(r["outcome"] for r in rows if id(r) not in drawn and r["outcome"] != "retried")
    if not left:
        return ""
    return ("; not drawn, with no final accuracy: "
            + ", ".join(f"{n} {outcome}" for outcome, n in sorted(left.items()))
            + f" trial{'s' if sum(left.values()) > 1 else ''} (the table has them)")


def _value_key(value) -> str:
    """Tells a setting's values apart exactly, as the space does (1 and 1.0 are two choices of
    an axis); ``short`` writes two draws of a range that agree to four digits alike."""
    return repr(value)


def _remove_superseded(out_dir: Path, title: str, storage: str) -> None:
    """This study's report from when the storage held it alone (report.html, trials.csv,
    plots/), which a second study turned into report-NAME.html and so on: left there it would
    stay at that old state beside the new one. Another study's report.html stays, also one of
    a study of the same name in another storage."""
    plain = out_dir / "report.html"
    try:
        with open(plain, encoding="utf-8", errors="replace") as f:
            head = f.read(1 << 16)  # the title and the summary come before the plots
    except OSError:
        return
    if f"<title>{H.esc(title)}</title>" not in head or H.definition("storage", storage) not in head:
        return
    plain.unlink()
    (out_dir / "trials.csv").unlink(missing_ok=True)
    plots = out_dir / "plots"
    for name in _drawn_before(plots):
        (plots / name).unlink(missing_ok=True)
    (plots / DRAWN_LIST).unlink(missing_ok=True)
    if plots.is_dir() and not any(plots.iterdir()):
        plots.rmdir()


def _completed(results: StudyResults, rows: list[dict]) -> list[dict]:
    """The rows of trials that completed: trained here, or reused a network trained alike by
    a twin of this study or of another study in the storage (a widened sweep). A trial that
    reused a pruned or failed twin carries its partial results but did not complete."""
    complete = {t.number for t in results.trials if t.state == TrialState.COMPLETE}
    return [r for r in rows if r["trial"] in complete]


def _with_accuracy(results: StudyResults, rows: list[dict], accuracy: str) -> list[dict]:
    """The completed rows that have ``accuracy``, those of trials that trained first (so that
    ``_unique_points`` labels a network with the trial that trained it). A NaN is no accuracy:
    it would be on every front (nothing dominates it) and drawn nowhere."""
    done = [r for r in _completed(results, rows) if H.finite_number(r.get(accuracy))]
    return sorted(done, key=lambda r: r["outcome"] != "trained")


def _mark_front(done: list[dict], rows: list[dict], objectives) -> None:
    """``pareto``: whether a completed trial's network is on the front of the study's
    objectives (a reused trial as its twin); empty for the other trials."""
    done = [r for r in done if all(H.finite_number(r.get(o.name)) for o in objectives)]
    front = pareto_mask([[r[o.name] for o in objectives] for r in done],
                        [o.maximize for o in objectives])
    on, finished = {id(r) for r, f in zip(done, front) if f}, {id(r) for r in done}
    for r in rows:
        r["pareto"] = (id(r) in on) if id(r) in finished else ""


def _unique_points(rows: list[dict]) -> list[dict]:
    """One row per network (a point trained twice, e.g. by a retried trial, counts once)."""
    seen: dict[str, dict] = {}
    for r in rows:
        seen.setdefault(r["point_id"], r)
    return list(seen.values())


def _edf_figures(results: StudyResults, finished: list[dict], accuracy: str,
                 compare: tuple[StudyResults, ...]) -> list[tuple[str, str, Figure]]:
    """Each network counts once in a study's EDF and once in each sub-space holding one of its
    points: with incr_e 0 every freq builds the same network, which belongs to every freq."""
    def errors(rows):
        return [1.0 - r[accuracy] for r in _unique_points(rows)]

    trained = _unique_points(finished)
    groups = {results.name: errors(trained)}
    untrained = []  # studies asked for that have no curve to draw
    caveats = []  # studies whose errors do not measure their design space alone
    for other in compare:
        theirs = _with_accuracy(other, other.rows, accuracy)
        if theirs:
            groups[other.name] = errors(theirs)
        else:
            untrained.append(other.name)
        changes = _trained_otherwise(results.config, other.config)
        if changes:
            caveats.append(f"{other.name} trains otherwise ({'; '.join(changes)})")
    error = _plots.error_label(accuracy)
    caption = (f"error EDF: the fraction of trained models with {error} below e "
               "(higher and further left is a better design space)")
    if untrained:
        caption += f"; no trained network yet: {', '.join(untrained)}"
    if caveats:
        caption += "; " + "; ".join(caveats)
    out = [("edf", caption, _plots.edf(groups, "error EDF by study", accuracy))]
    for axis in results.axes:
        values = {_value_key(r[axis]): r[axis] for r in finished}
        if 2 <= len(values) <= EDF_MAX_GROUPS and len(trained) > len(values):
            split = {f"{axis}={_plots.short(v)}": errors([r for r in finished
                                                          if _value_key(r[axis]) == key])
                     for key, v in sorted(values.items(),
                                          key=lambda kv: _plots.value_order(kv[1]))}
            out.append((f"edf_{axis}", f"error EDF of the sub-spaces {axis} = each value",
                        _plots.edf(split, f"error EDF by {axis}", accuracy)))
    return out


def _trained_otherwise(ours: dict, theirs: dict) -> list[str]:
    """How another study's training differs from this one's (dataset, image size, options
    that change what is computed), as 'epochs: 1 -> 2': EDFs compare design spaces trained
    alike, and a study trained longer has lower errors whatever its space."""
    from ..train import TrainConfig  # torch: only for a report that compares studies

    changes = [f"{k}: {ours.get(k)!r} -> {theirs.get(k)!r}" for k in ("data", "image_size")
               if ours.get(k) != theirs.get(k)]
    return changes + TrainConfig.from_dict(ours["train"]).differences(
        TrainConfig.from_dict(theirs["train"]))


def _save_figures(folder: Path, figures: list[tuple[str, str, Figure]]) -> list[str]:
    import matplotlib.pyplot as plt

    html = []
    for name, caption, fig in figures:
        buffers = {}
        for fmt in ("png", "svg"):
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt)
            buffers[fmt] = buf.getvalue()
            write_atomic(folder / f"{name}.{fmt}", lambda f, b=buffers[fmt]: f.write(b))
        plt.close(fig)
        html.append(H.figure(buffers["png"], caption, name))
    # Plots an earlier report drew and this one does not (e.g. a front without latencies);
    # only those: the folder may hold the user's own figures too.
    written = [f"{name}.{fmt}" for name, _, _ in figures for fmt in ("png", "svg")]
    for stale in set(_drawn_before(folder)) - set(written):
        (folder / stale).unlink(missing_ok=True)
    if written or folder.is_dir():
        write_text_atomic(folder / DRAWN_LIST, json.dumps(sorted(written)) + "\n")
    return html


def _drawn_before(folder: Path) -> list[str]:
    """The plain file names an earlier report listed as its own; none from a list that is not
    one (hand-edited, or written by another program): nothing is removed on a guess."""
    try:
        listed = json.loads((folder / DRAWN_LIST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(listed, list):
        return []
    return [n for n in listed if isinstance(n, str) and n == Path(n).name
            and n.endswith((".png", ".svg")) and not n.startswith(".")]


def _summary(results: StudyResults, space: DesignSpace, trained_points: int) -> str:
    c, cfg = results.counts, results.config
    train = cfg.get("train", {})
    epochs = train.get("epochs")
    size = f" at {cfg['image_size']}x{cfg['image_size']}" if cfg.get("image_size") else ""
    items = [("name", results.name), ("description", results.description),
             ("storage", results.storage),
             ("objectives", ", ".join(f"{o.direction} {o.name}" for o in results.objectives)),
             ("design space", f"{space.base} over "
              + "; ".join(f"{a.name}: {a.describe()}" for a in space.axes)),
             ("fixed settings", ", ".join(f"{k}={_plots.short(v)}"
                                          for k, v in space.fixed.items()) or "none"),
             ("training", f"{cfg.get('data')}{size}: {epochs} epoch{'s' if epochs != 1 else ''}"
              f", batch {train.get('batch_size')}, {train.get('optimizer')} lr "
              f"{train.get('lr')}, {train.get('schedule')} (recipe {train.get('recipe')})"),
             ("sampler / pruner", ", then ".join(results.sampling) or sampling_of(cfg)),
             ("trials", f"{c.trained} trained, {c.pruned} pruned, {c.reused} reused, "
              f"{c.failed} failed, {c.lost} lost, {c.infeasible} infeasible (never trained), "
              f"{c.running} running, {c.waiting} queued; {trained_points} distinct "
              f"network{'s' if trained_points != 1 else ''} with a final accuracy")]
    limits, f = cfg["space"].get("constraints"), results.feasibility
    if limits and f:
        scope = "grid points" if f.get("whole_grid") else "sampled points"
        written = ", ".join(f"{k}={v}" for k, v in limits.items())
        items.append(("constraints", f"{written}: {f['feasible']:,} of {f['checked']:,} {scope} "
                      "satisfy them"))
    return H.definitions(items)


def _columns(axes: list[str]) -> list[str]:
    return ["trial", "outcome", "pareto", "point_id", *axes, *METRIC_COLUMNS, "violated",
            "reused_from", "error", "started", "worker", "command"]


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    """The table's columns, in its order, then any others the rows hold (added from Python);
    the header also when no trial ran yet (an empty file is no CSV a reader takes)."""
    added = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in columns]
    write_text_atomic(path, rows_to_csv(rows, columns + added))
