"""SimpleITK images on our grid: the one xyz ↔ zyx conversion, and image headers.

SimpleITK indexes images x, y, z while ``GetArrayFromImage`` returns z, y, x arrays; the
conversion between ``sitk.Image`` and our ``VolumeGeometry`` lives only in
``geometry_from_sitk`` / ``sitk_from_array`` so it is tested once, round trip, on an
anisotropic oblique grid. The lowest layer of the SimpleITK users: ``volume_files``,
``dicom_series`` and ``label_tables`` import it, it imports none of them.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ugpcl_engine.volume import VolumeGeometry


def geometry_from_sitk(image: sitk.Image) -> VolumeGeometry:
    """Read an image's grid.

    Args:
        image: a 3-D SimpleITK image.

    Returns:
        The geometry, with ``shape_zyx`` and ``spacing_zyx`` reversed from ITK's x, y, z order.
    """
    size_xyz = image.GetSize()
    spacing_xyz = image.GetSpacing()
    return VolumeGeometry(
        shape_zyx=(int(size_xyz[2]), int(size_xyz[1]), int(size_xyz[0])),
        spacing_zyx=(float(spacing_xyz[2]), float(spacing_xyz[1]), float(spacing_xyz[0])),
        origin_xyz=tuple(float(v) for v in image.GetOrigin()),  # type: ignore[arg-type]
        direction_xyz=tuple(float(v) for v in image.GetDirection()),
    )


def sitk_from_array(array_zyx: np.ndarray, geometry: VolumeGeometry) -> sitk.Image:
    """Build a SimpleITK image from a z, y, x array on a known grid.

    Args:
        array_zyx: array of shape ``geometry.shape_zyx``.
        geometry: the grid to stamp on the image.

    Returns:
        The image, with spacing, origin and direction set.
    """
    if tuple(array_zyx.shape) != tuple(geometry.shape_zyx):
        raise ValueError(f"array shape {array_zyx.shape} != grid {geometry.shape_zyx}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(array_zyx))
    image.SetSpacing(tuple(reversed(geometry.spacing_zyx)))
    image.SetOrigin(geometry.origin_xyz)
    image.SetDirection(geometry.direction_xyz)
    return image
