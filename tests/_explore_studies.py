"""Tiny real studies for the explore and report tests: a FireNet small enough to train an epoch
of digits (8x8) in about a second on one core."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

TINY_FIXED = {"base_e": 8, "incr_e": 8, "conv1_filters": 8, "conv1_kernel": 3, "num_fire": 2,
              "pool_after": ["conv1"]}
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "studies"


def write_study(folder: Path, name: str = "tiny", axes: dict | None = None, epochs: int = 1,
                constraints: dict | None = None, **extra) -> Path:
    study = {"name": name,
             "space": {"base": "firenet", "fixed": TINY_FIXED,
                       "axes": axes or {"sr": [0.25, 0.5, 1.0]},
                       "constraints": constraints or {}},
             "train": {"data": "digits", "image_size": 8, "epochs": epochs, "batch_size": 64},
             "objectives": ["top1", "size_mib"], **extra}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def cli(*argv: str) -> list[str]:
    """The command line that runs `cnnspace ARGV` in a fresh interpreter."""
    return [sys.executable, "-m", "cnnspace.cli", *argv]
