"""The recent-files list, stored as JSON in the user's settings folder."""

from __future__ import annotations

import json
from pathlib import Path

MAX_RECENT = 10


class RecentFiles:
    """Most recently opened paths, newest first, persisted in one JSON file.

    Args:
        store: the JSON file (created on first ``add``); unreadable files count as empty.
        limit: how many paths to keep.
    """

    def __init__(self, store: Path, limit: int = MAX_RECENT) -> None:
        self.store = store
        self.limit = limit

    def paths(self) -> list[list[str]]:
        """The remembered entries, newest first; each entry is the list of paths opened."""
        try:
            data = json.loads(self.store.read_text())
        except (OSError, ValueError):
            return []
        if not isinstance(data, list):
            return []
        return [[str(p) for p in e] for e in data if isinstance(e, list) and e][: self.limit]

    def add(self, entry: list[str]) -> None:
        """Put an entry (paths opened together) first; failures to write are ignored."""
        entries = [e for e in self.paths() if e != entry]
        entries.insert(0, [str(p) for p in entry])
        try:
            self.store.parent.mkdir(parents=True, exist_ok=True)
            self.store.write_text(json.dumps(entries[: self.limit], indent=1))
        except OSError:
            pass  # a read-only settings folder must not stop the user from working
