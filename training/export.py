"""ONNX export of trained networks as nnvisr model packages (upstream's two-stage layout plus nnvisr.json)."""

from __future__ import annotations

import inspect
import json
import pathlib
import warnings

import torch
from deform import ONNX_TRANSLATION, DeformConv
from torch import nn

OPSET = 19  # DeformConv


def export(module: nn.Module, inputs: tuple[torch.Tensor, ...], input_names: list[str], output_names: list[str],
           path: pathlib.Path) -> None:
    dims = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
    shapes: tuple = tuple([dims] * len(inputs))
    if any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(module.forward).parameters.values()):
        shapes = (shapes,)  # forward(*features)
    DeformConv.exporting = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module.eval(), inputs, dynamo=True, opset_version=OPSET, input_names=input_names,
                output_names=output_names, dynamic_shapes=shapes,
                custom_translation_table=ONNX_TRANSLATION, verbose=False,
            )
    finally:
        DeformConv.exporting = False
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path), external_data=False)


def write_package(folder: pathlib.Path, stem: str, extract: nn.Module, fusion: nn.Module, channels: int,
                  levels: int, members: list[int], outputs: list[int], manifest: dict, height: int = 36,
                  width: int = 64) -> None:
    """folder/rgb_1_1/fe_{stem}.onnx + ff_{stem}.onnx and folder/nnvisr.json."""
    rgb = torch.rand(2, 3, height, width)
    with torch.no_grad():
        # one distinct tensor per fusion input: torch.export would merge inputs given the same tensor
        per_member = {m: extract(torch.rand(2, 3, height, width)) for m in members}
    colour = folder / "rgb_1_1"
    export(extract, (rgb,), ["rgb"], [f"l{i}" for i in range(levels)], colour / f"fe_{stem}.onnx")
    feeds, names = [], []
    for m in members:
        for i in range(levels):
            feeds.append(per_member[m][i])
            names.append(f"f{m}l{i}")
    export(fusion, tuple(feeds), names, [f"h{k}" for k in outputs], colour / f"ff_{stem}.onnx")
    (folder / "nnvisr.json").write_text(json.dumps(manifest, indent=2) + "\n")
