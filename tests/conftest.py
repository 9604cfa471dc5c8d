"""Shared fixtures: the real chest CT sample (from the installed slicerio package)."""

from __future__ import annotations

import pytest

from ugpcl_engine.sample import SamplePaths, sample_paths


@pytest.fixture(scope="session")
def chest_ct() -> SamplePaths:
    """Paths of the bundled 7-class chest CT and its segmentation."""
    return sample_paths()
