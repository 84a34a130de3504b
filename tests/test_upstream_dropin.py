"""Upstream NNVISR's published two-stage configurations drop in unchanged (issue 12).

Model folders with exactly upstream's tensor interface (upstream_models: opset 13, custom::DeformConv2d
with and without a fused LeakyReLU) run through the patched ffmpeg with upstream's published options,
written verbatim on the command line or in nnvisr.json beside the colour folders, for every fusion
batch size from 1 to 3, on clips whose scene cuts scdet finds. Expected frames and timestamps come
from upstream_reference (upstream's window rule, its normalisation, interpolation timestamps) and the
networks' numpy reference: never from nnvisr_core.

Error phrases assumed (each in exactly one line of ffmpeg's stderr, exit status > 0):
- a DeformConv2d node with activation_type=42: a line holding "activation" (any case) and the number 42
- input_count=1 with extra_frame=1: a line holding "input_count" and "extra_frame"
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import signal

import clips
import numpy as np
import pytest
import upstream_models as um
import upstream_reference as ur
from ffmpeg_run import RAW, filter_raw, frame_times, raw_to_rgb, raw_to_yuv, rgb_to_raw, run, yuv_to_raw

RGB_SIZE = (16, 10)  # levels 16x10, 8x5, 4x3: the ceil rule matters
YUV_SIZE = (20, 12)  # levels 20x12, 10x6, 5x3, 3x2
SCENES = [5, 1, 4, 7, 2]  # a one-frame scene, scenes of n + 1 frames, short last groups
BASES = [40, 210, 120, 200, 60, 150]  # scene levels far enough apart for scdet, the one-frame scene included

# upstream's published configurations (docs/models.md): every one interpolation, extra_frame, double_frame
CONFIGS = {
    # Zooming Slow-Mo / TMNet, 2 frames: the published feature_count
    "zsm_tmnet_2frame": um.Upstream(2, scale=4, levels=3, features=64, deformable_groups=8),
    # Zooming Slow-Mo / TMNet, 4 frames
    "zsm_tmnet_4frame": um.Upstream(4, scale=4, levels=3, features=8, seed=1),
    # YOGO, 2 frames, one level, no fused activation
    "yogo_2frame": um.Upstream(2, scale=4, levels=1, features=8, activations=(-1,), seed=2),
    # YOGO, 4 frames, one level, the published feature_count, the fused activation alone
    "yogo_4frame": um.Upstream(4, scale=4, levels=1, features=64, activations=(um.LEAKY_RELU,),
                               deformable_groups=8, seed=3),
}
CYCMUNET = um.Upstream(2, scale=2, levels=4, features=64, yuv=True, deformable_groups=8, seed=4)
CYCMUNET_MODEL = "cycmunet/vimeo90k-deblur"

# frame colour tags: (setparams options, colour folder, matrix, full range)
COLOURS = {
    "bt709_limited": ("range=tv:colorspace=bt709", "yuv_1_1_1", "bt709", False),
    "bt709_full": ("range=pc:colorspace=bt709", "yuv_1_1_1", "bt709", True),
    "bt601_limited": ("range=tv:color_primaries=smpte170m:color_trc=smpte170m:colorspace=smpte170m",
                      "yuv_6_1_6", "smpte170m", False),
}


# ---------------------------------------------------------------- clips


def _texture(shape: tuple[int, ...], amplitude: int, seed: int) -> np.ndarray:
    """A fixed texture, the same in every frame, so scdet's frame differences stay those of the levels."""
    return np.random.default_rng(seed).integers(-amplitude, amplitude + 1, shape)


def rgb_clip(width: int, height: int) -> tuple[list[list[np.ndarray]], set[int]]:
    """Frames as [R, G, B] code planes; levels creep by 3 within a scene and jump between scenes."""
    texture = _texture((3, height, width), 20, 5)
    frames, cuts, start = [], set(), 0
    for index, length in enumerate(SCENES):
        if index:
            cuts.add(start)
        for i in range(length):
            level = BASES[index % len(BASES)] + 3 * i
            means = np.array([level, 0.8 * level + 25, 250 - level])[:, None, None]
            frames.append(list(np.clip(np.rint(means + texture), 0, 255).astype(np.int64)))
        start += length
    return frames, cuts


