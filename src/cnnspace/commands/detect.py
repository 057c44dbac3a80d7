"""`cnnspace detect train | eval | predict`: single-stage detectors (SqueezeDet) on KITTI-format
data or the synthetic shapes dataset."""
from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import replace
from itertools import chain, count
from pathlib import Path

from .._atomic import check_writable, write_atomic, write_text_atomic
from ..errors import CnnspaceError
from ..zoo import list_models, model_entry
from ._common import (add_format_arg, add_model_args, check_threads, dump_json, load_model,
                      parse_settings, plural, rerun_advice, table_console)
from .train import OPTIONS as TRAIN_OPTIONS
from .train import (as_worker, is_rank0, launch_workers, note_batch_beyond_data, option_argv,
                    recorded_command, run_options)

SHAPES_INPUT = "3x128x128"  # the synthetic dataset's default image and network input size
# detect-train's own options: flag, argparse keywords. The trainer's options follow
# (TRAIN_OPTIONS of `cnnspace train`, less its dataset ones).
DETECT_OPTIONS: list[tuple[str, dict]] = [
    ("--data", {"required": True, "metavar": "DATA", "help": "kitti:PATH or shapes[:N]"}),
    ("--classes", {"metavar": "A,B,...", "help": "classes to detect (default: the dataset's)"}),
    ("--train-split", {"default": "train", "metavar": "NAME_OR_FILE",
                       "help": "file list in ImageSets/ (default train)"}),
    ("--val-split", {"default": "val", "metavar": "NAME_OR_FILE",
                     "help": "file list in ImageSets/ (default val)"}),
    ("--data-dir", {"metavar": "DIR", "help": "where shapes images are generated "
                    "(default runs/data/shapes-N-HxW-sSEED)"}),
    ("--difficulty", {"choices": ["all", "easy", "moderate", "hard"],
                      "help": "evaluation filter (default: moderate for KITTI, all for shapes)"}),
    ("--no-flip", {"action": "store_true", "help": "no random horizontal flips"}),
    ("--positive-iou", {"type": float, "metavar": "T",
                        "help": "also make anchors overlapping an object by >= T responsible for "
                        "it (default: only its best anchor, as the paper)"}),
    ("--grad-clip", {"type": float, "metavar": "NORM",
                     "help": "clip the gradients' global norm (default 10; 0: off)"}),
]
# Not for detectors: their data and input size have options of their own, and they have no
# auxiliary outputs nor a classifier layer to imprint.
SKIPPED_TRAIN_FLAGS = ("--data", "--image-size", "--aux-weight", "--classifier-init")


def register(sub) -> None:
    p = sub.add_parser("detect", help="train, evaluate and run object detectors (SqueezeDet)",
                       description="Single-stage object detection: SqueezeDet's ConvDet head on "
                       "any spec, trained with the data-parallel trainer.")
    dsub = p.add_subparsers(dest="detect_command", required=True, metavar="ACTION")
    _register_train(dsub)
    _register_eval(dsub)
    _register_predict(dsub)


def _register_train(dsub) -> None:
    p = dsub.add_parser("train", help="train a detector (zoo model or spec ending in ConvDet)")
    add_model_args(p)
    for flag, kwargs in DETECT_OPTIONS:
        p.add_argument(flag, **kwargs)
    for flag, _, kwargs in TRAIN_OPTIONS:
        if flag not in SKIPPED_TRAIN_FLAGS:
            p.add_argument(flag, **kwargs)
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="local worker processes, started with torchrun (default 1)")
    p.set_defaults(run=run_train)


def _eval_data_args(p) -> None:
    p.add_argument("--data", metavar="DATA", help="kitti:PATH or shapes[:N] (default: the data "
                   "the detector was trained on)")
    p.add_argument("--split", metavar="NAME_OR_FILE", help="default: on its training data the "
                   "detector's validation split (detect train --val-split), else val")
    p.add_argument("--data-dir", metavar="DIR", help="folder of generated shapes data")


