"""A detector measured: AP / mAP on labelled images, and frames per second as `cnnspace bench`
times them (warm-up, then repeats until the median is stable; FPS = 1 / median latency at
batch 1)."""
from __future__ import annotations

import torch
from rich.progress import track

from ..metrics import time_calls
from .._threads import torch_threads
from ._dataset import labels_in_image, load_image, to_input
from ._detector import Detector
from ._evaluate import RECALL_POINTS, Evaluation, check_iou, check_recall_points, evaluate
from ._kitti import Sample
from ._postprocess import postprocess


def detect_samples(detector: Detector, samples: list[Sample], batch_size: int = 16,
                   progress: bool = False):
    """Per image, (corner box, score, class name) tuples in the image's own pixels."""
    found = []
    chunks = [samples[i:i + batch_size] for i in range(0, len(samples), batch_size)]
    for chunk in track(chunks, description="detecting", disable=not progress):
        dets = detector.detect_images([load_image(s.image) for s in chunk])
        found += [[(b, s, detector.config.classes[c]) for b, s, c in
                   zip(d.boxes.tolist(), d.scores.tolist(), d.labels.tolist())] for d in dets]
    return found


def evaluate_detector(detector: Detector, samples: list[Sample], difficulty: str = "all",
                      iou=None, recall_points: int = RECALL_POINTS, batch_size: int = 16,
                      progress: bool = False) -> Evaluation:
    """AP per class and mAP of ``detector`` on labelled ``samples``."""
    check_iou(iou, detector.config.classes)  # before the long part
    check_recall_points(recall_points)
    truth = [labels_in_image(s) for s in samples]  # a bad label line is reported before it too
    detections = detect_samples(detector, samples, batch_size, progress)
    return evaluate(detections, truth, detector.config.classes, iou, difficulty, recall_points)


def measure_fps(detector: Detector, image: Sample | None = None, min_time_s: float = 0.5,
                threads: int | None = None) -> dict:
    """Frames per second at batch 1 on the detector's device: the network alone, and the network
    with post-processing (scores, threshold, NMS) on ``image`` (a real image gives NMS real work;
    default a blank one). ``threads``: CPU threads while timing (default torch's; the caller's
    setting afterwards, as for `cnnspace bench`). ``stable`` is false where a timing's median
    still drifted when its time was up (other work on the machine): ``timing_ms`` has each
    timing's median, p90, min and repeats to judge it by."""
    module = detector.module.eval()
    device = next(module.parameters()).device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    x = (to_input(load_image(image.image), detector.input_hw)[None] if image is not None
         else torch.zeros(1, *detector.spec.input)).to(device)
    c = detector.config

    def network():
        with torch.inference_mode():
            return module(x)

    def pipeline():
        return postprocess(network(), detector.layout, detector.anchors, detector.input_hw,
                           c.score_threshold, c.nms_iou, c.top_n)

    with torch_threads(threads) as used_threads:
        net = time_calls(network, sync, min_time_s=min_time_s)
        full = time_calls(pipeline, sync, min_time_s=min_time_s)
    return {"fps_network": 1.0 / net.median_s, "fps_with_postprocessing": 1.0 / full.median_s,
            "latency_ms": net.median_s * 1e3, "threads": used_threads, "device": str(device),
            "stable": net.stable and full.stable,
            "timing_ms": {"network": net.to_json(), "with_postprocessing": full.to_json()}}
