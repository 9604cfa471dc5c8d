"""ugpcl-studio desktop application (PySide6 + pyqtgraph; never imports torch)."""
