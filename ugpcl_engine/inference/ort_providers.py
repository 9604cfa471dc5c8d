"""Which onnxruntime execution provider a session uses, and why not CUDA when it is not.

onnxruntime-gpu needs the CUDA and cuDNN shared libraries at session creation; without them it
falls back to the CPU with a loud native error and no Python-visible reason. Since onnxruntime
1.21, ``onnxruntime.preload_dlls()`` loads those libraries from the ``nvidia-*`` pip wheels (the
ones a CUDA build of torch installs), so the GUI process reaches the GPU without importing torch.
``preload_cuda_libraries`` calls it once per process and keeps the names of the libraries it
could not load; ``provider_report`` turns a session into (providers used, reason).

numpy-free, torch-free: only onnxruntime and the standard library.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import platform
import re
import threading
from typing import Any, NamedTuple

import onnxruntime as ort

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
_DRIVER = {"Linux": "libcuda.so.1", "Windows": "nvcuda.dll"}
_FAILED = re.compile(r"Failed to load (\S+?):")

_lock = threading.Lock()
_preloaded: list[str] | None = None  # libraries preload_dlls could not load; None: not tried


class ProviderReport(NamedTuple):
    """The execution providers a session uses, and why CUDA is not among them.

    Attributes:
        providers: the session's providers, preferred first (``session.get_providers()``).
        reason: empty when CUDA is used; otherwise a user-facing sentence saying why the
            session runs on the CPU and what to install for the GPU.
    """

    providers: tuple[str, ...]
    reason: str

    @property
    def provider(self) -> str:
        """The provider the model runs on (the first of ``providers``)."""
        return self.providers[0] if self.providers else CPU

    @property
    def uses_cuda(self) -> bool:
        """True when the session runs on CUDA."""
        return self.provider == CUDA

    def summary(self) -> str:
        """One line for a status bar: ``CUDAExecutionProvider`` or ``CPU (no CUDA: …)``."""
        if self.uses_cuda:
            return CUDA
        return f"CPU (no CUDA: {self.reason})" if self.reason else "CPU"


def preload_cuda_libraries() -> list[str]:
    """Load the CUDA/cuDNN libraries of the ``nvidia-*`` wheels once (``ort.preload_dlls``).

    A no-op on a CPU-only onnxruntime, or one older than 1.21 (no ``preload_dlls``). Never
    imports torch. What ``preload_dlls`` prints is captured (it reports failures by printing)
    and logged at debug level.

    Returns:
        File names of the libraries that could not be loaded (empty when all loaded or when
        nothing was tried).
    """
    global _preloaded
    with _lock:
        if _preloaded is not None:
            return list(_preloaded)
        failed: list[str] = []
        preload = getattr(ort, "preload_dlls", None)
        if preload is not None and CUDA in ort.get_available_providers():
            printed = io.StringIO()
            try:
                with contextlib.redirect_stdout(printed):
                    preload()
            except Exception as err:  # a missing directory, an odd platform: report, go on
                log.warning("onnxruntime.preload_dlls failed: %s", err)
            text = printed.getvalue()
            failed = sorted(set(_FAILED.findall(text)))
            if text.strip():
                log.debug("onnxruntime.preload_dlls: %s", text.strip())
        _preloaded = failed
        return list(failed)


def _driver_missing() -> str | None:
    """The NVIDIA driver library's name when it cannot be loaded (Linux, Windows), else None."""
    name = _DRIVER.get(platform.system())
    if name is None:
        return None
    try:
        ctypes.CDLL(name)
    except OSError:
        return name
    return None


def _cuda_built_for() -> str | None:
    """The CUDA version the installed onnxruntime-gpu was built for (``"12.4"``), or None."""
    try:
        from onnxruntime.capi import build_and_package_info as info
    except ImportError:
        return None
    version = getattr(info, "cuda_version", None)
    return str(version) if version else None


def cpu_reason(device: str, missing: list[str] | None = None) -> str:
    """Why a session asked for ``device`` runs on the CPU (a user-facing sentence).

    Args:
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        missing: libraries ``preload_cuda_libraries`` could not load (None: ask it).

    Returns:
        The reason, naming what to install when CUDA was possible.
    """
    if device == "cpu":
        return "the CPU was chosen"
    if CUDA not in ort.get_available_providers():
        return (
            f"the CPU-only onnxruntime {ort.__version__} is installed; for an NVIDIA GPU run "
            "'pip uninstall onnxruntime' then 'pip install onnxruntime-gpu'"
        )
    driver = _driver_missing()
    if driver is not None:
        return f"no NVIDIA GPU driver was found ({driver} cannot be loaded)"
    missing = preload_cuda_libraries() if missing is None else missing
    cuda = _cuda_built_for()
    built = f" (built for CUDA {cuda})" if cuda else ""
    if missing:
        return (
            f"onnxruntime-gpu could not load {', '.join(missing)}; install the CUDA and cuDNN "
            f"libraries it was built for{f' (CUDA {cuda}, cuDNN 9)' if cuda else ''} (the "
            "nvidia-* pip wheels of a matching CUDA build of torch, or the CUDA toolkit and "
            "cuDNN 9) and restart"
        )
    # onnxruntime's own message is silenced while the session is made (ort_segmenter), so
    # say what to check rather than point to a log that does not have it
    return (
        f"onnxruntime-gpu {ort.__version__}{built} could not start CUDA: check that "
        "'nvidia-smi' lists a GPU, and that the CUDA and cuDNN libraries installed are the "
        f"ones the build needs{f' (CUDA {cuda}, cuDNN 9)' if cuda else ''}, then restart"
    )


def provider_report(session: Any, device: str) -> ProviderReport:
    """The providers ``session`` uses and, when CUDA is not the first, why.

    Args:
        session: an ``onnxruntime.InferenceSession`` (anything with ``get_providers()``).
        device: the device that was asked for (``"auto"``, ``"cpu"``, ``"cuda"``).

    Returns:
        ``ProviderReport(providers, reason)``; ``reason`` is empty when CUDA is used.
    """
    providers = tuple(session.get_providers())
    if providers and providers[0] == CUDA:
        return ProviderReport(providers, "")
    return ProviderReport(providers, cpu_reason(device))
