"""The benchmark runner: ``ugpcl-studio benchmark NAME [--out DIR]``.

Each benchmark module has ``run(args) -> BenchmarkResult``; ``benchmark_command`` prints its
table and writes ``DIR/NAME.json`` with a flat ``summary`` of named numbers (see ``record``).
The engine CLI loads this module by name only; a package of the benchmark extra that is missing
becomes one line with the command that installs it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ugpcl_engine.errors import InputError
from ugpcl_engine.headless import missing_benchmark_message

REGISTRY = {
    "sparse-slices": "ugpcl_benchmarks.sparse_slices",
    "step": "ugpcl_benchmarks.step",
    "io": "ugpcl_benchmarks.io_bench",
    "onnx": "ugpcl_benchmarks.onnx_bench",
    "guided": "ugpcl_benchmarks.guided",
    "calibration": "ugpcl_benchmarks.calibration",
    "scale": "ugpcl_benchmarks.scale",
    "scale-gpu": "ugpcl_benchmarks.scale",
}


@dataclass
class BenchmarkResult:
    """What a benchmark produced.

    Attributes:
        table: human-readable table (printed).
        summary: flat mapping of named numbers (the contract other tools read).
        details: anything else worth keeping (rows, settings).
    """

    table: str
    summary: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    """Render rows as a fixed-width text table (floats with 4 significant digits)."""

    def cell(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def record(name: str, result: BenchmarkResult, out_dir: Path, seconds: float) -> Path:
    """Write ``out_dir/name.json`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    payload = {
        "benchmark": name,
        "summary": result.summary,
        "details": result.details,
        "wall_seconds": round(seconds, 2),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            # the machines are shared: a high load average inflates absolute times
            "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        },
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return path


def benchmark_command(args: argparse.Namespace) -> int:
    """Run the benchmark named ``args.name``, print its table, write its JSON."""
    if args.name not in REGISTRY:
        raise InputError(
            f"Unknown benchmark '{args.name}': choose one of {', '.join(sorted(REGISTRY))} "
            "(GUI benchmarks: gui, first-model, responsiveness, reliability)."
        )
    try:
        module = importlib.import_module(REGISTRY[args.name])
        run_and_record(args.name, lambda: module.run(args), Path(args.out))
    except ModuleNotFoundError as err:
        missing = missing_benchmark_message(err, args.name)
        if missing is None:
            raise
        raise InputError(missing) from None
    return 0


def run_and_record(name: str, run: Callable[[], BenchmarkResult], out_dir: Path) -> Path:
    """Time ``run()``, write ``out_dir/name.json``, print the table; return the JSON path.

    Shared by these benchmarks and the app's (``gui``, ``first-model``, ...).
    """
    start = time.perf_counter()
    result = run()
    path = record(name, result, out_dir, time.perf_counter() - start)
    print(result.table)
    print(f"\nwritten {path}")
    return path