def yuv_clip(width: int, height: int) -> tuple[list[list[np.ndarray]], set[int]]:
    """Frames as [Y, U, V] code planes (4:2:0), inside the limited range so they serve both ranges."""
    cw, ch = (width + 1) // 2, (height + 1) // 2
    texture_y = _texture((height, width), 15, 6)
    texture_uv = _texture((2, ch, cw), 12, 7)
    frames, cuts, start = [], set(), 0
    for index, length in enumerate(SCENES):
        if index:
            cuts.add(start)
        for i in range(length):
            level = BASES[index % len(BASES)] + 3 * i
            y = np.clip(level + texture_y, 16, 235)
            u = np.clip(128 + 0.4 * (level - 128) + texture_uv[0], 16, 240)
            v = np.clip(128 - 0.3 * (level - 128) + texture_uv[1], 16, 240)
            frames.append([np.rint(p).astype(np.int64) for p in (y, u, v)])
        start += length
    return frames, cuts


# ---------------------------------------------------------------- reference


def expected_frames(cfg: um.Upstream, frames: list[list[np.ndarray]], cuts: set[int],
                    planes: list[ur.PlaneScale]) -> list[tuple[list[np.ndarray], int, int]]:
    """(code planes, pts, duration) of every output frame, from upstream's rules and the numpy networks."""
    w = um.weights(cfg)
    count = len(frames)
    members: dict[int, np.ndarray] = {}

    def member(f: int) -> np.ndarray:
        if f not in members:
            normalised = [scale.to_model(plane) for scale, plane in zip(planes, frames[f])]
            l0 = um.extract_reference(cfg, w, um.frame_planes(cfg, normalised))[0]
            members[f] = um.member_reference(cfg, w, l0)
        return members[f]

    out = []
    for window in ur.stvsr_windows(list(range(count)), [1] * count, cuts, cfg.input_count):
        window_members = [member(f) for f in window.members]
        for o in window.outputs:
            result = um.fusion_reference(cfg, w, window_members, o.k)
            out.append(([scale.to_code(plane) for scale, plane in zip(planes, result)], o.pts, o.duration))
    assert len(out) == 2 * count
    return out


def worst_difference(a: list, b: list) -> float:
    return max(np.abs(pa - pb).max() for (fa, _, _), (fb, _, _) in zip(a, b) for pa, pb in zip(fa, fb))


def assert_frames(actual: list[list[np.ndarray]], expected: list) -> None:
    assert len(actual) == len(expected), f"{len(actual)} output frames, expected {len(expected)}"
    for index, (frame, (want, _, _)) in enumerate(zip(actual, expected)):
        for plane, (got, ref) in enumerate(zip(frame, want)):
            assert got.shape == ref.shape, f"output frame {index} plane {plane}: {got.shape} vs {ref.shape}"
            worst = np.abs(got - ref).max()
            assert worst <= 1, f"output frame {index} plane {plane}: off by {worst} code values"


# ---------------------------------------------------------------- running ffmpeg


def run_rgb(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, frames, vf: str, scale: int):
    fmt = RAW["gbrp"]
    width, height = RGB_SIZE
    data, log = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, np.array(frames)), RGB_SIZE, vf)
    actual = raw_to_rgb(fmt, data, width * scale, height * scale)
    return [list(frame) for frame in actual], log


def run_yuv(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, frames, vf: str, scale: int):
    fmt = RAW["yuv420p"]
    width, height = YUV_SIZE
    data, log = filter_raw(ffmpeg, tmp_path, fmt, yuv_to_raw(fmt, [tuple(f) for f in frames]), YUV_SIZE, vf)
    return [list(frame) for frame in raw_to_yuv(fmt, data, width * scale, height * scale)], log


def clip_times(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, pix_fmt: str, size: tuple[int, int], vf: str):
    """(pts, duration) of the output frames for tmp_path/in.raw, as the filter stamps them."""
    return frame_times(ffmpeg, [
        "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{size[0]}x{size[1]}", "-r", "25",
        "-i", str(tmp_path / "in.raw"),
        "-vf", vf, "-fps_mode", "passthrough", "-enc_time_base", "filter", "-c:v", "rawvideo",
    ])


