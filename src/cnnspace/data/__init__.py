"""Datasets for training: a registry of references (``digits``, ``cifar10:PATH``,
``cifar100:PATH``, ``imagefolder:PATH``) giving train/test torch datasets with class count and
input shape, batch augmentation that resumes exactly, and a pickle reader that runs no code."""
from . import _cifar, _digits, _imagefolder  # noqa: F401  (register the datasets)
from ._cifar import write_cifar10
from ._augment import Augmentation, normalise, resize, sample_bits
from ._errors import DataError
from ._images import ImageSet, TensorImages, channel_stats, in_memory_splits
from ._imagefolder import FolderImages
from ._registry import DataSplits, dataset_names, get_dataset, register_dataset
from ._safe_pickle import load_restricted_pickle

__all__ = ["Augmentation", "DataError", "DataSplits", "FolderImages", "ImageSet", "TensorImages",
           "channel_stats", "dataset_names", "get_dataset", "in_memory_splits",
           "load_restricted_pickle", "normalise", "register_dataset", "resize", "sample_bits",
           "write_cifar10"]
