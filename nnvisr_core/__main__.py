"""Command line helpers: python -m nnvisr_core {inspect,build-engine,models,run,bridge-path,version}."""

from __future__ import annotations

import argparse
import pathlib
import sys

from . import __version__

BRIDGE = pathlib.Path(__file__).resolve().parent / "libnnvisr_bridge.so"


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["run"]:  # nnvisr-run's own arguments (ffmpeg's encoder options among them)
        from .scale_out.cli import main as run_main

        return run_main(arguments[1:])
    parser = argparse.ArgumentParser(prog="python -m nnvisr_core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser(
        "inspect", help="print what the filter will do with a model and check it with dry runs"
    )
    inspect.add_argument("model", nargs="?", help="model package, .onnx file, or folder name under model_path")
    inspect.add_argument("settings", nargs="*", help="filter options as name=value (model_path=..., input_count=...)")
    inspect.add_argument("--size", default="64x48", help="frame size of the dry run (default 64x48)")
    build = commands.add_parser(
        "build-engine", help="build and cache the TensorRT engines of a model for a frame size (needs a GPU)"
    )
    build.add_argument("model", nargs="?", help="model package, .onnx file, or folder name under model_path")
    build.add_argument("settings", nargs="*", help="filter options as name=value (batch_size_fusion=, use_fp16=1, ...)")
    build.add_argument("--size", required=True, help="frame size the engines are optimised for, WIDTHxHEIGHT")
    models = commands.add_parser("models", help="list the installed model packages with scale, task and source")
    models.add_argument("--dir", type=pathlib.Path, action="append", default=[],
                        help="also list the packages in this folder")
    commands.add_parser("run", help="nnvisr-run: a video in scene chunks on Ray (python -m nnvisr_core run -h)")
    commands.add_parser("bridge-path", help="print the path of the bridge library the filter loads")
    commands.add_parser("version", help="print the package version")
    args = parser.parse_args(arguments)
    if args.command in ("inspect", "build-engine"):
        from .inspect import main as inspect_main

        model = args.model
        settings = list(args.settings)
        if model and "=" in model:
            settings.insert(0, model)
            model = None
        if args.command == "build-engine":
            # the dry runs at this size build the engines into engine_path
            settings.append("backend=tensorrt")
        return inspect_main(model, settings, args.size)
    if args.command == "models":
        from .catalogue import table

        print(table(args.dir))
        return 0
    if args.command == "bridge-path":
        if not BRIDGE.is_file():
            print(f"nnvisr_core: no bridge library at {BRIDGE}: install the package with pip", file=sys.stderr)
            return 1
        print(BRIDGE)
    else:
        print(__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
