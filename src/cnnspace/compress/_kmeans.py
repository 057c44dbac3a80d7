"""One-dimensional k-means for weight sharing (Deep Compression, Section 3).

Centroids start evenly spaced over [min, max] of the weights ("linear initialisation"), which
the paper found best: unlike density-based starts it keeps centroids at the rare large weights
that matter most.
"""
from __future__ import annotations

import numpy as np


def linear_init(values: np.ndarray, k: int) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return np.linspace(low, high, k) if k > 1 else np.array([(low + high) / 2])


def assign(values: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid of each value (exact in 1-D: compare with midpoints)."""
    order = np.argsort(centroids, kind="stable")
    ordered = centroids[order]
    return order[np.searchsorted((ordered[1:] + ordered[:-1]) / 2, values)]


def kmeans_1d(values: np.ndarray, k: int, max_iterations: int = 100
              ) -> tuple[np.ndarray, np.ndarray]:
    """(centroids as float32, label of each value) after Lloyd iterations from a linear start.
    Clusters left empty are dropped, so ``len(centroids) <= k`` and every centroid is used."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    if len(values) == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    centroids = linear_init(values, k)
    labels = assign(values, centroids)
    for _ in range(max_iterations):
        counts = np.bincount(labels, minlength=len(centroids))
        sums = np.bincount(labels, weights=values, minlength=len(centroids))
        # An empty cluster keeps its place; it may win values back as the others move.
        centroids = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
        new = assign(values, centroids)
        if np.array_equal(new, labels):
            break
        labels = new
    used = np.unique(labels)
    relabel = np.full(len(centroids), -1, dtype=np.int64)
    relabel[used] = np.arange(len(used))
    return centroids[used].astype(np.float32), relabel[labels]
