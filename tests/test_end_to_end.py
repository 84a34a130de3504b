"""The patched ffmpeg runs ONNX models on real frames; outputs match numpy within 1 code value."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import onnx_models
import pytest
from ffmpeg_run import RAW, filter_raw, frame_times, raw_to_rgb, raw_to_yuv, rgb_to_raw, run, yuv_to_raw

RNG = np.random.default_rng(20261125)
MIX = np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [-0.1, 0.2, 0.9]])
BIAS = np.array([0.02, -0.03, 0.05])


def random_rgb(depth: int, frames: int, width: int, height: int) -> np.ndarray:
    return RNG.integers(0, 1 << depth, size=(frames, 3, height, width))


def expected_rgb(codes: np.ndarray, depth: int, scale: int, mean=(0, 0, 0), std=(1, 1, 1)) -> np.ndarray:
    """The numpy reference: normalise, mix, denormalise, round, clamp."""
    top = (1 << depth) - 1
    mean = np.asarray(mean, float)[:, None, None]
    std = np.asarray(std, float)[:, None, None]
    out = []
    for frame in codes:
        x = (frame / top - mean) / std
        y = onnx_models.colour_mix_reference(x, MIX, BIAS, scale)
        out.append(np.clip(np.rint((y * std + mean) * top), 0, top))
    return np.stack(out).astype(np.int64)


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    worst = np.abs(actual - expected).max()
    assert worst <= 1, f"largest difference {worst} code values"


@pytest.mark.parametrize("pix_fmt", ["rgb24", "gbrp", "gbrp10le", "gbrp12le", "gbrp16le"])
@pytest.mark.parametrize("scale", [1, 2])
def test_rgb_formats_match_numpy(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, pix_fmt: str, scale: int) -> None:
    fmt = RAW[pix_fmt]
    model = onnx_models.colour_mix(tmp_path / "mix.onnx", MIX, BIAS, scale)
    width, height = 34, 22
    codes = random_rgb(fmt.depth, 4, width, height)
    data, _ = filter_raw(
        ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, codes), (width, height), f"nnvisr=model={model}:scale_factor={scale}"
    )
    actual = raw_to_rgb(fmt, data, width * scale, height * scale)
    assert_close(actual, expected_rgb(codes, fmt.depth, scale))


@pytest.mark.parametrize("norm", ["", ":norm_mean=0.485|0.456|0.406:norm_std=0.229|0.224|0.225",
                                  ":norm_mean=120|110|100:norm_std=60|61|62:raw_norm=1"])
def test_packed_and_planar_rgb_identical(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, norm: str) -> None:
    """rgb24 frames are read by the C loop (nnvisr_core/kernels), gbrp frames by numpy: bit-identical outputs,
    odd widths and the normalisations included."""
    model = onnx_models.colour_mix(tmp_path / "mix.onnx", MIX, BIAS, 2)
    codes = random_rgb(8, 3, 37, 19)
    outputs = []
    for name in ("rgb24", "gbrp"):
        fmt = RAW[name]
        data, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, codes), (37, 19), f"nnvisr=model={model}{norm}")
        outputs.append(raw_to_rgb(fmt, data, 74, 38))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_normalisation_options(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    fmt = RAW["rgb24"]
    model = onnx_models.colour_mix(tmp_path / "mix.onnx", MIX, BIAS)
    codes = random_rgb(8, 3, 20, 12)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    vf = f"nnvisr=model={model}:norm_mean=0.485|0.456|0.406:norm_std=0.229|0.224|0.225"
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, codes), (20, 12), vf)
    assert_close(raw_to_rgb(fmt, data, 20, 12), expected_rgb(codes, 8, 1, mean, std))


def test_manifest_supplies_defaults(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """nnvisr.json holds option defaults; the command line overrides them."""
    package = tmp_path / "pkg"
    onnx_models.colour_mix(package / "net.onnx", MIX, BIAS, 2)
    (package / "nnvisr.json").write_text('{"onnx": "net.onnx", "scale_factor": 2, "batch_size_fusion": 2}')
    fmt = RAW["rgb24"]
    codes = random_rgb(8, 5, 16, 10)
    data, log = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, codes), (16, 10), f"nnvisr=model={package}")
    assert_close(raw_to_rgb(fmt, data, 32, 20), expected_rgb(codes, 8, 2))
    result = run(ffmpeg, ["-f", "lavfi", "-i", "testsrc2=s=16x10:d=0.2", "-vf",
                          f"nnvisr=model={package}:scale_factor=3", "-f", "null", "-"])
    assert result.returncode != 0
    assert "scale_factor=3 scale_factor_h=3 expect 48x30" in result.stderr


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_batches_give_identical_frames(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, batch: int) -> None:
    fmt = RAW["rgb24"]
    model = onnx_models.colour_mix(tmp_path / "mix.onnx", MIX, BIAS, 2)
    codes = random_rgb(8, 7, 18, 14)
    data, _ = filter_raw(
        ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, codes), (18, 14), f"nnvisr=model={model}:batch_size_fusion={batch}"
    )
    actual = raw_to_rgb(fmt, data, 36, 28)
    assert len(actual) == 7
    assert_close(actual, expected_rgb(codes, 8, 2))


def test_negative_linesize_from_vflip(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """vflip hands frames over bottom-up (negative linesize)."""
    fmt = RAW["gbrp"]
    model = onnx_models.colour_mix(tmp_path / "mix.onnx", MIX, BIAS)
    codes = random_rgb(8, 2, 24, 16)
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, codes), (24, 16), f"vflip,nnvisr=model={model}")
    assert_close(raw_to_rgb(fmt, data, 24, 16), expected_rgb(codes[:, :, ::-1, :], 8, 1))


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le", "yuv420p12le", "yuv420p16le"])
@pytest.mark.parametrize("full_range", [False, True])
def test_yuv420_models(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, pix_fmt: str, full_range: bool) -> None:
    fmt = RAW[pix_fmt]
    width, height, scale = 30, 18, 2
    model = onnx_models.yuv_affine(tmp_path / "yuv.onnx", 0.9, 0.05, 0.8, scale)
    top = (1 << fmt.depth) - 1
    frames = [
        (
            RNG.integers(0, top + 1, (height, width)),
            RNG.integers(0, top + 1, (height // 2, width // 2)),
            RNG.integers(0, top + 1, (height // 2, width // 2)),
        )
        for _ in range(3)
    ]
    step = 1 << (fmt.depth - 8)
    if full_range:
        black, span, zero, cspan = 0, top, 1 << (fmt.depth - 1), top
        luma_range = chroma_range = (0, top)
    else:
        black, span, zero, cspan = 16 * step, 219 * step, 128 * step, 224 * step
        luma_range, chroma_range = (16 * step, 235 * step), (16 * step, 240 * step)  # legal range
    vf = f"setparams=range={'pc' if full_range else 'tv'},nnvisr=model={model}"
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, yuv_to_raw(fmt, frames), (width, height), vf)
    actual = raw_to_yuv(fmt, data, width * scale, height * scale)
    assert len(actual) == len(frames)
    for (y, u, v), (ay, au, av) in zip(frames, actual):
        up = lambda p: p.repeat(scale, 0).repeat(scale, 1)  # noqa: E731
        ey = np.clip(np.rint(((up(y) - black) / span * 0.9 + 0.05) * span + black), *luma_range)
        assert_close(ay, ey)
        for plane, got in ((u, au), (v, av)):
            ec = np.clip(np.rint((up(plane) - zero) / cspan * 0.8 * cspan + zero), *chroma_range)
            assert_close(got, ec)


def test_timestamps_pass_through_vfr(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Irregular input timestamps come out unchanged, one output frame per input frame."""
    model = onnx_models.colour_mix(tmp_path / "mix.onnx", MIX, BIAS)
    source = ["-f", "lavfi", "-i", "testsrc2=s=32x24:r=10:d=1.2,format=gbrp,settb=1/1000,setpts='N*N*7+3*N'"]
    common = ["-fps_mode", "passthrough", "-enc_time_base", "filter", "-c:v", "rawvideo"]
    before = frame_times(ffmpeg, [*source, *common])
    after = frame_times(ffmpeg, [*source, "-vf", f"nnvisr=model={model}", *common])
    assert len(before) == 12
    assert after == before
    assert len({b - a for (a, _), (b, _) in zip(before, before[1:])}) > 1, "the input must be VFR"


