"""Device, dtype and thread settings from the ``hardware`` config group."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from pgexp.config import Device, DType, HardwareConfig
from pgexp.errors import ConfigError

DTYPES = {DType.float32: torch.float32, DType.float64: torch.float64}


def resolve_device(device: Device) -> torch.device:
    """``cpu``, ``cuda`` (an error when no GPU is visible) or ``auto`` (cuda if present)."""
    if device is Device.auto:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device is Device.cuda and not torch.cuda.is_available():
        raise ConfigError(
            "hardware.device",
            "is cuda but no CUDA GPU is visible: use hardware=cpu or hardware.device=auto",
        )
    return torch.device(device.value)


def apply_hardware(cfg: HardwareConfig) -> tuple[torch.device, torch.dtype]:
    """Set torch's thread count and return the (device, dtype) a run computes in."""
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    return resolve_device(cfg.device), DTYPES[cfg.dtype]


def device_description(device: torch.device) -> str:
    """Human-readable name of the device, e.g. ``cuda:0 (NVIDIA H100 80GB HBM3)``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def one_thread(device: torch.device) -> Iterator[None]:
    """Run the block's CPU work on one thread, whatever ``hardware.threads`` says (a BLAS
    library splits a matrix product among threads in ways that change its order of addition).
    Nothing changes on a GPU or while ``torch.compile`` traces."""
    if device.type != "cpu" or torch.compiler.is_compiling() or torch.get_num_threads() == 1:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
