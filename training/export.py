"""ONNX export of trained networks as nnvisr model packages (upstream's two-stage layout plus nnvisr.json)."""

from __future__ import annotations

import inspect
import json
import pathlib
import warnings
from dataclasses import dataclass

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
                module.eval(), inputs, dynamo=True, opset_version=OPSET, dynamic_shapes=shapes,
                custom_translation_table=ONNX_TRANSLATION, verbose=False, optimize=False,
            )
    finally:
        DeformConv.exporting = False
    optimize_keeping_parameters(program, {name for name, _ in module.named_parameters()})
    # named after optimizing, as torch.onnx.export does: the optimizer keeps an output that passes an input
    # through (an Identity) only while the two have different names
    for value, name in zip(program.model.graph.inputs, input_names, strict=True):
        value.name = name
    for value, name in zip(program.model.graph.outputs, output_names, strict=True):
        value.name = name
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path), external_data=False)


def optimize_keeping_parameters(program: torch.onnx.ONNXProgram, parameters: set[str]) -> None:
    """The exporter's optimization (constant folding, dead code), except that no parameter is folded into
    another constant: a package is its own checkpoint (load_package_weights), so every parameter stays an
    initializer under its own name. The folder skips nodes fed by a graph input, so the parameters are graph
    inputs while it runs; ONNX Runtime folds what is left when it loads the file."""
    graph = program.model.graph
    kept = [value for name, value in graph.initializers.items() if name in parameters]
    graph.inputs.extend(kept)
    program.optimize()
    for value in kept:
        graph.inputs.remove(value)


@dataclass(frozen=True)
class Layout:
    """How a package's networks are cut: upstream's file stem, the feature levels, the window members fusion
    takes and the output frames it returns (h{k})."""

    stem: str
    levels: int
    members: list[int]
    outputs: list[int]


def package_layout(task: str, frames: int, levels: int) -> Layout:
    if task == "vsr":
        return Layout(f"n{frames}_2x2_l2", 2, list(range(frames)), list(range(1, frames + 1)))
    return Layout(f"n2_1x1_l{levels}", levels, [0, 2], [1])


def write_package(folder: pathlib.Path, extract: nn.Module, fusion: nn.Module, layout: Layout,
                  manifest: dict | None, height: int = 36, width: int = 64) -> None:
    """folder/rgb_1_1/fe_{stem}.onnx + ff_{stem}.onnx, and folder/nnvisr.json unless manifest is None."""
    rgb = torch.rand(2, 3, height, width)
    with torch.no_grad():
        # one distinct tensor per fusion input: torch.export would merge inputs given the same tensor
        per_member = {m: extract(torch.rand(2, 3, height, width)) for m in layout.members}
    colour = folder / "rgb_1_1"
    export(extract, (rgb,), ["rgb"], [f"l{i}" for i in range(layout.levels)], colour / f"fe_{layout.stem}.onnx")
    feeds, names = fusion_feeds(per_member, layout)
    export(fusion, feeds, names, [f"h{k}" for k in layout.outputs], colour / f"ff_{layout.stem}.onnx")
    if manifest is not None:
        (folder / "nnvisr.json").write_text(json.dumps(manifest, indent=2) + "\n")


def fusion_feeds(per_member: dict[int, tuple[torch.Tensor, ...]], layout: Layout) -> tuple[tuple, list[str]]:
    feeds, names = [], []
    for m in layout.members:
        for i in range(layout.levels):
            feeds.append(per_member[m][i])
            names.append(f"f{m}l{i}")
    return tuple(feeds), names


def load_package_weights(folder: pathlib.Path, extract: nn.Module, fusion: nn.Module, colour: str = "rgb_1_1") -> None:
    """Weights from a package's networks in one colour folder: the exporter names ONNX initializers after the
    parameters, so a package is its own checkpoint."""
    import onnx
    from onnx import numpy_helper

    for module, prefix in ((extract, "fe_"), (fusion, "ff_")):
        (path,) = sorted((folder / colour).glob(f"{prefix}*.onnx"))
        weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(path).graph.initializer}
        state = module.state_dict()
        missing = [name for name in state if name not in weights]
        if missing:
            raise SystemExit(f"{path} lacks {', '.join(missing)}: not the network these options build")
        module.load_state_dict({name: weights[name] for name in state})


def write_yuv_folder(folder: pathlib.Path, extract: nn.Module, fusion: nn.Module, layout: Layout, height: int = 36,
                     width: int = 64) -> None:
    """folder/yuv_1_1_1/fe_{stem}_yuv1-1.onnx + ff_ twin: upstream's YUV interface (y, uv in; h{k}_y, h{k}_uv out)."""
    def frame() -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(2, 1, height, width), torch.rand(2, 2, height // 2, width // 2)

    with torch.no_grad():
        per_member = {m: extract(*frame()) for m in layout.members}
    colour = folder / "yuv_1_1_1"
    export(extract, frame(), ["y", "uv"], [f"l{i}" for i in range(layout.levels)],
           colour / f"fe_{layout.stem}_yuv1-1.onnx")
    feeds, names = fusion_feeds(per_member, layout)
    output_names = [name for k in layout.outputs for name in (f"h{k}_y", f"h{k}_uv")]
    export(fusion, feeds, names, output_names, colour / f"ff_{layout.stem}_yuv1-1.onnx")
