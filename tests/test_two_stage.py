"""Two-stage (extract + fusion) upstream NNVISR model folders, end to end through the patched ffmpeg.

The folders come from two_stage_models: index-revealing networks (each output frame is a fixed,
distinct weighted mix of its window's frames, read back from the extracted features) that also
check every feature level they are given. Expected frames and timestamps come from the reference
scheduler; clips have real scene cuts found by scdet.

Error phrases assumed (each must appear in exactly one line of ffmpeg's stderr, exit status > 0):
- fusion file missing:            "ff_n2_2x2_l2.onnx" (the missing file's name)
- no colour folder for the clip:  "rgb_1_1" (gbrp input; the same line lists "rgb_9_16" and "yuv_9_16_9")
                                  "yuv_1_1_1" (yuv420p input; the same line lists "yuv_9_16_9")
                                  "yuv_9_16_9" (gbrp input, only that YUV folder present: the line listing it)
- extract output names wrong:     l1 as a whole word (regex (?<![\\w])l1(?![\\w])), the missing tensor's name
- feature_count mismatch:         "feature_count"
- fusion output at a wrong scale: "scale_factor=2"
"""

from __future__ import annotations

import pathlib
import re
import signal

import clips
import numpy as np
import pytest
import two_stage_models as tsm
import upstream_reference
from ffmpeg_run import RAW, filter_raw, frame_times, raw_to_rgb, raw_to_yuv, rgb_to_raw, run, yuv_to_raw
from schedule_reference import reference

from nnvisr_core.scheduler import Layout

WIDTH, HEIGHT = 26, 14  # with 3 levels: 26x14, 13x7, 7x4 (the ceil rule matters)
RNG = np.random.default_rng(20261212)

CASES = {
    # name: the layout and the model's levels and features
    "vsr": tsm.Spec(3, scale=2, levels=3, features=4),
    "interpolation": tsm.Spec(1, levels=1, features=3, extra_frame=True, interpolation=True),
    "interpolation_n2": tsm.Spec(2, levels=2, features=5, extra_frame=True, interpolation=True),
    "stvsr": tsm.Spec(2, scale=2, levels=3, features=4, extra_frame=True, interpolation=True, double_frame=True),
    "denoise_lookahead": tsm.Spec(2, levels=2, features=3, extra_frame=True),
}


def weights_for(spec: tsm.Spec, seed: int = 0) -> np.ndarray:
    return tsm.index_weights(spec.outputs, spec.members, seed)


def layout_of(spec: tsm.Spec) -> Layout:
    return Layout(spec.n, spec.extra_frame, spec.interpolation, spec.double_frame)


# ---------------------------------------------------------------- the models on their own (no ffmpeg)