def assert_clean_failure(result, *patterns: str) -> str:
    """One stderr line matches every regex; non-zero exit, no crash, no traceback. Returns that line."""
    assert result.returncode > 0, f"exit status {result.returncode}: crashed or succeeded\n{result.stderr[-2000:]}"
    assert result.returncode != 128 + signal.SIGSEGV
    lines = [line for line in result.stderr.splitlines() if all(re.search(p, line) for p in patterns)]
    assert len(lines) == 1, f"expected one line matching {patterns}:\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    return lines[0]


# ---------------------------------------------------------------- the networks against numpy (no ffmpeg)


@pytest.mark.parametrize("name", [*sorted(CONFIGS), "cycmunet_plus"])
def test_networks_have_upstreams_interface_and_match_numpy(tmp_path: pathlib.Path, name: str) -> None:
    """The upstream-form files carry upstream's names, opset and node form; their standard-DeformConv
    twins, run by ONNX Runtime, equal the numpy reference the ffmpeg tests compare with."""
    import onnx
    import onnxruntime as ort

    cfg = CYCMUNET if name == "cycmunet_plus" else CONFIGS[name]
    w = um.weights(cfg)
    fe_path = um.extract_model(tmp_path / "fe.onnx", cfg, w)
    ff_path = um.fusion_model(tmp_path / "ff.onnx", cfg, w)
    for path in (fe_path, ff_path):
        model = onnx.load(path)
        assert {(o.domain, o.version) for o in model.opset_import} <= {("", 13), ("custom", 1)}
    fe_model, ff_model = onnx.load(fe_path), onnx.load(ff_path)
    assert [i.name for i in fe_model.graph.input] == (["y", "uv"] if cfg.yuv else ["rgb"])
    assert [o.name for o in fe_model.graph.output] == [f"l{i}" for i in reversed(range(cfg.levels))]
    assert {i.name for i in ff_model.graph.input} == {
        f"f{2 * j}l{i}" for j in range(cfg.input_count) for i in range(cfg.levels)
    }
    suffixes = ["_y", "_uv"] if cfg.yuv else [""]
    assert [o.name for o in ff_model.graph.output] == [f"h{k}{s}" for k in range(cfg.outputs) for s in suffixes]
    deforms = [n for n in ff_model.graph.node if n.op_type == "DeformConv2d"]
    assert len(deforms) == cfg.input_count * len(cfg.activations)
    for node in deforms:
        assert node.domain == "custom"
        assert {a.name for a in node.attribute} == {
            "stride", "padding", "dilation", "deformable_groups", "activation_type", "alpha", "beta"
        }
        assert len(node.input) == 5
    assert {onnx.helper.get_attribute_value(a) for n in deforms for a in n.attribute
            if a.name == "activation_type"} == set(cfg.activations)

    fe = ort.InferenceSession(str(um.extract_model(tmp_path / "fe19.onnx", cfg, w, standard=True)))
    ff = ort.InferenceSession(str(um.fusion_model(tmp_path / "ff19.onnx", cfg, w, standard=True)))
    rng = np.random.default_rng(11)
    width, height = 13, 7  # odd: ceil levels, chroma edge
    feeds, members = {}, []
    for j in range(cfg.input_count):
        if cfg.yuv:
            planes = [rng.standard_normal((height, width)), *rng.standard_normal((2, 4, 7))]
            inputs = {"y": planes[0][None, None], "uv": np.stack(planes[1:])[None]}
        else:
            planes = list(rng.standard_normal((3, height, width)))
            inputs = {"rgb": np.stack(planes)[None]}
        got = dict(zip([o.name for o in fe.get_outputs()],
                       fe.run(None, {k: v.astype(np.float32) for k, v in inputs.items()})))
        levels = um.extract_reference(cfg, w, um.frame_planes(cfg, planes))
        for i, level in enumerate(levels):
            np.testing.assert_allclose(got[f"l{i}"][0], level, atol=1e-5)
            feeds[f"f{2 * j}l{i}"] = got[f"l{i}"]
        members.append(um.member_reference(cfg, w, levels[0]))
    names = [o.name for o in ff.get_outputs()]
    outputs = dict(zip(names, ff.run(None, feeds)))
    for k in range(cfg.outputs):
        ref = um.fusion_reference(cfg, w, members, k)
        if cfg.yuv:
            np.testing.assert_allclose(outputs[f"h{k}_y"][0, 0], ref[0], atol=1e-4)
            np.testing.assert_allclose(outputs[f"h{k}_uv"][0], np.stack(ref[1:]), atol=1e-4)
        else:
            np.testing.assert_allclose(outputs[f"h{k}"][0], np.stack(ref), atol=1e-4)
    # a level of another frame moves every output far
    if cfg.levels > 1:
        last = f"l{cfg.levels - 1}"
        mixed = dict(feeds, **{f"f0{last}": feeds[f"f2{last}"]})
        broken = dict(zip(names, ff.run(None, mixed)))
        for name_ in names:
            assert np.abs(broken[name_] - outputs[name_]).min() > 0.1, name_


