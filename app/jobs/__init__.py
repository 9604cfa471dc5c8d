"""Background work for the GUI (QtCore only): file I/O tasks on pool threads."""