def _session(path: pathlib.Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _extract(session, frames: list[list[np.ndarray]], yuv: bool) -> list[dict[str, np.ndarray]]:
    """Run fe on a batch of frames (each a list of planes [c,h,w]); per frame, its levels by name."""
    names = ["y", "uv"] if yuv else ["rgb"]
    feeds = {name: np.stack([f[i] for f in frames]).astype(np.float32) for i, name in enumerate(names)}
    outs = session.run(None, feeds)
    return [{o.name: out[b] for o, out in zip(session.get_outputs(), outs)} for b in range(len(frames))]


def _random_planes(yuv: bool, width: int, height: int) -> list[np.ndarray]:
    if yuv:
        return [RNG.random((1, height, width)), RNG.random((2, (height + 1) // 2, (width + 1) // 2))]
    return [RNG.random((3, height, width))]


@pytest.mark.parametrize("yuv", [False, True])
@pytest.mark.parametrize("size", [(26, 14), (13, 7), (5, 3), (1, 1), (24, 16)])
def test_extract_levels_follow_the_ceil_rule(tmp_path: pathlib.Path, yuv: bool, size: tuple[int, int]) -> None:
    spec = tsm.Spec(1, levels=4, features=5)
    session = _session(tsm.extract_model(tmp_path / "fe.onnx", spec, yuv))
    assert [o.name for o in session.get_outputs()] == ["l0", "l1", "l2", "l3"]
    width, height = size
    frames = [_random_planes(yuv, width, height) for _ in range(2)]
    for planes, levels in zip(frames, _extract(session, frames, yuv)):
        ref = tsm.extract_reference_yuv(*planes, 5, 4) if yuv else tsm.extract_reference_rgb(planes[0], 5, 4)
        h, w = height, width
        for i in range(4):
            assert levels[f"l{i}"].shape == (5, h, w)
            np.testing.assert_allclose(levels[f"l{i}"], ref[i], atol=1e-6)
            h, w = -(-h // 2), -(-w // 2)


@pytest.mark.parametrize("yuv", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fusion_matches_numpy_and_reads_every_level(tmp_path: pathlib.Path, case: str, yuv: bool) -> None:
    spec = CASES[case]
    weights = weights_for(spec)
    cs = "yuv_1_1_1" if yuv else "rgb_1_1"
    folder = tsm.write_two_stage(tmp_path, "m", [cs], spec, weights, yuv_gains=(0.9, 0.05, 0.8))
    stem = spec.stem(yuv)
    assert stem.endswith(f"_l{spec.levels}{'_yuv1-1' if yuv else ''}") and stem.startswith(f"n{spec.input_count}_")
    fe = _session(folder / cs / f"fe_{stem}.onnx")
    ff = _session(folder / cs / f"ff_{stem}.onnx")
    expected_inputs = {f"f{m}l{i}" for m in spec.member_ids for i in range(spec.levels)}
    assert {i.name for i in ff.get_inputs()} == expected_inputs
    out_names = [f"h{k}{suffix}" for k in spec.output_ids for suffix in (["_y", "_uv"] if yuv else [""])]
    assert sorted(o.name for o in ff.get_outputs()) == sorted(out_names)

    width, height, batch = 13, 7, 2  # odd sizes: ceil levels, chroma edge
    windows = [[_random_planes(yuv, width, height) for _ in range(spec.members)] for _ in range(batch)]
    features = [_extract(fe, window, yuv) for window in windows]

    def feeds(feats):
        return {
            f"f{m}l{i}": np.stack([f[j][f"l{i}"] for f in feats])
            for j, m in enumerate(spec.member_ids)
            for i in range(spec.levels)
        }

    names = [o.name for o in ff.get_outputs()]
    got = dict(zip(names, ff.run(None, feeds(features))))
    scale = (int(spec.scale), int(spec.sh))
    for b, window in enumerate(windows):
        for index, k in enumerate(spec.output_ids):
            if yuv:
                y = tsm.mix_reference([w[0] for w in window], weights, index, scale) * 0.9 + 0.05
                uv = (tsm.mix_reference([w[1] for w in window], weights, index, scale) - 0.5) * 0.8 + 0.5
                np.testing.assert_allclose(got[f"h{k}_y"][b], y, atol=1e-5)
                np.testing.assert_allclose(got[f"h{k}_uv"][b], uv, atol=1e-5)
            else:
                rgb = tsm.mix_reference([w[0] for w in window], weights, index, scale)
                np.testing.assert_allclose(got[f"h{k}"][b], rgb, atol=1e-5)

    # Levels (or extra channels) that belong to another frame change every output.
    if spec.levels > 1 or spec.features > 3:
        mixed = [[dict(member) for member in window] for window in features]
        level = f"l{spec.levels - 1}"
        if spec.levels > 1:
            mixed[0][0][level] = features[1][0][level]
        else:
            mixed[0][0]["l0"] = mixed[0][0]["l0"].copy()
            mixed[0][0]["l0"][3:] = features[1][0]["l0"][3:]
        broken = dict(zip(names, ff.run(None, feeds(mixed))))
        for name in names:
            assert np.abs(broken[name][0] - got[name][0]).min() > 1e-3, name


def test_file_names_print_scales_like_python_g(tmp_path: pathlib.Path) -> None:
    assert tsm.Spec(2, scale=1.5, levels=3).stem(False) == "n2_1.5x1.5_l3"
    assert tsm.Spec(2, scale=2, levels=1).stem(True) == "n2_2x2_l1_yuv1-1"
    assert tsm.Spec(1, scale=1, scale_h=2, levels=2).stem(False) == "n1_1x2_l2"


# ---------------------------------------------------------------- end to end


def scene_clip(scene_lengths: list[int], width: int = WIDTH, height: int = HEIGHT) -> tuple[np.ndarray, set[int]]:
    return clips.scene_clip(scene_lengths, width, height, pattern=True)


def expected_frames(frames: np.ndarray, cuts: set[int], spec: tsm.Spec, weights: np.ndarray):
    """(codes [3,H',W'], pts, duration) of every output frame."""
    pts = list(range(len(frames)))
    scale = (int(spec.scale), int(spec.sh))
    out = []
    for window in reference(pts, [1] * len(frames), cuts, layout_of(spec)):
        members = [frames[f].astype(np.float64) for f in window.frames]
        for o in window.outputs:
            if o.network_index is None:
                value = frames[o.source]
            else:
                value = np.clip(np.rint(tsm.mix_reference(members, weights, o.network_index, scale)), 0, 255)
            out.append((value, o.pts, o.duration))
    return out


def model_options(root: pathlib.Path, name: str, spec: tsm.Spec, batch: int, extract: int | None = None) -> str:
    text = f"model_path={root}:model={name}:{spec.filter_options()}:batch_size_fusion={batch}"
    return text + (f":batch_size_extract={extract}" if extract else "")


def assert_frames(actual: np.ndarray, expected: list) -> None:
    assert len(actual) == len(expected), f"{len(actual)} output frames, expected {len(expected)}"
    for index, (frame, (value, _, _)) in enumerate(zip(actual, expected)):
        assert frame.shape == value.shape, f"output frame {index}: {frame.shape} vs {value.shape}"
        worst = np.abs(frame - value).max()
        assert worst <= 1, f"output frame {index}: off by {worst} code values"


def run_clip(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, frames: np.ndarray, vf: str, scale: int):
    fmt = RAW["gbrp"]
    data, log = filter_raw(ffmpeg, tmp_path, fmt, rgb_to_raw(fmt, frames), (WIDTH, HEIGHT), vf)
    return data, raw_to_rgb(fmt, data, WIDTH * scale, HEIGHT * scale), log


def clip_times(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, vf: str) -> list[tuple[int, int]]:
    """(pts, duration) of the output frames for tmp_path/in.raw (as written by run_clip)."""
    return frame_times(ffmpeg, [
        "-f", "rawvideo", "-pix_fmt", "gbrp", "-s", f"{WIDTH}x{HEIGHT}", "-r", "25", "-i", str(tmp_path / "in.raw"),
        "-vf", vf, "-fps_mode", "passthrough", "-enc_time_base", "filter", "-c:v", "rawvideo",
    ])


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("batch", [1, 3])
def test_flags_scenes_and_times(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, case: str, batch: int) -> None:
    spec = CASES[case]
    weights = weights_for(spec)
    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["rgb_1_1"], spec, weights)
    frames, cuts = scene_clip([5, 1, 4, 7])
    vf = f"scdet,nnvisr={model_options(root, 'net', spec, batch)}"
    _, actual, log = run_clip(ffmpeg, tmp_path, frames, vf, int(spec.scale))
    assert clips.found_cuts(log) == cuts, "scdet must find exactly the cuts built into the clip"
    expected = expected_frames(frames, cuts, spec, weights)
    assert len(expected) == len(frames) * (2 if spec.interpolation else 1)
    assert_frames(actual, expected)
    assert clip_times(ffmpeg, tmp_path, vf) == [(p, d) for _, p, d in expected]


@pytest.mark.parametrize(("case", "batch"), [("vsr", 1), ("stvsr", 3), ("interpolation", 2), ("denoise_lookahead", 1)])
def test_batch_size_extract_gives_identical_frames(
    ffmpeg: pathlib.Path, tmp_path: pathlib.Path, case: str, batch: int
) -> None:
    spec = CASES[case]
    weights = weights_for(spec)
    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["rgb_1_1"], spec, weights)
    frames, cuts = scene_clip([7, 2, 6])
    results = []
    for extract in (None, 2 * batch * spec.n):
        vf = f"scdet,nnvisr={model_options(root, 'net', spec, batch, extract)}"
        data, actual, log = run_clip(ffmpeg, tmp_path, frames, vf, int(spec.scale))
        assert clips.found_cuts(log) == cuts
        assert_frames(actual, expected_frames(frames, cuts, spec, weights))
        results.append(data)
    assert results[0] == results[1], "batch_size_extract changed the output"


def test_tensors_are_bound_by_name(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Fusion inputs and outputs listed in reverse order in the graph: names, not positions, bind them."""
    spec = CASES["stvsr"]
    weights = weights_for(spec)
    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["rgb_1_1"], spec, weights, reverse_bindings=True)
    frames, cuts = scene_clip([6, 3])
    _, actual, _ = run_clip(ffmpeg, tmp_path, frames, f"scdet,nnvisr={model_options(root, 'net', spec, 2)}", 2)
    assert_frames(actual, expected_frames(frames, cuts, spec, weights))


def test_colour_folder_follows_the_frames(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Unspecified primaries/transfer read as BT.709 (rgb_1_1); tagged BT.2020/PQ frames use rgb_9_16."""
    spec = tsm.Spec(1, scale=2, levels=2, features=3)
    root = tmp_path / "pkg"
    bt709, bt2020 = np.array([[1.0]]), np.array([[0.5]])  # the second halves every value
    tsm.write_two_stage(root, "net", ["rgb_1_1"], spec, bt709)
    tsm.write_two_stage(root, "net", ["rgb_9_16"], spec, bt2020)
    frames, _ = scene_clip([3])
    options = model_options(root, "net", spec, 1)
    _, plain, _ = run_clip(ffmpeg, tmp_path, frames, f"nnvisr={options}", 2)
    assert_frames(plain, expected_frames(frames, set(), spec, bt709))
    tagged = f"setparams=color_primaries=bt2020:color_trc=smpte2084,nnvisr={options}"
    _, pq, _ = run_clip(ffmpeg, tmp_path, frames, tagged, 2)
    assert_frames(pq, expected_frames(frames, set(), spec, bt2020))


@pytest.mark.parametrize("full_range", [False, True])
def test_yuv420_folder(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, full_range: bool) -> None:
    """yuv420p input with unspecified colour properties uses yuv_1_1_1 and the _yuv1-1 files."""
    spec = tsm.Spec(2, scale=2, levels=2, features=5, extra_frame=True, interpolation=True, double_frame=True)
    weights = weights_for(spec, seed=1)
    root = tmp_path / "pkg"
    y_gain, y_offset, uv_gain = 0.9, 0.05, 0.8
    tsm.write_two_stage(root, "net", ["yuv_1_1_1"], spec, weights, yuv_gains=(y_gain, y_offset, uv_gain))
    fmt = RAW["yuv420p"]
    width, height, top, count = 24, 16, 255, 7
    frames = [
        (
            RNG.integers(0, top + 1, (height, width)),
            RNG.integers(0, top + 1, (height // 2, width // 2)),
            RNG.integers(0, top + 1, (height // 2, width // 2)),
        )
        for _ in range(count)
    ]
    # scene=off: the random frames would be scene cuts to scdet's measure; the reference has none
    vf = f"setparams=range={'pc' if full_range else 'tv'},nnvisr={model_options(root, 'net', spec, 2)}:scene=off"
    data, _ = filter_raw(ffmpeg, tmp_path, fmt, yuv_to_raw(fmt, frames), (width, height), vf)
    actual = raw_to_yuv(fmt, data, width * 2, height * 2)

    # upstream's contract: mean 0 and std 1 still go through the (assumed BT.709) matrix to each plane
    luma, u_plane, v_plane = upstream_reference.yuv_planes((0, 0, 0), (1, 1, 1), "bt709", full_range)
    windows = reference(list(range(count)), [1] * count, set(), layout_of(spec))
    expected = []
    for window in windows:
        y = [luma.to_model(frames[f][0][None]) for f in window.frames]
        uv = [np.stack([u_plane.to_model(frames[f][1]), v_plane.to_model(frames[f][2])]) for f in window.frames]
        for o in window.outputs:
            ey = tsm.mix_reference(y, weights, o.network_index, (2, 2))[0] * y_gain + y_offset
            euv = (tsm.mix_reference(uv, weights, o.network_index, (2, 2)) - 0.5) * uv_gain + 0.5
            expected.append((luma.to_code(ey), np.stack([u_plane.to_code(euv[0]), v_plane.to_code(euv[1])])))
    assert len(actual) == len(expected) == 2 * count
    for index, ((ay, au, av), (ey, euv)) in enumerate(zip(actual, expected)):
        for plane, got, want in (("y", ay, ey), ("u", au, euv[0]), ("v", av, euv[1])):
            worst = np.abs(got - want).max()
            assert worst <= 1, f"output frame {index} plane {plane}: off by {worst} code values"


def test_manifest_supplies_the_options(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """nnvisr.json in the model folder: the command line names only model_path and model."""
    spec = tsm.Spec(2, scale=2, levels=2, features=4, extra_frame=True, interpolation=True, double_frame=True)
    weights = weights_for(spec)
    root = tmp_path / "pkg"
    manifest = {"input_count": 3, "scale_factor": 2, "feature_count": 4, "extraction_layers": 2,
                "extra_frame": True, "double_frame": True, "norm_mean": [0, 0, 0], "norm_std": [1, 1, 1]}
    tsm.write_two_stage(root, "net", ["rgb_1_1"], spec, weights, manifest=manifest)
    frames, cuts = scene_clip([4, 5])
    vf = f"scdet,nnvisr=model_path={root}:model=net"
    _, actual, log = run_clip(ffmpeg, tmp_path, frames, vf, 2)
    assert clips.found_cuts(log) == cuts
    expected = expected_frames(frames, cuts, spec, weights)
    assert_frames(actual, expected)
    assert clip_times(ffmpeg, tmp_path, vf) == [(p, d) for _, p, d in expected]


# ---------------------------------------------------------------- broken packages

BAD = tsm.Spec(2, scale=2, levels=2, features=4)  # plain x2 VSR, two frames a window


def run_bad(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, root: pathlib.Path, spec: tsm.Spec = BAD, yuv=False):
    """Five 24x16 rawvideo frames (unspecified colour properties) through the model.

    ffmpeg runs in tmp_path and reads in.raw by a relative name, so that no log line quotes the
    test's folder (whose name repeats the test's name).
    """
    fmt = RAW["yuv420p" if yuv else "gbrp"]
    width, height = 24, 16
    source = tmp_path / "in.raw"
    if yuv:
        planes = [(np.full((height, width), 100), np.full((8, 12), 120), np.full((8, 12), 140))] * 5
        source.write_bytes(yuv_to_raw(fmt, planes))
    else:
        source.write_bytes(rgb_to_raw(fmt, np.full((5, 3, height, width), 90)))
    return run(ffmpeg, [
        "-f", "rawvideo", "-pix_fmt", fmt.pix_fmt, "-s", f"{width}x{height}", "-r", "25", "-i", source.name,
        "-vf", f"nnvisr={model_options(root, 'net', spec, 1)}", "-f", "null", "-",
    ], cwd=tmp_path)


def assert_clean_failure(result, expected: str, regex: bool = False) -> str:
    """One stderr line holds the phrase (or matches the regex); returns that line."""
    assert result.returncode > 0, f"exit status {result.returncode}: crashed or succeeded\n{result.stderr[-2000:]}"
    assert result.returncode != 128 + signal.SIGSEGV
    lines = [
        line for line in result.stderr.splitlines() if (re.search(expected, line) if regex else expected in line)
    ]
    assert len(lines) == 1, f"expected one line with {expected!r}:\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    return lines[0]


def test_missing_fusion_file(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["rgb_1_1"], BAD, weights_for(BAD), skip=("ff",))
    assert_clean_failure(run_bad(ffmpeg, tmp_path, root), "ff_n2_2x2_l2.onnx")


def test_no_colour_folder_for_rgb_frames(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["rgb_9_16", "yuv_9_16_9"], BAD, weights_for(BAD))
    line = assert_clean_failure(run_bad(ffmpeg, tmp_path, root), "rgb_1_1")
    assert "rgb_9_16" in line and "yuv_9_16_9" in line, line


def test_no_colour_folder_for_yuv_frames(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["yuv_9_16_9"], BAD, weights_for(BAD))
    line = assert_clean_failure(run_bad(ffmpeg, tmp_path, root, yuv=True), "yuv_1_1_1")
    assert "yuv_9_16_9" in line, line


def test_only_yuv_folders_for_rgb_input(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Which folder a converted gbrp clip asks for depends on the conversion; the error lists what exists."""
    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["yuv_9_16_9"], BAD, weights_for(BAD))
    assert_clean_failure(run_bad(ffmpeg, tmp_path, root), "yuv_9_16_9")


def test_wrong_extract_output_names(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["rgb_1_1"], BAD, weights_for(BAD), extract_outputs=["l0", "level1"])
    assert_clean_failure(run_bad(ffmpeg, tmp_path, root), r"(?<![\w])l1(?![\w])", regex=True)


def test_fusion_features_differ_from_extract(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["rgb_1_1"], BAD, weights_for(BAD), fusion_features=5)
    assert_clean_failure(run_bad(ffmpeg, tmp_path, root), "feature_count")


def test_fusion_output_at_a_wrong_scale(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["rgb_1_1"], BAD, weights_for(BAD), fusion_scale=(1, 1))
    assert_clean_failure(run_bad(ffmpeg, tmp_path, root), "scale_factor=2")


def test_fixed_size_extract_model(ffmpeg: pathlib.Path, tmp_path: pathlib.Path) -> None:
    import onnx

    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["rgb_1_1"], BAD, weights_for(BAD))
    path = next((root / "models" / "net" / "rgb_1_1").glob("fe_*.onnx"))
    model = onnx.load(path)
    for dim, value in zip(model.graph.input[0].type.tensor_type.shape.dim[2:], (16, 24)):
        dim.ClearField("dim_param")
        dim.dim_value = value
    onnx.save(model, path)
    assert_clean_failure(run_bad(ffmpeg, tmp_path, root), "its H and W must be dynamic")


@pytest.mark.parametrize("case", ["vsr", "interpolation_n2"])
def test_scene_exactly_one_extraction_batch_long(ffmpeg: pathlib.Path, tmp_path: pathlib.Path, case: str) -> None:
    """Upstream's defect 4: scenes of exactly batch_size_extract frames (n >= 3 there) overran its buffers."""
    spec = CASES[case]
    weights = weights_for(spec)
    root = tmp_path / "pkg"
    tsm.write_two_stage(root, "net", ["rgb_1_1"], spec, weights)
    batch = 3
    length = batch * spec.n
    frames, cuts = scene_clip([length, length, 1])
    vf = f"scdet,nnvisr={model_options(root, 'net', spec, batch)}"
    _, actual, log = run_clip(ffmpeg, tmp_path, frames, vf, int(spec.scale))
    assert clips.found_cuts(log) == cuts
    assert_frames(actual, expected_frames(frames, cuts, spec, weights))