def test_reference_windows_follow_upstreams_counting() -> None:
    """input_count frames per window, input_count - 1 consumed, the last shared; never across a cut."""
    windows = ur.stvsr_windows(list(range(17)), [1] * 17, {5, 6, 10}, 4)
    assert [w.members for w in windows] == [
        (0, 1, 2, 3), (2, 3, 4, 4),  # 5 frames: a full group, then a short one filled from the previous group
        (5, 5, 5, 5),  # a one-frame scene repeats its frame
        (6, 7, 8, 9), (7, 8, 9, 9),  # 4 frames
        (10, 11, 12, 13), (13, 14, 15, 16), (14, 15, 16, 16),  # 7 frames
    ]
    assert [[o.k for o in w.outputs] for w in windows][:3] == [[0, 1, 2, 3, 4, 5], [2, 3, 4, 5], [0, 1]]
    assert [(o.pts, o.duration) for w in windows for o in w.outputs] == [(t, 1) for t in range(34)]
    pairs = ur.stvsr_windows([0, 1, 2], [1, 1, 1], set(), 2)
    assert [w.members for w in pairs] == [(0, 1), (1, 2), (2, 2)]


def test_reference_normalisation_is_upstreams() -> None:
    """Spot values of upstream's arithmetic, worked by hand from vs-plugin.cpp."""
    y, u, v = ur.yuv_planes(matrix="bt709", full_range=False)
    kr, kb = 0.2126, 0.0722
    y_mean = 0.485 * kr + 0.456 * (1 - kr - kb) + 0.406 * kb
    assert y.mean == pytest.approx(y_mean)
    assert u.mean == pytest.approx((0.406 - y_mean) / (1 - kb) / 2 + 128 / 255)
    assert (y.span, y.floor, u.span, u.floor, u.high) == (219, 16, 224, 16, 240)
    assert u.std == pytest.approx(np.sqrt(0.225**2 + y.std**2) / (1 - kb) / 4)
    full = ur.yuv_planes(matrix="bt709", full_range=True)
    assert full[2].mean == pytest.approx((0.485 - y_mean) / (1 - kr) / 2 + 0.5)
    assert (full[0].span, full[0].floor) == (255, 0)
    for scale in (y, u, v, *ur.rgb_planes()):
        codes = np.arange(scale.low, scale.high + 1)
        np.testing.assert_array_equal(scale.to_code(scale.to_model(codes)), codes)
    assert ur.rgb_planes()[0].to_model(255) == pytest.approx((1 - 0.485) / 0.229)


# ---------------------------------------------------------------- RGB configurations through ffmpeg


def _rgb_case(ffmpeg, tmp_path, cfg: um.Upstream, vf_options: str, manifest: dict | None) -> None:
    root = tmp_path / "pkg"
    um.write_package(root, "upstream/release", cfg, ["rgb_1_1"], manifest=manifest)
    frames, cuts = rgb_clip(*RGB_SIZE)
    vf = f"scdet,nnvisr=model_path={root}:model=upstream/release:{vf_options}"
    actual, log = run_rgb(ffmpeg, tmp_path, frames, vf, cfg.scale)
    assert clips.found_cuts(log) == cuts, "scdet must find exactly the cuts built into the clip"
    planes = ur.rgb_planes()  # no norm options: upstream's defaults apply to its two-stage models
    expected = expected_frames(cfg, frames, cuts, planes)
    assert_frames(actual, expected)
    assert clip_times(ffmpeg, tmp_path, "gbrp", RGB_SIZE, vf) == [(p, d) for _, p, d in expected]
    # the comparison can fail: other normalisation, or activations dropped, give other frames
    assert worst_difference(expected, expected_frames(cfg, frames, cuts, ur.rgb_planes((0, 0, 0), (1, 1, 1)))) > 3
    if um.LEAKY_RELU in cfg.activations:
        assert worst_difference(expected, expected_frames(um.without_activations(cfg), frames, cuts, planes)) > 3