def _register_eval(dsub) -> None:
    p = dsub.add_parser("eval", help="AP per class, mAP and frames per second of a detector")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="detector.pt of `detect train`")
    _eval_data_args(p)
    p.add_argument("--difficulty", choices=["all", "easy", "moderate", "hard"],
                   help="default: on its training data the detector's own, else moderate for "
                   "KITTI, all for shapes")
    p.add_argument("--iou", metavar="T|CLASS=T,...", help="IoU threshold(s) for a true positive "
                   "(default: KITTI's per class, else 0.5)")
    p.add_argument("--recall-points", type=int, default=41, metavar="N",
                   help="interpolated AP at N recalls (41 KITTI, 11 VOC2007; 0: area, VOC2010)")
    p.add_argument("--no-fps", action="store_true", help="skip the speed measurement")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for the speed "
                   "measurement (default: torch's; 1 is steadier on a machine others share)")
    p.add_argument("-o", "--output", metavar="FILE.json", help="also write the results here")
    add_format_arg(p, ("table", "json"))
    p.set_defaults(run=run_eval)


def _register_predict(dsub) -> None:
    p = dsub.add_parser("predict", help="detect objects in images: boxed images and a JSON")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="detector.pt of `detect train`")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="an image, or a folder: its .png, .jpg and .jpeg images")
    p.add_argument("--out", default="detections", metavar="DIR",
                   help="folder for the drawn images and detections.json (default detections)")
    p.add_argument("--score-threshold", type=float, metavar="P",
                   help="drop detections below this score (default 0.4 for drawing)")
    p.add_argument("--nms", type=float, metavar="IOU", help="NMS threshold (default 0.4)")
    p.add_argument("--top-n", type=int, metavar="N", help="keep the N best-scoring anchors "
                   "before NMS (default 64): at most N detections per image")
    p.set_defaults(run=run_predict)


# -- train ------------------------------------------------------------------------------------

def _input_for(args) -> str | None:
    if args.input:
        return args.input
    return SHAPES_INPUT if args.data.partition(":")[0] == "shapes" else None


def _check_detector(model: str) -> None:
    if model in list_models() and model_entry(model).task != "detection":
        raise CnnspaceError(f"{model!r} is a {model_entry(model).task} model; detectors: "
                            + ", ".join(n for n in list_models()
                                        if model_entry(n).task == "detection"))


def _requested_classes(args) -> list[str] | None:
    """--classes as a list (None: the data's own), so that errors tell given from default."""
    return None if args.classes is None else [c.strip() for c in args.classes.split(",")]


def _spec(args, num_classes: int):
    settings = parse_settings(args.settings)
    if args.model in list_models():
        given = settings.setdefault("num_classes", num_classes)
        if given != num_classes:
            raise CnnspaceError(f"--set num_classes={given}: the data has {num_classes} classes")
    return load_model(args.model, settings, _input_for(args))


def _worker_argv(args, out: str) -> list[str]:
    """This command line for torchrun's workers: --nproc dropped, --out fixed."""
    argv = [args.model, *[f"--set={s}" for s in args.settings]]
    argv += [f"--input={args.input}"] if args.input else []
    flags = DETECT_OPTIONS + [(f, kw) for f, _, kw in TRAIN_OPTIONS if f not in SKIPPED_TRAIN_FLAGS]
    return argv + option_argv(args, flags, out)


def run_train(args) -> int:
    from ..detect import GRAD_CLIP, check_data, check_train_options, layout_for
    from ..train import RunFiles, check_initial_weights, under_torchrun

    # Everything that can be checked is, before any data is generated (and any worker started):
    _check_detector(args.model)
    grad_clip = GRAD_CLIP if args.grad_clip is None else args.grad_clip
    check_train_options(args.positive_iou, grad_clip, flags=True)
    out, config = run_options(args)
    config = config.with_options(classifier_init="spec")  # e.g. --recipe digits: the rest applies
    classes = check_data(args.data, _requested_classes(args))
    spec = _spec(args, len(classes))
    layout_for(spec, len(classes))  # a detector for these classes, at this input size
    if config.init_from and not (args.resume and RunFiles(out).checkpoint.exists()):
        check_initial_weights(spec, config.init_from, config.init_layers == "shared")
    if args.nproc > 1 and not under_torchrun():
        config.per_worker_batch(args.nproc)
        return launch_workers(args.nproc,
                              ["cnnspace.cli", "detect", "train", *_worker_argv(args, out)])
    return as_worker("detect train", lambda: _train(args, spec, config, out, grad_clip))


