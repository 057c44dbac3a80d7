"""Energy counters: Linux RAPL (CPU packages, /sys/class/powercap) and NVML (NVIDIA GPUs).

Where no counter can be read the meter is None and a reason says why; an energy figure is never
estimated. RAPL counts the whole CPU package, so other processes' work is included: read it on an
otherwise idle machine.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

POWERCAP = Path("/sys/class/powercap")
# What each meter's joules cover: the whole hardware while the network ran, so a reader must not
# take them for the network's share alone.
SCOPES = {"RAPL": "the CPU packages' RAPL counters: whole packages, idle power and other "
                  "processes' work included",
          "NVML": "the GPU's NVML counter: the whole GPU, idle power and other processes' work "
                  "included"}


@dataclass
class RaplMeter:
    """Sum over CPU packages of ``energy_uj``, unwrapping each counter's overflow."""
    zones: list[tuple[Path, int]]  # (energy_uj file, max_energy_range_uj)
    name: str = "RAPL"

    def __post_init__(self):
        self._last = [self._raw(f) for f, _ in self.zones]
        self._total_uj = 0

    @staticmethod
    def _raw(path: Path) -> int:
        return int(path.read_text().strip())

    def joules(self) -> float:
        """Energy since the meter was made; call often enough that no counter wraps twice."""
        for i, (path, wrap) in enumerate(self.zones):
            now = self._raw(path)
            self._total_uj += (now - self._last[i]) % (wrap + 1) if wrap else now - self._last[i]
            self._last[i] = now
        return self._total_uj / 1e6


@dataclass
class NvmlMeter:
    handle: Any
    nvml: Any
    name: str = "NVML"

    def __post_init__(self):
        self._start = self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)  # mJ

    def joules(self) -> float:
        return (self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) - self._start) / 1e3


def _is_package(zone: Path) -> bool:
    """A top-level zone is a CPU package ("package-0") or, on many laptops, "psys": the whole
    platform, packages included, which summed with them would count their energy twice."""
    try:
        return not (zone / "name").read_text().strip().startswith("psys")
    except OSError:  # no name to go by: counted, as the packages it most likely is
        return True


def rapl_meter(root: Path = POWERCAP) -> tuple[RaplMeter | None, str | None]:
    if not root.is_dir():
        return None, (f"no {root}: this kernel or container exposes no RAPL energy counters")
    packages = sorted(p for p in root.glob("intel-rapl:*")
                      if p.name.count(":") == 1 and _is_package(p))
    if not packages:
        return None, f"no RAPL package domain (intel-rapl:N) under {root}"
    zones = []
    for zone in packages:
        energy, wrap = zone / "energy_uj", zone / "max_energy_range_uj"
        try:
            int(energy.read_text().strip())
            zones.append((energy, int(wrap.read_text().strip()) if wrap.exists() else 0))
        except PermissionError:
            return None, (f"cannot read {energy}: permission denied (recent kernels let only "
                          "root read RAPL counters)")
        except (OSError, ValueError) as e:
            return None, f"cannot read {energy}: {e}"
    return RaplMeter(zones), None


def _nvml_index(cuda_index: int) -> int:
    """NVML numbers every GPU of the machine, CUDA only those CUDA_VISIBLE_DEVICES lets it see
    (with 2,3 there, cuda:0 is NVML's GPU 2): read as NVML's index, another GPU's energy would
    be reported. torch's own NVML readings (torch.cuda.power_draw) translate the same way."""
    import torch

    return torch.cuda._get_nvml_device_index(cuda_index)


def nvml_meter(index: int) -> tuple[NvmlMeter | None, str | None]:
    try:
        import pynvml
    except ImportError:
        return None, "NVML needs the nvidia-ml-py package (import pynvml failed)"
    try:
        pynvml.nvmlInit()
        return NvmlMeter(pynvml.nvmlDeviceGetHandleByIndex(_nvml_index(index)), pynvml), None
    except Exception as e:  # pynvml raises NVMLError subclasses, e.g. NotSupported before Volta
        return None, f"NVML cannot read the GPU's energy counter: {e}"


def energy_meter(device: str) -> tuple[RaplMeter | NvmlMeter | None, str | None]:
    """A meter for ``device`` ("cpu", "cuda", "cuda:1"), or None and the reason."""
    if device.startswith("cuda"):
        return nvml_meter(int(device.partition(":")[2] or 0))
    return rapl_meter()


def energy_per_call(fn: Callable[[], Any], meter, sync: Callable[[], None] = lambda: None,
                    min_time_s: float = 1.0) -> float | None:
    """Joules per call of ``fn``, over at least ``min_time_s`` (counters update every ~1 ms);
    None when the counter did not advance (some virtual machines expose a RAPL file that never
    moves: 0 J per frame would be a reading nothing took)."""
    fn()
    sync()
    start, calls, t0 = meter.joules(), 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - t0 < min_time_s:
        fn()
        calls += 1
    sync()
    used = meter.joules() - start
    return used / calls if used > 0 else None
