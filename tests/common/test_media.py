import pathlib
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image, ImageSequence

from common.media import (
    image_grid,
    save_figure,
    save_gif,
    save_image_grid,
    save_video_grid_gif,
    save_video_rows_gif,
)


def _gif_frames(path):
    with Image.open(path) as gif:
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
        info = dict(gif.info)
    return frames, info


def test_image_grid_layout_and_values():
    # Two 2x3 greyscale images in [-1, 1]: -1 -> 0, 1 -> 255, 0 -> 128 (round half to even: 127.5).
    images = np.stack([np.full((2, 3), -1.0), np.full((2, 3), 1.0)])
    images[1, 0, 0] = 0.0
    grid = image_grid(images, nrow=2, pad=1, pad_value=7)
    assert grid.shape == (2 + 2 * 1, 2 * 3 + 3 * 1, 3)
    assert grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[1:3, 1:4], 0)  # first image
    np.testing.assert_array_equal(grid[1, 5], [128, 128, 128])  # second image, pixel (0, 0)
    np.testing.assert_array_equal(grid[2, 5:8], 255)
    np.testing.assert_array_equal(grid[0], 7)  # padding row
    np.testing.assert_array_equal(grid[:, 4], 7)  # padding column between the images


def test_image_grid_default_nrow_and_rgb():
    images = np.zeros((5, 4, 4, 3), np.float32)
    images[..., 0] = 1.0  # red
    grid = image_grid(jnp.asarray(images), pad=0)  # nrow = ceil(sqrt(5)) = 3 -> 2 rows
    assert grid.shape == (8, 12, 3)
    np.testing.assert_array_equal(grid[0, 0], [255, 128, 128])
    np.testing.assert_array_equal(grid[4:, 8:], 0)  # the empty sixth cell keeps the pad value


def test_image_grid_clips_and_value_range():
    images = np.array([[[-5.0, 0.5, 300.0, np.nan]]])  # [1, 1, 4]
    grid = image_grid(images, pad=0, value_range=(0, 1))
    np.testing.assert_array_equal(grid[0, :, 0], [0, 128, 255, 0])
    grid = image_grid(np.array([[[0, 51, 255]]], np.uint8), pad=0, value_range=(0, 255))
    np.testing.assert_array_equal(grid[0, :, 0], [0, 51, 255])


