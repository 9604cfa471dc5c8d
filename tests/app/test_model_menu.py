"""Model › Export ONNX… and Model › Run model on a file…, driven through the menu object."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
from tiny import tiny_checkpoint

from ugpcl_engine.checkpoint import save_checkpoint
from ugpcl_engine.io.volume_files import read_label_map


def _checkpoint(path: Path) -> Path:
    save_checkpoint(path, tiny_checkpoint("menu0001"))
    return path


def _image(path: Path) -> Path:
    array = np.full((5, 40, 48), -1000, np.int16)
    array[:, 8:32, 6:42] = 40
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((1.0, 1.0, 2.5))
    image.SetOrigin((10.0, -4.0, 7.0))
    sitk.WriteImage(image, str(path))
    return path


def test_export_then_run_on_a_file_writes_segmentation_and_uncertainty(
    qtbot, window, tmp_path: Path
) -> None:
    from app.jobs.model_jobs import uncertainty_path
    from app.ui.model_menu import install_model_menu

    menu = install_model_menu(window, quiet=True)
    texts = [a.text() for a in window.menus["Model"].actions()]
    assert "Export ONNX…" in texts and "Run model on a file…" in texts

    onnx_path = tmp_path / "model.onnx"
    with qtbot.waitSignal(menu.exported, timeout=120000) as exported:
        menu.export(_checkpoint(tmp_path / "model.pt"), onnx_path)
    assert onnx_path.is_file() and exported.args[0].max_abs_diff_probs <= 1e-4
    assert menu.last_model == onnx_path

    image = _image(tmp_path / "scan.nii.gz")
    out = tmp_path / "scan_seg.nii.gz"
    with qtbot.waitSignal(menu.ran, timeout=60000):
        menu.run_on_file(onnx_path, image, out)
    seg = read_label_map(out)
    assert seg.labels_zyx.shape == (5, 40, 48)
    assert seg.geometry.spacing_zyx == (2.5, 1.0, 1.0)
    assert seg.geometry.origin_xyz == (10.0, -4.0, 7.0)
    unc = sitk.ReadImage(str(uncertainty_path(out)))
    assert unc.GetSize() == (48, 40, 5) and unc.GetPixelID() == sitk.sitkFloat32


def test_run_on_a_bad_file_reports_and_writes_nothing(qtbot, window, tmp_path: Path) -> None:
    from app.ui.model_menu import install_model_menu

    menu = install_model_menu(window, quiet=True)
    bad = tmp_path / "notes.nii.gz"
    bad.write_text("not an image")
    with qtbot.waitSignal(menu.failed, timeout=10000) as failed:
        menu.run_on_file(tmp_path / "model.onnx", bad, tmp_path / "out.nii.gz")
    assert "Cannot read" in failed.args[0]
    assert not (tmp_path / "out.nii.gz").exists()


def test_run_on_a_file_reads_the_volume_on_the_runner_thread(
    qtbot, window, tmp_path: Path, monkeypatch
) -> None:
    """The bug: run_on_file read the whole image on the GUI thread before starting its task."""
    import threading

    from app.jobs import model_jobs
    from app.ui.model_menu import install_model_menu

    readers: list[threading.Thread] = []
    original = model_jobs.read_volume

    def read_volume(path: Path) -> object:
        readers.append(threading.current_thread())
        return original(path)

    monkeypatch.setattr(model_jobs, "read_volume", read_volume)
    menu = install_model_menu(window, quiet=True)
    image = _image(tmp_path / "scan.nii.gz")
    with qtbot.waitSignal(menu.failed, timeout=10000):  # the model file does not exist
        task = menu.run_on_file(tmp_path / "missing.onnx", image, tmp_path / "out.nii.gz")
    assert readers and readers[0] is not threading.main_thread()
    assert readers[0] is not threading.current_thread()
    assert menu.tasks.current("run") is task


def test_uncertainty_path_keeps_folder_and_format() -> None:
    from app.jobs.model_jobs import uncertainty_path

    assert uncertainty_path(Path("/a/liver_seg.nii.gz")) == Path("/a/liver_seg_uncertainty.nii.gz")
    assert uncertainty_path(Path("b.mha")) == Path("b_uncertainty.mha")


def test_an_export_that_ends_after_another_document_opened_is_not_recorded_in_it(
    qtbot, window, tmp_path: Path, monkeypatch
) -> None:
    """Model › Export ONNX… on one document, File › Open of another while the child exports:
    the export record (its checkpoint belongs to the first document's runs) must not land in
    the new document, nor mark it modified (a 'Save changes?' on a document never edited)."""
    import sys
    import threading
    from types import SimpleNamespace

    from app.jobs.tasks import Task
    from app.ui import model_menu
    from app.ui.model_menu import install_model_menu

    sys.path.insert(0, str(Path(__file__).parent))
    from test_volume_switching import two_volumes

    release = threading.Event()

    class SlowExport(Task):
        kind = "export"

        def __init__(self, checkpoint: Path, out: Path, training_grid=None) -> None:
            super().__init__()
            self.out, self.sha256 = out, "0" * 64

        def work(self) -> SimpleNamespace:
            release.wait(10.0)
            return SimpleNamespace(
                path=str(self.out), model_version="v1", summary=lambda: "exported"
            )

    monkeypatch.setattr(model_menu, "ExportTask", SlowExport)
    menu = install_model_menu(window, quiet=True)
    window.ws.set_document(two_volumes())
    first = window.ws.doc
    menu.export(tmp_path / "model.pt", tmp_path / "model.onnx")
    window.ws.set_document(two_volumes())  # another document opened meanwhile
    second = window.ws.doc
    with qtbot.waitSignal(menu.exported, timeout=10000):
        release.set()
    assert second.records["models"] == [] and not second.modified
    assert first is not second
    assert menu.last_model == tmp_path / "model.onnx"  # the file is there all the same
