"""File formats: images and labels (SimpleITK), project files (h5py)."""
