"""Headless command line: ``ugpcl-studio train|evaluate|export|predict|convert|benchmark``,
plus ``train-dataset`` and ``evaluate-dataset`` for whole datasets (``ugpcl_engine.datasets``).

Each subcommand's work lives in its own module and is imported only when used, so that
``evaluate`` or ``convert`` start without loading torch. Every ``InputError`` becomes one line on
stderr and exit code 2, never a traceback, and nothing else: Python warnings raised on the way
(torch, onnx) are held back and shown only when the command succeeds.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from ugpcl_engine.datasets.commands import add_parsers as add_dataset_parsers
from ugpcl_engine.errors import InputError
from ugpcl_engine.headless import missing_benchmark_message

# subcommand -> "module:function"; the function takes the parsed namespace and returns an exit code
HANDLERS = {
    "train": "ugpcl_engine.training.job:train_command",
    "evaluate": "ugpcl_engine.metrics:evaluate_command",
    "export": "ugpcl_engine.inference.commands:export_command",
    "predict": "ugpcl_engine.inference.commands:predict_command",
    "convert": "ugpcl_engine.io.convert:convert_command",
    "benchmark": "ugpcl_benchmarks.runner:benchmark_command",
    "train-dataset": "ugpcl_engine.datasets.train_command:train_dataset_command",
    "evaluate-dataset": "ugpcl_engine.datasets.commands:evaluate_dataset_command",
}

FOLDER_OUTPUTS = {"benchmark": "out"}
"""Subcommands whose output folder is checked here, before their handler starts (the others
check their own outputs)."""


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (``--steps``, ``--jobs``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"ugpcl-studio {self.prog.split()[-1]}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand and its exact flags."""
    parser = _Parser(prog="ugpcl-studio", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train UGPCL from a few labeled slices of a volume")
    p.add_argument("--image", required=True, help="image volume (NIfTI, NRRD, MHA, DICOM)")
    p.add_argument("--labels", required=True, help="label volume on the image grid")
    p.add_argument("--slices", required=True, help="labeled slice indices, e.g. 6,16,28")
    p.add_argument("--axis", default="z", choices=("z", "y", "x"), help="slicing axis")
    p.add_argument("--preset", default="quick", choices=("quick", "standard", "paper"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", default=None, help="checkpoint to warm-start from")
    p.add_argument(
        "--steps", type=positive_int, default=None, help="override the preset's step count"
    )
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wall-clock budget for the whole run (training, prediction and uncertainty, "
        "writing): crop and steps are planned from a measured step",
    )
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--pretrained", default=None, help="local ResNet-50 ImageNet weights")
    p.add_argument(
        "--label-table",
        default=None,
        help="label names/colours (ITK-SNAP or Slicer colour table); values must fit",
    )
    p.add_argument("--out", required=True, help="output folder")

    p = sub.add_parser("evaluate", help="score a segmentation against a reference (JSON)")
    p.add_argument("--prediction", required=True)
    p.add_argument("--reference", required=True)
    p.add_argument("--exclude-slices", default=None, help="slices left out of the score")
    p.add_argument("--axis", default="z", choices=("z", "y", "x"))

    p = sub.add_parser("export", help="export a checkpoint to ONNX")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True)

    p = sub.add_parser("predict", help="segment a volume with an exported ONNX model")
    p.add_argument("--model", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--uncertainty", default=None)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument(
        "--force", action="store_true", help="run even on a grid very different from training"
    )

    p = sub.add_parser("convert", help="convert an image or label volume between formats")
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--labels", action="store_true", help="treat the input as a label map")
    p.add_argument("--series", default=None, help="SeriesInstanceUID when IN holds several")
    p.add_argument("--component", type=int, default=None, help="component of an RGB/vector image")
    p.add_argument("--time-point", type=int, default=None, help="time point of a 4-D image")
    p.add_argument("--flatten", action="store_true", help="merge overlapping .seg.nrrd layers")
    p.add_argument(
        "--reference", default=None, help="source DICOM folder (for OUT .dcm, DICOM-SEG)"
    )

    p = sub.add_parser("benchmark", help="run a benchmark: print a table, write NAME.json")
    p.add_argument("name")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--budget", default="quick", choices=("quick", "full"))
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help="trainings run side by side, one torch thread each (sparse-slices, guided)",
    )
    p.add_argument(
        "--volumes",
        nargs="+",
        default=None,
        help="sparse-slices: the volumes to run (chest brain brain1mm; default all)",
    )
    add_dataset_parsers(sub)
    return parser


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    """The subcommand's function; the benchmarks (``ugpcl_benchmarks``) are loaded by name."""
    module_name, func = HANDLERS[args.command].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        missing = missing_benchmark_message(err, getattr(args, "name", ""))
        if args.command != "benchmark" or missing is None:
            raise
        raise InputError(missing) from None
    return getattr(module, func)  # type: ignore[no-any-return]


def _check_folder_output(args: argparse.Namespace) -> None:
    option = FOLDER_OUTPUTS.get(args.command)
    if option is not None:
        from ugpcl_engine.io.output_paths import check_folder_writable

        check_folder_writable(f"--{option}", Path(getattr(args, option)))


def _run(args: argparse.Namespace) -> int:
    """Run the handler; Python warnings wait until it succeeds (an error comes alone)."""
    with warnings.catch_warnings(record=True) as caught:
        _check_folder_output(args)
        code = _handler(args)(args)
    for w in caught:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand.

    Args:
        argv: arguments without the program name (``sys.argv[1:]`` when ``None``).

    Returns:
        0 on success, 1 when the work failed (training diverged, parity, a disk error), 2 on
        bad input, 130 when interrupted. Argument errors exit with 2 (``SystemExit``).
    """
    args = build_parser().parse_args(argv)
    prefix = f"ugpcl-studio {args.command}"
    try:
        return _run(args)
    except InputError as err:
        print(f"{prefix}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a disk or permission failure no check could foresee
        where = f" ({err.filename})" if err.filename else ""
        reason = err.strerror or str(err) or type(err).__name__
        print(f"{prefix}: failed: {reason}{where}; check the disk and try again.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
