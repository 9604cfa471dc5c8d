"""Which execution provider an onnxruntime session uses and why not CUDA (issue 16, item 2).

Runs with either onnxruntime or onnxruntime-gpu installed: the GPU branches use fake sessions
and a patched ``get_available_providers``/``preload_dlls``.
"""

from __future__ import annotations

import subprocess
import sys

import onnxruntime as ort
import pytest

from ugpcl_engine import ProviderReport
from ugpcl_engine.inference import ort_providers
from ugpcl_engine.inference.ort_providers import (
    CPU,
    CUDA,
    cpu_reason,
    preload_cuda_libraries,
    provider_report,
)


class FakeSession:
    def __init__(self, *providers: str) -> None:
        self.providers = list(providers)

    def get_providers(self) -> list[str]:
        return self.providers


@pytest.fixture
def gpu_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime-gpu, whatever is installed."""
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    monkeypatch.setattr(ort_providers, "_preloaded", None)


def test_cuda_session_reports_cuda_and_no_reason() -> None:
    report = provider_report(FakeSession(CUDA, CPU), "auto")
    assert report == ProviderReport((CUDA, CPU), "")
    assert report.uses_cuda and report.provider == CUDA
    assert report.summary() == "CUDAExecutionProvider"
    providers, reason = report  # a plain (providers used, reason) pair
    assert providers == (CUDA, CPU) and reason == ""


def test_cpu_chosen() -> None:
    report = provider_report(FakeSession(CPU), "cpu")
    assert not report.uses_cuda
    assert report.summary() == "CPU (no CUDA: the CPU was chosen)"


def test_cpu_only_build_says_to_install_the_gpu_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CPU])
    report = provider_report(FakeSession(CPU), "cuda")
    assert report.providers == (CPU,)
    assert "CPU-only onnxruntime" in report.reason
    assert "pip install onnxruntime-gpu" in report.reason
    assert report.summary().startswith("CPU (no CUDA: the CPU-only onnxruntime")


def test_gpu_build_without_driver(gpu_build, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort_providers, "_driver_missing", lambda: "libcuda.so.1")
    reason = provider_report(FakeSession(CPU), "auto").reason
    assert reason == "no NVIDIA GPU driver was found (libcuda.so.1 cannot be loaded)"


def test_gpu_build_with_missing_libraries_names_them(
    gpu_build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ort_providers, "_driver_missing", lambda: None)
    calls: list[int] = []

    def preload() -> None:
        calls.append(1)
        print("Failed to load libcublas.so.12: libcublas.so.12: cannot open shared object file")
        print("Failed to load libcudnn.so.9: libcudnn.so.9: cannot open shared object file")
        print("Please follow https://onnxruntime.ai/docs/install/#cuda-and-cudnn")

    monkeypatch.setattr(ort, "preload_dlls", preload, raising=False)
    reason = cpu_reason("cuda")
    assert reason.startswith("onnxruntime-gpu could not load libcublas.so.12, libcudnn.so.9;")
    assert "nvidia-* pip wheels" in reason
    assert preload_cuda_libraries() == ["libcublas.so.12", "libcudnn.so.9"]
    assert calls == [1]  # once per process


def test_gpu_build_all_libraries_loaded_but_no_cuda(
    gpu_build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ort_providers, "_driver_missing", lambda: None)
    monkeypatch.setattr(ort, "preload_dlls", lambda: None, raising=False)
    assert "could not start CUDA" in cpu_reason("auto")


def test_preload_is_skipped_on_old_or_cpu_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort_providers, "_preloaded", None)
    monkeypatch.delattr(ort, "preload_dlls", raising=False)  # onnxruntime < 1.21
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    assert preload_cuda_libraries() == []


def test_preload_that_raises_does_not_stop_the_session(
    gpu_build, monkeypatch: pytest.MonkeyPatch
) -> None:
    def preload() -> None:
        raise RuntimeError("Invalid parameter of directory")

    monkeypatch.setattr(ort, "preload_dlls", preload, raising=False)
    assert preload_cuda_libraries() == []


def test_this_machine_reason_matches_its_onnxruntime() -> None:
    """The real (unpatched) reason for ``auto`` on a CPU session of this machine."""
    reason = cpu_reason("auto")
    if CUDA not in ort.get_available_providers():
        assert "CPU-only onnxruntime" in reason
    else:
        assert reason.startswith(("no NVIDIA GPU driver", "onnxruntime-gpu could not"))


def test_preload_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from ugpcl_engine.inference.ort_providers import preload_cuda_libraries, cpu_reason\n"
        "preload_cuda_libraries(); cpu_reason('auto')\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_cuda_that_did_not_start_says_what_to_check_not_a_log_it_silenced(
    gpu_build, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session is created with onnxruntime's own logging silenced (its loud fallback
    error), so its message is in no log: the reason used to send the user to the log file for
    it. It names the CUDA version the build needs instead, and what to check."""
    monkeypatch.setattr(ort_providers, "_driver_missing", lambda: None)
    monkeypatch.setattr(ort, "preload_dlls", lambda: None, raising=False)
    monkeypatch.setattr(ort_providers, "_cuda_built_for", lambda: "12.4")
    reason = cpu_reason("cuda")
    assert "log" not in reason
    assert "CUDA 12.4" in reason and "nvidia-smi" in reason
    monkeypatch.setattr(ort_providers, "_preloaded", ["libcudnn.so.9"])
    assert "built for (CUDA 12.4, cuDNN 9)" in cpu_reason("cuda")  # for missing ones too


def test_the_cuda_version_of_the_build_is_read_when_there_is_one() -> None:
    version = ort_providers._cuda_built_for()
    assert version is None or version[0].isdigit()
