"""Reading and writing volumes: exact geometry in every format, the sample, label tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from ugpcl_engine.io.sitk_images import geometry_from_sitk, sitk_from_array
from ugpcl_engine.io.volume_files import (
    read_label_map,
    read_volume,
    resample_labels_to,
    write_array,
    write_label_map,
)
from ugpcl_engine.sample import SamplePaths
from ugpcl_engine.volume import LabelMap, LabelTable, VolumeGeometry

SAMPLE_NAMES = (
    "background",
    "ribs",
    "cervical vertebral column",
    "thoracic vertebral column",
    "lumbar vertebral column",
    "right lung",
    "left lung",
    "tissue",
)


def test_sitk_round_trip_keeps_anisotropic_oblique_grid(
    oblique_geometry: VolumeGeometry, ramp_zyx: np.ndarray
) -> None:
    image = sitk_from_array(ramp_zyx, oblique_geometry)
    # ITK's own view: size and spacing in x, y, z order
    assert image.GetSize() == (7, 6, 5)
    assert image.GetSpacing() == (0.9, 0.7, 2.5)
    # voxel (x=6, y=0, z=4) holds array[4, 0, 6] and sits where the direction says
    assert image.GetPixel(6, 0, 4) == ramp_zyx[4, 0, 6]
    direction = np.array(oblique_geometry.direction_xyz).reshape(3, 3)
    expected = np.array(oblique_geometry.origin_xyz) + direction @ (
        np.array([6, 0, 4]) * [0.9, 0.7, 2.5]
    )
    assert np.allclose(image.TransformIndexToPhysicalPoint((6, 0, 4)), expected)
    back = geometry_from_sitk(image)
    assert back == oblique_geometry
    assert np.array_equal(sitk.GetArrayFromImage(image), ramp_zyx)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"])
def test_every_format_keeps_voxels_and_geometry(
    tmp_path: Path, suffix: str, oblique_geometry: VolumeGeometry, ramp_zyx: np.ndarray
) -> None:
    path = tmp_path / f"vol{suffix}"
    write_array(path, ramp_zyx, oblique_geometry)
    volume = read_volume(path)
    assert volume.name == "vol"
    assert np.array_equal(volume.image_zyx, ramp_zyx)
    assert volume.image_zyx.dtype == np.int16
    g = volume.geometry
    assert g.shape_zyx == oblique_geometry.shape_zyx
    # NIfTI stores spacing/origin as float32 and the direction through a quaternion
    tol = 1e-5 if suffix.startswith(".nii") else 1e-9
    assert np.allclose(g.spacing_zyx, oblique_geometry.spacing_zyx, atol=tol)
    assert np.allclose(g.origin_xyz, oblique_geometry.origin_xyz, atol=tol * 10)
    assert np.allclose(g.direction_xyz, oblique_geometry.direction_xyz, atol=tol)


def test_sample_ct_reads_with_lps_geometry(chest_ct: SamplePaths) -> None:
    volume = read_volume(chest_ct.image)
    assert volume.image_zyx.shape == (34, 128, 128)
    assert volume.modality == "CT"
    assert np.allclose(volume.geometry.direction_xyz, (-1, 0, 0, 0, -1, 0, 0, 0, 1))
    assert np.allclose(volume.geometry.spacing_zyx, (10.0, 3.046876, 3.046876), atol=1e-5)


def test_sample_segmentation_brings_its_named_table(chest_ct: SamplePaths) -> None:
    image = read_volume(chest_ct.image)
    labels = read_label_map(chest_ct.labels, geometry=image.geometry)
    assert labels.table.names == SAMPLE_NAMES
    assert labels.table.classes[1].color_rgb == (253, 232, 158)  # Slicer's 0.992157 0.909804 ...
    assert set(np.unique(labels.labels_zyx)) == set(range(8))


def test_overlapping_segments_flatten_with_later_layer_on_top(chest_ct: SamplePaths) -> None:
    flat = read_label_map(chest_ct.overlapping, flatten_layers=True)
    assert flat.table.names == (*SAMPLE_NAMES, "overlapping sphere")
    layers = sitk.GetArrayFromImage(sitk.ReadImage(str(chest_ct.overlapping)))  # (Z, Y, X, 2)
    sphere = layers[..., 1] == 1
    assert sphere.any()
    assert np.all(flat.labels_zyx[sphere] == 8)
    ribs_outside = (layers[..., 0] == 1) & ~sphere
    assert np.all(flat.labels_zyx[ribs_outside] == 1)


def test_seg_nrrd_written_is_read_by_slicerio(tmp_path: Path, chest_ct: SamplePaths) -> None:
    import slicerio

    original = read_label_map(chest_ct.labels)
    path = tmp_path / "out.seg.nrrd"
    write_label_map(path, original)
    segmentation = slicerio.read_segmentation(str(path))
    names = [s["name"] for s in segmentation["segments"]]
    assert names == list(SAMPLE_NAMES[1:])
    lung = segmentation["segments"][4]
    assert lung["labelValue"] == 5
    assert np.allclose(lung["color"], [22 / 255, 197 / 255, 71 / 255], atol=1e-4)
    z, y, x = np.nonzero(original.labels_zyx == 1)
    tight = f"{x.min()} {x.max()} {y.min()} {y.max()} {z.min()} {z.max()}"
    header = sitk.ImageFileReader()
    header.SetFileName(str(path))
    header.ReadImageInformation()
    assert header.GetMetaData("Segment0_Extent") == tight
    again = read_label_map(path)
    assert again.table == original.table
    assert np.array_equal(again.labels_zyx, original.labels_zyx)


def test_label_table_beside_the_file_is_picked_up(
    tmp_path: Path, oblique_geometry: VolumeGeometry
) -> None:
    from ugpcl_engine.io.label_tables import table_from_entries, write_label_table

    table = table_from_entries({1: ("liver", (200, 10, 10)), 2: ("kidney", (10, 200, 10))})
    labels = np.zeros(oblique_geometry.shape_zyx, dtype=np.uint8)
    labels[1, 2, 3] = 2
    write_label_map(tmp_path / "seg.nii.gz", LabelMap(labels, oblique_geometry, table))
    assert read_label_map(tmp_path / "seg.nii.gz").table.names == (
        "background",
        "label 1",
        "label 2",
    )
    write_label_table(tmp_path / "seg_labels.txt", table)
    assert read_label_map(tmp_path / "seg.nii.gz").table == table


def test_resample_labels_to_image_grid_is_nearest_neighbour() -> None:
    fine = VolumeGeometry((4, 8, 8), (1.0, 1.0, 1.0))
    coarse = VolumeGeometry((2, 4, 4), (2.0, 2.0, 2.0), origin_xyz=(0.5, 0.5, 0.5))
    labels = np.zeros((2, 4, 4), dtype=np.uint8)
    labels[1, 2, 3] = 3
    moved = resample_labels_to(LabelMap(labels, coarse, LabelTable.default(4)), fine)
    assert moved.labels_zyx.shape == (4, 8, 8)
    assert moved.geometry == fine
    assert set(np.unique(moved.labels_zyx)) == {0, 3}  # no blended values
    # coarse voxel (z1, y2, x3) covers fine voxels z 2..3, y 4..5, x 6..7
    assert np.all(moved.labels_zyx[2:4, 4:6, 6:8] == 3)
    assert np.count_nonzero(moved.labels_zyx) == 8
