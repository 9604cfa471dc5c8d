"""Qt-free application state: the document, the label editor, undo history and view settings.

Nothing here imports PySide6 or pyqtgraph (an import-linter contract checks it), so all of it is
unit-tested without a display.
"""