@pytest.mark.default_build  # every series runs the same configurations from nnvisr.json below
@pytest.mark.parametrize("batch", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_published_rgb_configuration(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, name: str, batch: int) -> None:
    cfg = CONFIGS[name]
    _rgb_case(ffmpeg, tmp_path, cfg, f"{cfg.options()}:batch_size_fusion={batch}", None)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_published_rgb_configuration_from_nnvisr_json(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, name: str) -> None:
    cfg = CONFIGS[name]
    _rgb_case(ffmpeg, tmp_path, cfg, "batch_size_fusion=2", cfg.manifest())


def test_batch_size_extract_is_a_multiple_of_the_consumed_frames(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """4-frame model, 2 windows a batch: extraction batches of 2 * 2 * 3 frames give the same frames."""
    cfg = CONFIGS["zsm_tmnet_4frame"]
    _rgb_case(ffmpeg, tmp_path, cfg, f"{cfg.options()}:batch_size_fusion=2:batch_size_extract=12", None)


# ---------------------------------------------------------------- CycMuNet+ (YUV 4:2:0) through ffmpeg


def _cycmunet_case(ffmpeg, tmp_path, colour: str, vf_options: str, manifest: dict | None) -> None:
    tags, folder, matrix, full_range = COLOURS[colour]
    cfg = CYCMUNET
    root = tmp_path / "pkg"
    um.write_package(root, CYCMUNET_MODEL, cfg, ["yuv_1_1_1", "yuv_6_1_6"], manifest=manifest)
    frames, cuts = yuv_clip(*YUV_SIZE)
    vf = f"setparams={tags},scdet,nnvisr=model_path={root}:model={CYCMUNET_MODEL}:{vf_options}"
    actual, log = run_yuv(ffmpeg, tmp_path, frames, vf, cfg.scale)
    assert clips.found_cuts(log) == cuts, "scdet must find exactly the cuts built into the clip"
    planes = ur.yuv_planes(ur.UPSTREAM_MEAN, ur.UPSTREAM_STD, matrix, full_range)
    expected = expected_frames(cfg, frames, cuts, planes)
    assert_frames(actual, expected)
    assert clip_times(ffmpeg, tmp_path, "yuv420p", YUV_SIZE, vf) == [(p, d) for _, p, d in expected]
    # the comparison can fail: plain levels, the other matrix, or activations dropped, give other frames
    assert worst_difference(expected, expected_frames(cfg, frames, cuts, ur.plain_yuv_planes(full_range))) > 3
    other = "smpte170m" if matrix == "bt709" else "bt709"
    other_planes = ur.yuv_planes(ur.UPSTREAM_MEAN, ur.UPSTREAM_STD, other, full_range)
    assert worst_difference(expected, expected_frames(cfg, frames, cuts, other_planes)) > 1
    assert worst_difference(expected, expected_frames(um.without_activations(cfg), frames, cuts, planes)) > 3


@pytest.mark.default_build  # every series runs the same colours from nnvisr.json below
@pytest.mark.parametrize("batch", [1, 2, 3])
@pytest.mark.parametrize("colour", sorted(COLOURS))
def test_published_cycmunet_plus(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, colour: str, batch: int) -> None:
    """CycMuNet+'s published options verbatim, norm_mean/norm_std with | separators."""
    _cycmunet_case(ffmpeg, tmp_path, colour, f"{CYCMUNET.options(norm=True)}:batch_size_fusion={batch}", None)


@pytest.mark.parametrize("colour", sorted(COLOURS))
def test_published_cycmunet_plus_from_nnvisr_json(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, colour: str) -> None:
    _cycmunet_case(ffmpeg, tmp_path, colour, "batch_size_fusion=2", CYCMUNET.manifest(norm=True))


# ---------------------------------------------------------------- fused activations


@dataclasses.dataclass(frozen=True)
class Fused:
    kind: int
    alpha: float = 0.0
    beta: float = 0.0


# TensorRT's ActivationType, each with parameters that make alpha and beta matter
ACTIVATIONS = {
    "relu": Fused(0), "sigmoid": Fused(1), "tanh": Fused(2), "leaky_relu": Fused(3, 0.1),
    "elu": Fused(4, 0.7), "selu": Fused(5, 1.6732632, 1.0507010), "softsign": Fused(6),
    "softplus": Fused(7, 0.8, 1.5), "clip": Fused(8, -0.5, 0.8), "hard_sigmoid": Fused(9, 0.2, 0.5),
    "scaled_tanh": Fused(10, 1.5, 0.7), "thresholded_relu": Fused(11, 0.3), "gelu_erf": Fused(12),
    "gelu_tanh": Fused(13),
}
NORM = "norm_mean=0.5|0.5|0.5:norm_std=0.25|0.25|0.25"


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_fused_activation_type(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, name: str) -> None:
    """A single-stage model of one custom::DeformConv2d with each activation_type TensorRT defines."""
    fused = ACTIVATIONS[name]
    deform = um.deform_weights(np.random.default_rng(21), 3, 1, fused.kind, fused.alpha, fused.beta)
    model = um.single_stage_deform_model(tmp_path / "dcn.onnx", deform)
    width, height = RGB_SIZE
    codes = np.random.default_rng(22).integers(0, 256, (3, 3, height, width))
    fmt = RAW["gbrp"]
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, codes), RGB_SIZE, f"nnvisr=model={model}:{NORM}")
    actual = raw_to_rgb(fmt, data, width, height)
    planes = ur.rgb_planes((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))

    def reference(d: um.Deform) -> np.ndarray:
        out = []
        for frame in codes:
            y = um.single_stage_reference(d, np.stack([s.to_model(p) for s, p in zip(planes, frame)]))
            out.append(np.stack([s.to_code(p) for s, p in zip(planes, y)]))
        return np.array(out)

    expected = reference(deform)
    assert np.abs(expected - reference(dataclasses.replace(deform, activation=-1))).max() > 3
    assert actual.shape == expected.shape
    worst = np.abs(actual - expected).max()
    assert worst <= 1, f"off by {worst} code values"


