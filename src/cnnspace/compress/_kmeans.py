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


def kmeans_1d(values: np.ndarray, k: int, max_iterations: int = 300
              ) -> tuple[np.ndarray, np.ndarray]:
    """(centroids as float32, label of each value) after Lloyd iterations from a linear start.
    Clusters left empty are dropped, so ``len(centroids) <= k`` and every centroid is used.

    In one dimension each cluster is an interval of the sorted values, so an iteration costs
    O(k log n): cluster bounds by binary search, sums from a prefix sum."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    if len(values) == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    ordered = np.sort(values)
    prefix = np.concatenate([[0.0], np.cumsum(ordered)])
    centroids = linear_init(values, k)
    bounds = None
    for _ in range(max_iterations):
        centroids = np.sort(centroids)
        new = np.concatenate([[0], np.searchsorted(ordered, (centroids[1:] + centroids[:-1]) / 2),
                              [len(ordered)]])
        if bounds is not None and np.array_equal(new, bounds):
            break
        bounds = new
        counts = np.diff(bounds)
        sums = prefix[bounds[1:]] - prefix[bounds[:-1]]
        # An empty cluster keeps its place; it may win values back as the others move.
        centroids = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
    labels = assign(values, centroids)
    used = np.unique(labels)
    return centroids[used].astype(np.float32), np.searchsorted(used, labels)