def _train(args, spec, config, out: str, grad_clip: float) -> int:
    from ..detect import BEST_DETECTOR_FILE, DETECTOR_FILE, open_data, train_detector

    data = open_data(args.data, tuple(spec.input[1:]), classes=_requested_classes(args),
                     train_split=args.train_split, val_split=args.val_split,
                     data_dir=args.data_dir, progress=not args.no_progress)
    if is_rank0():
        note_batch_beyond_data(config, len(data.train))
    command = recorded_command("detect train", _worker_argv(args, out))
    detector, result = train_detector(spec, data, config, positive_iou=args.positive_iou,
                                      grad_clip=grad_clip, difficulty=args.difficulty,
                                      flip=not args.no_flip,
                                      run_info={"command": command, "model": args.model,
                                                # where the data is, wherever eval runs from
                                                "data_dir": str(data.root),
                                                "val_split": _found_anywhere(args.val_split)})
    if is_rank0():
        final = result.final.get("mAP")
        print(f"mAP {final:.3f} on {data.name} {args.val_split} "
              f"({detector.config.info['difficulty']}) after {plural(result.epochs, 'epoch')}, "
              f"{result.wall_seconds:.0f} s" if final is not None else
              f"{plural(result.epochs, 'epoch')} in {result.wall_seconds:.0f} s")
        print(f"detector: {Path(out) / DETECTOR_FILE}")
        best_file = Path(out) / BEST_DETECTOR_FILE
        best = result.best
        if best_file.is_file() and best.get("mAP") is not None:
            print(f"best epoch {best['epoch']} (mAP {best['mAP']:.3f}): {best_file}")
    return 0


# -- eval -------------------------------------------------------------------------------------

def _parse_iou(text: str | None):
    if text is None:
        return None
    try:
        if "=" not in text:
            return float(text)
        return {k.strip(): float(v) for k, v in (p.split("=", 1) for p in text.split(","))}
    except ValueError:
        raise CnnspaceError(f"--iou expects T or CLASS=T,CLASS=T (e.g. Car=0.7), got {text!r}") \
            from None


def _found_anywhere(split: str) -> str:
    """A split as a detector records it: a file list (as kitti_samples tells one from a name in
    ImageSets/) by its absolute path, found from any working folder."""
    return str(Path(split).resolve()) if Path(split).suffix == ".txt" else split


def _eval_samples(args, detector):
    """The data, the split's name, the difficulty and the samples: by default what training
    measured (on its own data), so that eval gives the mAP training printed."""
    from ..detect import open_data

    info = detector.config.info
    ref = args.data or info.get("data")
    if not ref:
        raise CnnspaceError("this detector does not record its data: give --data")
    own = ref == info.get("data")
    data_dir = args.data_dir or (info.get("data_dir") if own else None)
    split = args.split or (info.get("val_split") if own else None) or "val"
    data = open_data(ref, detector.input_hw, classes=list(detector.config.classes),
                     train_split=split, val_split=split, data_dir=data_dir,
                     progress=False, every_class=False)
    difficulty = args.difficulty or (info.get("difficulty") if own else None) or data.difficulty
    return data, split, difficulty, data.val


def run_eval(args) -> int:
    from ..detect import (Detector, check_iou, check_recall_points, evaluate_detector,
                          measure_fps)

    check_threads(args.threads)
    if args.output:  # found out now, not after the evaluation
        check_writable(args.output, "-o")
    if args.output and Path(args.output).exists() and Path(args.output).samefile(args.checkpoint):
        raise CnnspaceError(f"-o {args.output} is the detector being evaluated: writing the "
                            "results there would replace it; give another file name")
    check_recall_points(args.recall_points, "--recall-points")
    iou = _parse_iou(args.iou)
    detector = Detector.load(args.checkpoint)
    check_iou(iou, detector.config.classes, "--iou")  # before any data is read or generated
    data, split, difficulty, samples = _eval_samples(args, detector)
    result = evaluate_detector(detector, samples, difficulty, iou, args.recall_points,
                               progress=args.format == "table")
    report = {"checkpoint": args.checkpoint, "data": data.name, "split": split,
              "images": len(samples), **result.to_json()}
    if not args.no_fps:
        report["speed"] = measure_fps(detector, samples[0], threads=args.threads)
        _warn_if_unstable(report["speed"])
    if args.format == "json":
        sys.stdout.write(dump_json(report))
    else:
        _print_eval(report)
    if args.output:  # after the results are shown: a file that cannot be written loses nothing
        sys.stdout.flush()
        write_text_atomic(args.output, dump_json(report))
    return 0