# ---------------------------------------------------------------- refusals


def test_unknown_activation_type_is_refused(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    cfg = dataclasses.replace(CONFIGS["yogo_2frame"], activations=(42,))
    root = tmp_path / "pkg"
    um.write_package(root, "net", cfg, ["rgb_1_1"])
    (tmp_path / "in.raw").write_bytes(rgb_to_raw(RAW["gbrp"], np.full((4, 3, 10, 16), 90)))
    result = run(ffmpeg, [
        "-f", "rawvideo", "-pix_fmt", "gbrp", "-s", "16x10", "-r", "25", "-i", "in.raw",
        "-vf", f"nnvisr=model_path={root}:model=net:{cfg.options()}", "-f", "null", "-",
    ], cwd=tmp_path)
    assert_clean_failure(result, r"(?<!\d)42(?!\d)", r"(?i)activation")


def test_extra_frame_needs_two_network_inputs(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    cfg = CONFIGS["yogo_2frame"]
    root = tmp_path / "pkg"
    um.write_package(root, "net", cfg, ["rgb_1_1"])
    (tmp_path / "in.raw").write_bytes(rgb_to_raw(RAW["gbrp"], np.full((4, 3, 10, 16), 90)))
    options = cfg.options().replace("input_count=2", "input_count=1")
    result = run(ffmpeg, [
        "-f", "rawvideo", "-pix_fmt", "gbrp", "-s", "16x10", "-r", "25", "-i", "in.raw",
        "-vf", f"nnvisr=model_path={root}:model=net:{options}", "-f", "null", "-",
    ], cwd=tmp_path)
    assert_clean_failure(result, "input_count", "extra_frame")
