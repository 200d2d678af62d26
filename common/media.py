"""Writing pictures: image grids (PNG), animated GIFs and video grids, matplotlib figures.

Pillow only. matplotlib is never imported here: `save_figure` takes a figure that the caller's
`plot.py` made, and closes it through `matplotlib.pyplot` only if the caller already imported it.

Arrays are channel-last (`[b, h, w, c]`, videos `[b, t, h, w, c]`) with `c` in {1, 3}; the
channel axis may be left out for greyscale. Values are mapped linearly from `value_range` to
`[0, 255]` and clipped (NaN becomes the low end of the range).
"""

import math
import os
import pathlib
import sys
from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "image_grid",
    "save_figure",
    "save_gif",
    "save_image_grid",
    "save_video_grid_gif",
    "save_video_rows_gif",
]


def _check_value_range(value_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"`value_range` must be a pair (low, high), got {value_range!r}."
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"`value_range` must be finite with low < high, got {value_range!r}.")
    return lo, hi


def _to_uint8(x: np.ndarray, value_range) -> np.ndarray:
    lo, hi = _check_value_range(value_range)
    x = np.asarray(x, dtype=np.float64)
    x = np.nan_to_num((x - lo) / (hi - lo), nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _with_channels(x: np.ndarray, rank: int, name: str, layout: str) -> np.ndarray:
    """Returns `x` with an explicit channel axis (1 or 3), checking its rank."""
    if x.ndim == rank - 1:
        x = x[..., None]
    if x.ndim != rank or x.shape[-1] not in (1, 3):
        raise ValueError(
            f"`{name}` must have shape {layout} with c in (1, 3) (or no channel axis), "
            f"got shape {x.shape}."
        )
    if any(s == 0 for s in x.shape):
        raise ValueError(f"`{name}` must not be empty, got shape {x.shape}.")
    return x


def _grid_uint8(images: np.ndarray, nrow: int | None, pad: int, pad_value: int) -> np.ndarray:
    """Tiles uint8 `[b, h, w, c]` into `[H, W, 3]`."""
    b, h, w, c = images.shape
    if nrow is None:
        nrow = math.ceil(math.sqrt(b))
    if isinstance(nrow, bool) or not isinstance(nrow, int | np.integer) or nrow < 1:
        raise ValueError(f"`nrow` must be a positive integer or None, got {nrow!r}.")
    if isinstance(pad, bool) or not isinstance(pad, int | np.integer) or pad < 0:
        raise ValueError(f"`pad` must be a non-negative integer, got {pad!r}.")
    if not 0 <= pad_value <= 255:
        raise ValueError(f"`pad_value` must be in [0, 255], got {pad_value!r}.")
    ncol = min(int(nrow), b)
    nrows = math.ceil(b / ncol)
    grid = np.full(
        (nrows * h + (nrows + 1) * pad, ncol * w + (ncol + 1) * pad, 3), pad_value, np.uint8
    )
    rgb = np.broadcast_to(images, (b, h, w, 3)) if c == 1 else images
    for i in range(b):
        r, col = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = rgb[i]
    return grid


def image_grid(
    images,
    *,
    nrow: int | None = None,
    pad: int = 1,
    value_range: tuple[float, float] = (-1.0, 1.0),
    pad_value: int = 0,
) -> np.ndarray:
    """Tiles a batch of images into one RGB picture.

    Args:
        images: array of shape `[b, h, w, c]` with `c` in {1, 3}, or `[b, h, w]` (greyscale).
        nrow: images per row of the grid (as in torchvision); default `ceil(sqrt(b))`.
        pad: pixels of padding between images and around the border.
        value_range: `(low, high)` mapped to black and white; values outside are clipped. Use
            `(0, 255)` for uint8 inputs and `(0, 1)` for probabilities.
        pad_value: grey level of the padding, in `[0, 255]`.

    Returns:
        `uint8` array of shape `[H, W, 3]` with `H = rows·h + (rows + 1)·pad`,
        `W = nrow·w + (nrow + 1)·pad` and `rows = ceil(b / nrow)`.

    Raises:
        ValueError: bad rank or channel count of `images` (the message gives the shape), bad
            `nrow`, `pad`, `pad_value` or `value_range`.

    Examples:
        >>> image_grid(np.zeros((6, 8, 8))).shape
        (19, 28, 3)
    """
    x = _with_channels(np.asarray(images), 4, "images", "[b, h, w, c]")
    return _grid_uint8(_to_uint8(x, value_range), nrow, pad, pad_value)


def _prepare_path(path: str | os.PathLike) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def save_image_grid(
    path: str | os.PathLike,
    images,
    *,
    nrow: int | None = None,
    pad: int = 1,
    value_range: tuple[float, float] = (-1.0, 1.0),
    pad_value: int = 0,
) -> pathlib.Path:
    """Writes `image_grid(images, ...)` to a PNG file (parent folders are created).

    Args:
        path: destination file, normally ending in `.png`.
        images: array of shape `[b, h, w, c]` (`c` in {1, 3}) or `[b, h, w]`.
        nrow: images per row; default `ceil(sqrt(b))`.
        pad: pixels of padding between images.
        value_range: `(low, high)` mapped to black and white; values outside are clipped.
        pad_value: grey level of the padding, in `[0, 255]`.

    Returns:
        The path written.

    Raises:
        ValueError: as `image_grid`.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_image_grid(f"{d}/grid.png", np.zeros((4, 8, 8, 1))).name
        'grid.png'
    """
    grid = image_grid(images, nrow=nrow, pad=pad, value_range=value_range, pad_value=pad_value)
    path = _prepare_path(path)
    Image.fromarray(grid).save(path, format="PNG")
    return path


def _write_gif(path: str | os.PathLike, frames: list[np.ndarray], fps: float) -> pathlib.Path:
    """Writes uint8 `[h, w, 3]` frames as a looping GIF."""
    if not (isinstance(fps, int | float | np.number) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"`fps` must be a positive number, got {fps!r}.")
    # Greyscale frames are written in mode "L" so their levels survive GIF's 256-colour palette
    # exactly; colour frames are quantised by Pillow.
    grey = all(
        np.array_equal(f[..., 0], f[..., 1]) and np.array_equal(f[..., 0], f[..., 2])
        for f in frames
    )
    pictures = [Image.fromarray(np.ascontiguousarray(f[..., 0] if grey else f)) for f in frames]
    path = _prepare_path(path)
    pictures[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=1000.0 / fps,  # milliseconds per frame (GIF stores centiseconds)
        loop=0,  # loop forever
    )
    return path


def save_gif(
    path: str | os.PathLike,
    frames,
    *,
    fps: float = 10,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> pathlib.Path:
    """Writes a clip as a looping animated GIF.

    Pillow merges consecutive identical frames (adding up their durations), so a GIF read back
    may have fewer frames than `t` when the clip holds repeats.

    Args:
        path: destination file, normally ending in `.gif`.
        frames: array of shape `[t, h, w, c]` (`c` in {1, 3}) or `[t, h, w]`.
        fps: frames per second (GIF stores durations in hundredths of a second).
        value_range: `(low, high)` mapped to black and white; values outside are clipped.

    Returns:
        The path written.

    Raises:
        ValueError: bad rank or channel count of `frames` (the message gives the shape), bad
            `fps` or `value_range`.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     clip = np.linspace(-1, 1, 4)[:, None, None] * np.ones((4, 8, 8))
        ...     save_gif(f"{d}/clip.gif", clip).name
        'clip.gif'
    """
    x = _with_channels(np.asarray(frames), 4, "frames", "[t, h, w, c]")
    x = np.broadcast_to(_to_uint8(x, value_range), x.shape[:3] + (3,))
    return _write_gif(path, list(x), fps)


def save_video_grid_gif(
    path: str | os.PathLike,
    videos,
    *,
    fps: float = 10,
    nrow: int | None = None,
    pad: int = 1,
    value_range: tuple[float, float] = (-1.0, 1.0),
    pad_value: int = 0,
) -> pathlib.Path:
    """Writes a batch of clips as one looping GIF whose frame `i` is the grid of the `b` frames `i`.

    Args:
        path: destination file, normally ending in `.gif`.
        videos: array of shape `[b, t, h, w, c]` (`c` in {1, 3}) or `[b, t, h, w]`.
        fps: frames per second.
        nrow: videos per row of the grid; default `ceil(sqrt(b))`.
        pad: pixels of padding between videos.
        value_range: `(low, high)` mapped to black and white; values outside are clipped.
        pad_value: grey level of the padding, in `[0, 255]`.

    Returns:
        The path written.

    Raises:
        ValueError: bad rank or channel count of `videos` (the message gives the shape), bad
            `fps`, `nrow`, `pad`, `pad_value` or `value_range`.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_video_grid_gif(f"{d}/videos.gif", np.zeros((4, 3, 8, 8, 1))).name
        'videos.gif'
    """
    x = _with_channels(np.asarray(videos), 5, "videos", "[b, t, h, w, c]")
    x = _to_uint8(x, value_range)
    frames = [_grid_uint8(x[:, i], nrow, pad, pad_value) for i in range(x.shape[1])]
    return _write_gif(path, frames, fps)


def save_video_rows_gif(
    path: str | os.PathLike,
    rows: Mapping[str, np.ndarray],
    *,
    fps: float = 10,
    pad: int = 1,
    value_range: tuple[float, float] = (-1.0, 1.0),
    label_width: int = 160,
) -> pathlib.Path:
    """Writes labelled rows of clips as one looping GIF: one row of videos per label.

    For comparing models side by side: each row is a label (drawn in white at its left, in
    Pillow's default font) followed by that row's clips in a line; rows with fewer clips than
    the longest are padded with black.

    Args:
        path: destination file, normally ending in `.gif`.
        rows: label -> clips ``[n, t, h, w, c]`` (`c` in {1, 3}) or ``[n, t, h, w]``; every row
            with the same `t`, `h`, `w`.
        fps: frames per second.
        pad: pixels of padding between clips and rows.
        value_range: `(low, high)` mapped to black and white for every row (rescale rows of
            different ranges first); values outside are clipped.
        label_width: pixels left of each row for its label.

    Returns:
        The path written.

    Raises:
        ValueError: no rows, a row of the wrong rank or of another clip shape than the first
            (the message names the row), bad `fps`, `pad`, `label_width` or `value_range`.

    Examples:
        >>> import tempfile
        >>> rows = {"data": np.zeros((4, 3, 8, 8)), "model": np.ones((2, 3, 8, 8))}
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_video_rows_gif(f"{d}/rows.gif", rows).name
        'rows.gif'
    """
    if not rows:
        raise ValueError("`rows` must hold at least one labelled row of clips.")
    for name, value in (("pad", pad), ("label_width", label_width)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(f"`{name}` must be a non-negative int, got {value!r}.")
    clips = {}
    for label, videos in rows.items():
        x = _with_channels(np.asarray(videos), 5, f"rows[{label!r}]", "[n, t, h, w, c]")
        x = np.broadcast_to(_to_uint8(x, value_range), x.shape[:4] + (3,))
        first = next(iter(clips.values()), x)
        if x.shape[1:] != first.shape[1:]:
            raise ValueError(
                f"`rows[{label!r}]` must hold clips [t, h, w] = {list(first.shape[1:4])} like the "
                f"first row, got {list(x.shape[1:4])}."
            )
        clips[label] = x
    n = max(x.shape[0] for x in clips.values())
    t, h, w = first.shape[1:4]
    height = len(clips) * (h + pad) + pad
    width = label_width + n * (w + pad) + pad
    frames = np.zeros((t, height, width, 3), np.uint8)
    labels = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(labels)
    for r, (label, x) in enumerate(clips.items()):
        top = pad + r * (h + pad)
        draw.text((2, top + h / 2), label, fill=(255, 255, 255), anchor="lm")
        for i in range(x.shape[0]):
            left = label_width + pad + i * (w + pad)
            frames[:, top : top + h, left : left + w] = x[i]
    frames[:, :, :label_width] = np.asarray(labels)[:, :label_width]
    return _write_gif(path, list(frames), fps)


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 150) -> pathlib.Path:
    """Saves a matplotlib figure and releases it.

    The figure is written with `fig.savefig`, then cleared with `fig.clf()` and, when pyplot is
    already imported, closed with `matplotlib.pyplot.close` (figures made through pyplot are
    registered there). This module itself never imports matplotlib.

    Args:
        fig: a `matplotlib.figure.Figure`.
        path: destination file; the format follows its suffix (`.png`, `.pdf`, `.svg`, ...).
        dpi: resolution for raster formats.

    Returns:
        The path written.

    Raises:
        ValueError: `fig` has no `savefig` method.

    Examples:
        >>> from matplotlib.figure import Figure  # doctest: +SKIP
        >>> save_figure(Figure(), "/tmp/empty.png")  # doctest: +SKIP
        PosixPath('/tmp/empty.png')
    """
    if not callable(getattr(fig, "savefig", None)):
        raise ValueError(f"`fig` must be a matplotlib Figure, got {type(fig).__name__}.")
    path = _prepare_path(path)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    fig.clf()
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    return path
