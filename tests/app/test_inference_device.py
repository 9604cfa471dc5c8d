"""The GUI says which onnxruntime provider a model run used, and why not CUDA (issue 16, item 2).

Runs with onnxruntime or onnxruntime-gpu; the CUDA branch is a made-up ``ProviderReport``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_run_on_volume import assisted  # noqa: F401 - the fixture

from ugpcl_engine import ProviderReport

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


def test_run_on_volume_reports_the_provider_it_ran_on(
    qtbot, window, tiny_onnx: Path, dialogs_log, request
) -> None:
    _assist, menu = request.getfixturevalue("assisted")
    with qtbot.waitSignal(menu.ran_on_volume, timeout=60000):
        menu.run_on_volume(tiny_onnx, 1)
    status = window.statusBar().currentMessage()
    if menu.device_label.text() == "ONNX: CPU":  # this machine: no usable GPU
        assert "(CPU (no CUDA: " in status
        assert menu.device_label.toolTip().startswith("CPU (no CUDA: ")
        assert menu.device_action.text() == "Inference device: CPU (last run)…"
    else:
        assert "(Ran on CUDAExecutionProvider, " in status
    assert dialogs_log["errors"] == []


def test_cuda_and_cpu_fallback_texts(window) -> None:
    from app.ui.model_menu import install_model_menu

    menu = install_model_menu(window)
    assert menu._ran_on(CUDA, ProviderReport((CUDA, CPU), "")) == "Ran on CUDAExecutionProvider"
    assert menu.device_label.text() == "ONNX: GPU"
    assert menu.device_action.text() == "Inference device: CUDA (last run)…"
    reason = "onnxruntime-gpu could not load libcudnn.so.9; install …"
    text = menu._ran_on(CPU, ProviderReport((CPU,), reason))
    assert text == f"CPU (no CUDA: {reason})"
    assert menu.device_label.text() == "ONNX: CPU" and menu.device_label.toolTip() == text
    assert menu.last_device == text
