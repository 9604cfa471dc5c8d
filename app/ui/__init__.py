"""Qt widgets of the annotation workspace: they show the state and forward intent."""

from app.ui import qt_compat as _qt_compat  # noqa: F401 - applies binding work-arounds first