@pytest.mark.parametrize("shape", [(4, 4), (2, 4, 4, 2), (2, 4, 4, 3, 1), (0, 4, 4)])
def test_image_grid_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"`images`.*" + str(shape).replace("(", r"\(")[:-1]):
        image_grid(np.zeros(shape))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"nrow": 0}, "nrow"),
        ({"pad": -1}, "pad"),
        ({"pad_value": 300}, "pad_value"),
        ({"value_range": (1, 1)}, "value_range"),
        ({"value_range": (0,)}, "value_range"),
    ],
)
def test_image_grid_bad_options(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        image_grid(np.zeros((2, 3, 3)), **kwargs)


def test_save_image_grid_round_trip(tmp_path):
    images = np.linspace(0, 1, 4 * 5 * 6).reshape(4, 5, 6, 1)
    path = save_image_grid(tmp_path / "sub" / "grid.png", images, value_range=(0, 1))
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        back = np.asarray(picture.convert("RGB"))
    np.testing.assert_array_equal(back, image_grid(images, value_range=(0, 1)))
    assert back.shape == (2 * 5 + 3, 2 * 6 + 3, 3)


def test_save_gif_round_trip(tmp_path):
    frames = np.zeros((3, 4, 5), np.float32)  # [t, h, w] greyscale in [0, 1]
    for t in range(3):
        frames[t, t, :] = 1.0
    frames[2, 3, 4] = 0.2  # an intermediate grey level
    path = save_gif(tmp_path / "clip.gif", frames, fps=20, value_range=(0, 1))
    back, info = _gif_frames(path)
    assert len(back) == 3
    assert info["duration"] == 50  # ms per frame at 20 fps
    assert info["loop"] == 0  # loops forever
    for t in range(3):
        assert back[t].shape == (4, 5, 3)
        np.testing.assert_array_equal(back[t][..., 0], np.rint(frames[t] * 255).astype(np.uint8))


def test_save_gif_rgb(tmp_path):
    frames = np.zeros((2, 4, 4, 3))
    frames[0, ..., 0] = 1.0  # red, then blue
    frames[1, ..., 2] = 1.0
    back, _ = _gif_frames(save_gif(tmp_path / "rgb.gif", frames))
    assert len(back) == 2
    np.testing.assert_array_equal(back[0][0, 0], [255, 128, 128])
    np.testing.assert_array_equal(back[1][0, 0], [128, 128, 255])


def test_save_video_grid_gif(tmp_path):
    b, t, h, w = 4, 5, 3, 3
    videos = np.zeros((b, t, h, w, 1))
    for i in range(b):
        videos[i, :, 0, 0, 0] = np.arange(t) / t  # frame index coded in a pixel
        videos[i, :, 2, 2, 0] = i / b  # video index coded in another
    path = save_video_grid_gif(tmp_path / "videos.gif", videos, nrow=2, value_range=(0, 1))
    back, _ = _gif_frames(path)
    assert len(back) == t
    for k in range(t):
        np.testing.assert_array_equal(back[k], image_grid(videos[:, k], nrow=2, value_range=(0, 1)))
        assert back[k].shape == (2 * h + 3, 2 * w + 3, 3)


def test_save_video_rows_gif_layout(tmp_path):
    t, h, w, pad, label_width = 3, 4, 5, 1, 30
    a = np.linspace(0.1, 0.9, 2 * t * h * w).reshape(2, t, h, w)
    b = np.full((1, t, h, w, 1), 0.5)
    path = save_video_rows_gif(
        tmp_path / "rows.gif", {"long label": a, "b": b}, value_range=(0, 1), pad=pad,
        label_width=label_width,
    )
    back, _ = _gif_frames(path)
    assert len(back) == t
    assert back[0].shape == (2 * (h + pad) + pad, label_width + 2 * (w + pad) + pad, 3)
    for k in range(t):
        frame = back[k][..., 0]
        for i in range(2):  # row 0: both clips of `a`, in order, after the label
            left = label_width + pad + i * (w + pad)
            np.testing.assert_array_equal(
                frame[pad : pad + h, left : left + w], np.rint(a[i, k] * 255)
            )
        top, left = 2 * pad + h, label_width + pad
        np.testing.assert_array_equal(frame[top : top + h, left : left + w], 128)
        assert not frame[top : top + h, left + w + pad :].any()  # row 1 padded: one clip only
    assert back[0][:, :label_width].any()  # the labels are drawn


def test_save_video_rows_gif_bad_rows(tmp_path):
    with pytest.raises(ValueError, match="`rows` must hold"):
        save_video_rows_gif(tmp_path / "x.gif", {})
    rows = {"real": np.zeros((2, 3, 4, 4)), "model": np.zeros((2, 4, 4, 4))}
    with pytest.raises(ValueError, match=r"`rows\['model'\]`.*\[3, 4, 4\].*\[4, 4, 4\]"):
        save_video_rows_gif(tmp_path / "x.gif", rows)
    with pytest.raises(ValueError, match=r"`rows\['real'\]`.*shape"):
        save_video_rows_gif(tmp_path / "x.gif", {"real": np.zeros((3, 4, 4))})
    with pytest.raises(ValueError, match="`label_width`"):
        save_video_rows_gif(tmp_path / "x.gif", rows | {"model": rows["real"]}, label_width=-1)
    assert not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize(
    ("fn", "shape", "name"),
    [
        (save_gif, (4, 4), "frames"),
        (save_gif, (2, 4, 4, 4), "frames"),
        (save_video_grid_gif, (2, 4, 4), "videos"),
        (save_video_grid_gif, (1, 2, 4, 4, 2), "videos"),
    ],
)
def test_gif_bad_shapes(tmp_path, fn, shape, name):
    with pytest.raises(ValueError, match=rf"`{name}`.*shape \({shape[0]}, {shape[1]}"):
        fn(tmp_path / "x.gif", np.zeros(shape))
    assert not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize("fps", [0, -1, float("nan")])
def test_gif_bad_fps(tmp_path, fps):
    with pytest.raises(ValueError, match="`fps`"):
        save_gif(tmp_path / "x.gif", np.zeros((2, 3, 3)), fps=fps)


def test_save_figure_without_pyplot(tmp_path):
    figure = pytest.importorskip("matplotlib.figure")
    fig = figure.Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    path = save_figure(fig, tmp_path / "figs" / "line.png", dpi=50)
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        assert 20 < picture.size[0] < 100  # about 1 inch at 50 dpi, tight bbox
    assert not fig.axes  # released with clf()


def test_save_figure_closes_pyplot_figures(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1))
    number = fig.number
    save_figure(fig, tmp_path / "f.pdf")
    assert (tmp_path / "f.pdf").read_bytes()[:4] == b"%PDF"
    assert not plt.fignum_exists(number)


def test_save_figure_rejects_non_figures(tmp_path):
    with pytest.raises(ValueError, match="`fig`"):
        save_figure(np.zeros(3), tmp_path / "x.png")


def test_media_does_not_import_matplotlib():
    code = "import sys, common.media; print('matplotlib' in sys.modules)"
    root = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "False"
