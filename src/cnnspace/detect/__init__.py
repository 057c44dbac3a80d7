"""Single-stage object detection with ConvDet heads (SqueezeDet): anchors, targets, loss,
post-processing, KITTI-format data, a synthetic shapes dataset, and VOC/KITTI average precision."""
from ._anchors import KITTI_ANCHOR_IMAGE, KITTI_ANCHOR_SHAPES, anchor_grid, fit_shapes, scale_shapes
from ._boxes import (centres_to_corners, corners_to_centres, decode, elementwise_iou, encode,
                     pairwise_iou, safe_exp)
from ._data import DetectionData, check_data, open_data
from ._dataset import (DetectionDataset, box_sizes, clip_objects, image_size, labels_in_image,
                       load_image, to_input)
from ._detector import BEST_DETECTOR_FILE, Detector, DetectorConfig
from ._draw import draw_detections
from ._evaluate import (DIFFICULTIES, KITTI_IOU, Evaluation, average_precision, check_iou,
                        check_recall_points, describe_difficulty, evaluate, unmeasured)
from ._kitti import (DONT_CARE, KITTI_CLASSES, KittiObject, Sample, kitti_samples, parse_line,
                     read_labels, write_labels)
from ._layout import ConvDetLayout, is_detector, layout_for
from ._loss import LossWeights, SqueezeDetLoss, assign, encode_targets
from ._measure import detect_samples, evaluate_detector, measure_fps
from ._postprocess import Detections, batched_nms, nms, postprocess
from ._shapes import SHAPE_CLASSES, DataFolderTaken, generate_shapes
from ._train import (DETECTOR_FILE, GRAD_CLIP, check_train_options, detection_splits,
                     train_detector)

__all__ = [
    "BEST_DETECTOR_FILE", "DETECTOR_FILE", "DIFFICULTIES", "DONT_CARE", "GRAD_CLIP",
    "KITTI_ANCHOR_IMAGE", "KITTI_ANCHOR_SHAPES", "KITTI_CLASSES", "KITTI_IOU", "SHAPE_CLASSES",
    "ConvDetLayout", "DataFolderTaken", "DetectionData", "DetectionDataset", "Detections",
    "Detector", "DetectorConfig", "Evaluation", "KittiObject", "LossWeights", "Sample",
    "SqueezeDetLoss", "anchor_grid", "assign", "average_precision", "batched_nms", "box_sizes",
    "centres_to_corners", "check_data", "check_iou", "check_recall_points",
    "check_train_options", "clip_objects", "corners_to_centres", "decode", "describe_difficulty",
    "detect_samples", "detection_splits", "draw_detections", "elementwise_iou", "encode",
    "encode_targets", "evaluate",
    "evaluate_detector", "fit_shapes", "generate_shapes", "image_size", "is_detector",
    "kitti_samples", "labels_in_image", "layout_for", "load_image", "measure_fps", "nms",
    "open_data", "pairwise_iou", "parse_line", "postprocess", "read_labels", "safe_exp",
    "scale_shapes", "to_input", "train_detector", "unmeasured", "write_labels",
]
