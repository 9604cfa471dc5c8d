"""The engine's version (recorded in checkpoints and ONNX metadata).

A module of its own so that engine modules can read it without importing the package's public
surface (``ugpcl_engine/__init__.py``), which names modules of every layer.
"""

__version__ = "0.1.0"
