"""Cluster presets: a device (peak FLOP/s x efficiency), an interconnect (alpha, beta), and the
FireCaffe training recipe. Every constant names its source; the only number fitted to a training
run is the K20X efficiency, from GoogLeNet's single-GPU time, and it is then used unchanged for
every network and every preset built on the K20X.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ..errors import CnnspaceError
from ..zoo import get_spec
from ._model import Device, Interconnect, NetworkCosts, Recipe, calibrate_efficiency

IMAGENET_TRAIN_IMAGES = 1_281_167  # ILSVRC-2012 training set

# FireCaffe (Iandola et al., CVPR 2016; seed slide 20): single GPU batch 32, 64 epochs;
# 32 or 128 GPUs batch 1024, ~72 epochs.
FIRECAFFE_BASELINE = Recipe(batch=32, epochs=64, dataset_size=IMAGENET_TRAIN_IMAGES)
FIRECAFFE_RECIPE = Recipe(batch=1024, epochs=72, dataset_size=IMAGENET_TRAIN_IMAGES)

# The one calibration run: Caffe GoogLeNet (with its auxiliary classifiers, the 53 MB model) on one
# K20 GPU took 20.5 days (FireCaffe, seed slide 20). The seed calls Titan's GPUs K20 too; we use the
# K20X's peak for both, so the efficiency below is what Caffe sustained on that class of GPU.
CALIBRATION_MODEL = "googlenet_aux"
CALIBRATION_SECONDS = 20.5 * 86_400

K20X_PEAK_FLOPS = 3.95e12  # NVIDIA Tesla K20X board specification: 3.95 TFLOP/s single precision

# A GPU-to-GPU message on a K20X node crosses PCIe on the sender (device to host), the network,
# and PCIe on the receiver (host to device). Without GPUDirect RDMA (the K20X nodes of 2015) the
# gradient is staged whole through host memory, so the three transfers add up (store and forward).
PCIE_GEN2_X16_BYTES_PER_S = 8e9  # K20X system interface: PCIe 2.0 x16 = 16 lanes x 5 GT/s, 8b/10b
GEMINI_BYTES_PER_S = 6.911e9     # Vishnu, ten Bruggencate, Olson, "Evaluating the Potential of Cray
GEMINI_LATENCY_S = 1e-6          # Gemini Interconnect for PGAS Communication Runtime Systems",
                                 # HOTI 2011: peak 6,911 MB/s, latency 1 us
FDR_BYTES_PER_S = 4 * 14.0625e9 * 64 / 66 / 8  # InfiniBand FDR 4x: 14.0625 Gb/s lanes, 64b/66b
FDR_LATENCY_S = 1e-6             # Mellanox ConnectX-3 product brief: sub-microsecond MPI latency
TEN_GBE_BYTES_PER_S = 10e9 / 8   # IEEE 802.3ae line rate
TEN_GBE_LATENCY_S = 50e-6        # assumption: kernel TCP/IP one-way latency, tens of microseconds


def staged_link(network_bytes_per_s: float, latency_s: float) -> Interconnect:
    """A K20X-to-K20X message over ``network`` staged through host memory on both ends."""
    return Interconnect(latency_s, 2 / PCIE_GEN2_X16_BYTES_PER_S + 1 / network_bytes_per_s)


@dataclass(frozen=True)
class Preset:
    """A cluster: its ``device``, ``link`` and training ``recipe``, and the single-device
    ``baseline`` recipe speedups are measured against."""
    name: str
    description: str
    device: Device
    link: Interconnect
    recipe: Recipe
    baseline: Recipe
    device_sources: tuple[str, ...]  # where the device's figures come from
    link_sources: tuple[str, ...]    # where the link's alpha and beta come from

    @property
    def sources(self) -> tuple[str, ...]:
        return self.device_sources + self.link_sources


@cache
def k20x() -> Device:
    """The K20X with Caffe's efficiency, calibrated on GoogLeNet's single-GPU run only."""
    costs = NetworkCosts.of(get_spec(CALIBRATION_MODEL))
    efficiency = calibrate_efficiency(costs, FIRECAFFE_BASELINE, CALIBRATION_SECONDS,
                                      K20X_PEAK_FLOPS)
    return Device("NVIDIA K20X (Caffe)", K20X_PEAK_FLOPS, efficiency)


def _k20x_cluster(name: str, network: str, bandwidth: float, latency: float,
                  sources: tuple[str, ...]) -> Preset:
    return Preset(name, f"one K20X per node, {network}, FireCaffe recipe", k20x(),
                  staged_link(bandwidth, latency), FIRECAFFE_RECIPE, FIRECAFFE_BASELINE,
                  ("K20X: NVIDIA Tesla K20X specification (3.95 TFLOP/s fp32, PCIe 2.0 x16)",
                   "efficiency: GoogLeNet on one GPU in 20.5 days, batch 32, 64 epochs (FireCaffe)"),
                  sources)


PRESETS = {
    "titan-k20x": lambda: _k20x_cluster(
        "titan-k20x", "Cray Gemini (Titan)", GEMINI_BYTES_PER_S, GEMINI_LATENCY_S,
        ("Gemini: Vishnu et al., HOTI 2011, 6,911 MB/s peak, 1 us latency",)),
    "infiniband-fdr": lambda: _k20x_cluster(
        "infiniband-fdr", "InfiniBand FDR 4x", FDR_BYTES_PER_S, FDR_LATENCY_S,
        ("FDR 4x: 56 Gb/s signalling, 64b/66b coding = 6.8 GB/s; Mellanox ConnectX-3 brief",)),
    "10gbe": lambda: _k20x_cluster(
        "10gbe", "10 Gigabit Ethernet (TCP)", TEN_GBE_BYTES_PER_S, TEN_GBE_LATENCY_S,
        ("10GbE: IEEE 802.3ae 10 Gb/s; 50 us TCP latency is an assumption",)),
}
MEASURED = "measured"  # built from commbench and a timed step: see measured_preset()
# On this machine the default is throughput: the same batch and epochs with and without workers.
MEASURED_RECIPE = Recipe(batch=128, epochs=1, dataset_size=IMAGENET_TRAIN_IMAGES)


def measured_preset(link: Interconnect, device: Device, link_sources: tuple[str, ...] = (),
                    device_sources: tuple[str, ...] = ()) -> Preset:
    """This machine: ``link`` fitted by commbench, ``device`` timed on a training step."""
    return Preset(MEASURED, "local processes on this machine, measured", device, link,
                  MEASURED_RECIPE, MEASURED_RECIPE, device_sources, link_sources)


def preset_names() -> list[str]:
    """The names ``get_preset`` takes, and ``measured`` (from ``measured_preset``)."""
    return [*PRESETS, MEASURED]


def get_preset(name: str) -> Preset:
    """A cluster preset by name (``preset_names()``): device, link, recipe and baseline."""
    if name == MEASURED:
        raise CnnspaceError("the measured preset comes from measurements on this machine: "
                            "measure_preset(spec, commbench, batch) or `cnnspace scale --preset "
                            "measured`")
    if name not in PRESETS:
        raise CnnspaceError(f"unknown preset {name!r}; choose from {', '.join(preset_names())}")
    return PRESETS[name]()
