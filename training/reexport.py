"""Write a package's networks again from its own weights, with the graphs nets.py builds now.

    python training/reexport.py nnvisr_core/models/interpolate

For changes to how a network is spelled, not to what it computes (an ONNX operator that runs faster, the same
arithmetic): every colour folder of the package is rebuilt from the weights in its ONNX files (a package is its
own checkpoint: export.load_package_weights), with the options its training.json records, and the new graph is
checked against the old one on a random window before it replaces it. nnvisr.json and the training facts are
left as they are: the weights, and so the training that made them, do not change.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import tempfile

import numpy as np
import onnxruntime
from export import Layout, load_package_weights, package_layout, write_package, write_yuv_folder
from train import build_networks, yuv_networks

TOLERANCE = 1e-4  # of a 0..1 output; one 8-bit code is 4e-3


def outputs_of(folder: pathlib.Path, colour: str, layout: Layout, seed: int = 0) -> list[np.ndarray]:
    """The package's networks run by ONNX Runtime on a random window of 3 frames at 72x128 (fusion on the
    extracted features, as the filter feeds them)."""
    rng = np.random.default_rng(seed)
    (extract_path,) = sorted((folder / colour).glob("fe_*.onnx"))
    (fusion_path,) = sorted((folder / colour).glob("ff_*.onnx"))
    extract = onnxruntime.InferenceSession(str(extract_path), providers=["CPUExecutionProvider"])
    fusion = onnxruntime.InferenceSession(str(fusion_path), providers=["CPUExecutionProvider"])
    features = {}
    for member in layout.members:
        if colour.startswith("yuv"):
            frame = {"y": rng.random((1, 1, 72, 128), np.float32), "uv": rng.random((1, 2, 36, 64), np.float32)}
        else:
            frame = {"rgb": rng.random((1, 3, 72, 128), np.float32)}
        for level, feature in enumerate(extract.run(None, frame)):
            features[f"f{member}l{level}"] = feature
    return fusion.run(None, features)


def reexport(package: pathlib.Path) -> None:
    command = json.loads((package / "training.json").read_text())["command"]
    layout = package_layout(command["task"], command["frames"], command["levels"])
    with tempfile.TemporaryDirectory() as work:
        staged = pathlib.Path(work)
        for colour in ("rgb_1_1", "yuv_1_1_1"):
            if not (package / colour).is_dir():
                continue
            extract, fusion = build_networks(command)
            if colour == "yuv_1_1_1":
                extract, fusion = yuv_networks(command["task"], extract, fusion)
                load_package_weights(package, extract, fusion, colour)
                write_yuv_folder(staged, extract, fusion, layout)
            else:
                load_package_weights(package, extract, fusion, colour)
                write_package(staged, extract, fusion, layout, manifest=None)
            for old, new in zip(outputs_of(package, colour, layout), outputs_of(staged, colour, layout), strict=True):
                difference = float(np.abs(old - new).max())
                if difference > TOLERANCE:
                    raise SystemExit(f"{colour}: the new graph differs from the old by {difference:.2e}: "
                                     "not the same network")
            print(f"{colour}: same outputs within {TOLERANCE:g}", flush=True)
        for colour in ("rgb_1_1", "yuv_1_1_1"):
            for path in sorted((staged / colour).glob("*.onnx")):
                shutil.copyfile(path, package / colour / path.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package", type=pathlib.Path)
    reexport(parser.parse_args().package)


if __name__ == "__main__":
    main()