def _print_eval(report: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{report['checkpoint']} on {report['data']} {report['split']} "
                        f"({report['images']} images, difficulty {report['difficulty']})")
    for col in ("class", "AP", "IoU", "ground truth", "detections"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, c in report["classes"].items():
        table.add_row(name, "-" if c["ap"] is None else f"{c['ap']:.3f}", f"{c['iou']:.2f}",
                      str(c["ground_truth"]), str(c["detections"]))
    console = table_console()
    console.print(table)
    m = report["mAP"]
    points = report["recall_points"]
    console.print(f"mAP {'-' if m is None else f'{m:.3f}'} (" + (
        f"{points}-point interpolated AP)" if points else "AP: area under the interpolated "
        "precision-recall curve)"))
    if m is None:  # a table of '-' alone does not say why (small images: every box under 25 px)
        from ..detect import describe_difficulty

        difficulty = report["difficulty"]
        console.print("no AP: no ground-truth box of the detector's classes " + (
            "is labelled in these images" if difficulty == "all" else
            f"counts at {describe_difficulty(difficulty)}; --difficulty all counts every box"))
    if "speed" in report:
        s = report["speed"]
        timing = "timing stable" if s["stable"] else "timing UNSTABLE, see the warning"
        console.print(f"speed at batch 1 on {s['device']} ({s['threads']} threads, {timing}): "
                      f"{s['fps_network']:.1f} FPS network, {s['fps_with_postprocessing']:.1f} "
                      "FPS with post-processing")


TIMED = {"network": "network", "with_postprocessing": "with post-processing"}  # speed's timings


def _warn_if_unstable(speed: dict) -> None:
    """On stderr, in every format: an unstable timing is no figure to quote (on a busy machine
    the same detector measured 1.9 FPS beside 181 FPS on an idle one)."""
    if speed["stable"]:
        return
    spreads = "; ".join(
        f"{TIMED[name]} {t['min']:.3g} to {t['p90']:.3g} ms (min to p90, median "
        f"{t['median']:.3g}, {t['repeats']} repeats)"
        for name, t in speed["timing_ms"].items() if not t["stable"])
    print(f"warning: the speed timing was unstable (its median still drifted): {spreads}; other "
          f"work probably shares this machine: {rerun_advice(speed['threads'])}", file=sys.stderr)


# -- predict ----------------------------------------------------------------------------------

PREDICT_SCORE = 0.4  # the official code's PLOT_PROB_THRESH: what is worth drawing


def _drawing_paths(images: list[str], out: Path) -> list[Path]:
    """``out/NAME.png`` for each image, one name each (images of one name from other folders get
    a number), never an input image's own path: a drawing must not destroy what it was made
    from."""
    drawings, used = [], set()
    for path in images:
        stem = Path(path).stem
        candidates = chain([stem], (f"{stem}-{i}" for i in count(len(drawings))))
        name = next(n for n in candidates if n not in used)
        used.add(name)
        drawings.append(out / f"{name}.png")
    inputs = {Path(p).resolve(): p for p in images}
    earlier = _earlier_drawings(out)
    for path, drawn in zip(images, drawings):
        if drawn.resolve() in inputs:
            raise CnnspaceError(f"--out {out}: drawing {path} there would replace the input image "
                                f"{inputs[drawn.resolve()]}; choose another --out")
        # `predict photos/a.jpg --out photos` replaced the user's own photos/a.png
        if drawn.exists() and drawn.name not in earlier:
            raise CnnspaceError(f"--out {out}: drawing {path} there would replace {drawn}, which "
                                "no earlier detect predict drew there; choose another --out")
    return drawings


def _earlier_drawings(out: Path) -> set[str]:
    """The names of the drawings an earlier predict into ``out`` made, by its detections.json
    (which it replaces); a detections.json predict did not write is refused, not replaced."""
    listed = out / "detections.json"
    if not listed.exists():
        return set()
    try:
        records = json.loads(listed.read_text(encoding="utf-8"))
        return {Path(r["drawn"]).name for r in records}
    except (OSError, ValueError, TypeError, KeyError):
        raise CnnspaceError(f"--out {out}: {listed} is not the detections of an earlier detect "
                            "predict, and would be replaced; choose another --out") from None


def _image_paths(given: list[str]) -> list[str]:
    """The images to detect in: each given image, and a given folder's images (as image_2/ is
    read), by name."""
    from ..detect._kitti import IMAGE_SUFFIXES

    paths = []
    for path in given:
        if not Path(path).is_dir():
            paths.append(path)
            continue
        found = sorted(str(p) for p in Path(path).iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not found:
            raise CnnspaceError(f"{path} is a folder without images (of "
                                f"{', '.join(IMAGE_SUFFIXES)}, which are read)")
        paths += found
    # Given twice (an image and its folder), it was detected and drawn twice (NAME-1.png) and
    # counted twice in detections.json.
    seen: dict[Path, str] = {}
    for path in paths:
        key = Path(path).resolve()
        if key in seen:
            also = f" (also as {seen[key]})" if seen[key] != path else ""
            raise CnnspaceError(f"image {path} is given twice{also}; give it once")
        seen[key] = path
    return paths


def run_predict(args) -> int:
    from ..detect import Detector, draw_detections, load_image

    detector = Detector.load(args.checkpoint)
    changes = {k: v for k, v in (("score_threshold", args.score_threshold), ("nms_iou", args.nms),
                                 ("top_n", args.top_n)) if v is not None}
    changes.setdefault("score_threshold", PREDICT_SCORE)
    if not 0 <= changes["score_threshold"] < 1:
        raise CnnspaceError("--score-threshold must be in [0, 1), got "
                            f"{changes['score_threshold']}")
    if "top_n" in changes and changes["top_n"] < 1:
        raise CnnspaceError(f"--top-n must be positive, got {changes['top_n']}")
    if "nms_iou" in changes and not 0 < changes["nms_iou"] <= 1:
        raise CnnspaceError(f"--nms is an IoU threshold in (0, 1], got {changes['nms_iou']}")
    detector.config = replace(detector.config, **changes)
    out = Path(args.out)
    images = _image_paths(args.images)
    classes = list(detector.config.classes)
    # Every image is read and every output named before anything is written: a bad image later
    # in the list must not leave drawings without their detections.json. Each is read again
    # when its turn comes rather than kept: thousands of images would not fit in memory.
    for path in images:
        load_image(path)
    drawings = _drawing_paths(images, out)
    results = []
    try:
        for path, drawn in zip(images, drawings):
            image = load_image(path)
            found = detector.detect_images([image])[0]
            drawn_image = draw_detections(image, found, classes)
            write_atomic(drawn, lambda f, im=drawn_image: im.save(f, "PNG"))
            results.append({"image": str(path), "drawn": str(drawn), "width": image.size[0],
                            "height": image.size[1], "detections": found.to_json(classes)})
            print(f"{path}: {len(found)} detection(s) -> {drawn}")
    except BaseException:
        # A Ctrl-C at image 9,000 of a folder of 10,000 lost every detection, the drawings
        # kept: the images done keep theirs too. The first failure is the one reported.
        if results:
            with contextlib.suppress(OSError, CnnspaceError):
                write_text_atomic(out / "detections.json", dump_json(results))
                print(f"stopped after {len(results)} of {len(images)} images: their detections: "
                      f"{out / 'detections.json'}", file=sys.stderr)
        raise
    write_text_atomic(out / "detections.json", dump_json(results))
    print(f"detections: {out / 'detections.json'}")
    return 0