def test_frame_properties_carried(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Metadata and colour properties of the input frame reach the output frame."""
    model = onnx_models.colour_mix(tmp_path / "mix.onnx", MIX, BIAS, 2)
    result = run(ffmpeg, [
        "-f", "lavfi", "-i", "testsrc2=s=32x24:r=5:d=0.6,format=gbrp,setparams=color_primaries=bt709",
        "-vf", f"metadata=add:key=nnvisr.test:value=kept,nnvisr=model={model},metadata=mode=print,showinfo",
        "-f", "null", "-",
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    infos = [line for line in result.stderr.splitlines() if "Parsed_showinfo" in line and " n:" in line]
    assert len(infos) == 3
    assert all("s:64x48" in line for line in infos)
    assert result.stderr.count("nnvisr.test=kept") == 3
    assert "primaries:bt709" in result.stderr


def test_help_documents_every_option(ffmpeg: pathlib.Path) -> None:
    result = run(ffmpeg, ["-h", "filter=nnvisr"])
    assert result.returncode == 0
    for name in (
        "scale_factor", "scale_factor_h", "input_count", "feature_count", "extraction_layers", "interpolation",
        "extra_frame", "double_frame", "batch_size_fusion", "batch_size_extract", "use_fp16", "low_mem",
        "norm_mean", "norm_std", "raw_norm", "model", "model_path", "engine_path", "backend", "device", "threads",
    ):
        assert re.search(rf"^\s+{name}\s+<\w+>.*\S", result.stdout, re.M), f"{name} undocumented"


def test_interpreter_uses_the_venv_whatever_python_is_on_path(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """With the system's python3 first on PATH, the filter still finds numpy and onnxruntime."""
    import os

    env = {**os.environ, "PATH": f"/usr/bin:/bin:{os.environ.get('PATH', '')}"}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    result = run(ffmpeg, ["-f", "lavfi", "-i", "testsrc2=s=16x16:d=0.12", "-vf", "nnvisr", "-f", "null", "-"], env=env)
    assert result.returncode == 0, result.stderr[-3000:]


def test_float_rgb(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """gbrpf32 goes through unrounded and unclamped."""
    model = onnx_models.colour_mix(tmp_path / "mix.onnx", MIX, BIAS, 2)
    source = RNG.random((3, 3, 10, 14), np.float32) * 1.2 - 0.1
    data, _ = filter_raw_float(ffmpeg, tmp_path, source, f"nnvisr=model={model}")
    actual = np.frombuffer(data, np.float32).reshape(3, 3, 20, 28)[:, [2, 0, 1]]
    expected = np.stack([onnx_models.colour_mix_reference(f.astype(np.float64), MIX, BIAS, 2) for f in source])
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def filter_raw_float(ffmpeg: pathlib.Path, tmp: pathlib.Path, frames: np.ndarray, vf: str):
    source = tmp / "in.raw"
    source.write_bytes(frames[:, [1, 2, 0]].astype("<f4").tobytes())
    target = tmp / "out.raw"
    height, width = frames.shape[2:]
    result = run(ffmpeg, [
        "-f", "rawvideo", "-pix_fmt", "gbrpf32le", "-s", f"{width}x{height}", "-i", str(source),
        "-vf", vf, "-f", "rawvideo", "-pix_fmt", "gbrpf32le", str(target),
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    return target.read_bytes(), result.stderr


@pytest.mark.parametrize("pix_fmt", ["gbrp", "yuv420p"])
def test_alignment_pads_and_crops(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, pix_fmt: str) -> None:
    """A network that needs sizes divisible by 4 runs on a 30x18 clip with alignment=4."""
    model = onnx_models.needs_multiple_of_4(tmp_path / "m4.onnx", yuv=pix_fmt == "yuv420p")
    fmt = RAW[pix_fmt]
    width, height = 30, 18
    if fmt.yuv420:
        chroma = (height // 2, width // 2)
        luma = RNG.integers(16, 236, (height, width))
        frames = [(luma, RNG.integers(16, 241, chroma), RNG.integers(16, 241, chroma))]
        data_in = yuv_to_raw(fmt, frames)
    else:
        codes = random_rgb(8, 2, width, height)
        data_in = rgb_to_raw(fmt, codes)
    (tmp_path / "first.raw").write_bytes(data_in)
    failing = run(ffmpeg, ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{width}x{height}", "-i",
                           str(tmp_path / "first.raw"), "-vf", f"nnvisr=model={model}", "-f", "null", "-"])
    assert failing.returncode != 0
    assert "the model failed to run" in failing.stderr
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, data_in, (width, height), f"nnvisr=model={model}:alignment=4")
    if fmt.yuv420:
        (y, u, v), = raw_to_yuv(fmt, data, width, height)
        assert_close(y, frames[0][0])
        assert_close(u, frames[0][1])
        assert_close(v, frames[0][2])
    else:
        assert_close(raw_to_rgb(fmt, data, width, height), codes)


@pytest.mark.parametrize("full_range", [False, True])
def test_10bit_yuv_identity_is_bit_exact(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, full_range: bool) -> None:
    fmt = RAW["yuv420p10le"]
    model = onnx_models.yuv_affine(tmp_path / "identity.onnx", 1.0, 0.0, 1.0)
    width, height = 26, 14
    low, high, chroma_high = (0, 1023, 1023) if full_range else (64, 940, 960)
    frames = [
        (
            RNG.integers(low, high + 1, (height, width)),
            RNG.integers(low, chroma_high + 1, (height // 2, width // 2)),
            RNG.integers(low, chroma_high + 1, (height // 2, width // 2)),
        )
        for _ in range(4)
    ]
    vf = f"setparams=range={'pc' if full_range else 'tv'},nnvisr=model={model}"
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, yuv_to_raw(fmt, frames), (width, height), vf)
    for planes, got in zip(frames, raw_to_yuv(fmt, data, width, height)):
        for a, b in zip(planes, got):
            np.testing.assert_array_equal(a, b)
