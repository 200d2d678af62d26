
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from tests.helpers import tree_allclose
from video import (
    ImageDiscriminator,
    ImageGenerator,
    VideoDiscriminator,
    generate_video,
    mocogan_generate,
)

# Tiny widths and codes: compile time, not arithmetic, dominates these tests.
D_C, D_M, WIDTH, T, B = 5, 3, 4, 4, 2


def _generator(size=28):
    return ImageGenerator(size=size, d_content=D_C, d_motion=D_M, width=WIDTH)


@pytest.fixture(scope="module")
def gen28():
    g = _generator()
    return g, g.init(jr.key(0), jnp.zeros(D_C), jnp.zeros(D_M))


@pytest.mark.parametrize("size", [28, 32, 64])
def test_shapes_and_dtypes(size):
    g = _generator(size)
    params = jax.eval_shape(g.init, jr.key(0), jnp.zeros(D_C), jnp.zeros(D_M))
    content = jax.ShapeDtypeStruct((B, D_C), jnp.float32)
    motion = jax.ShapeDtypeStruct((B, T, D_M), jnp.float32)
    videos = jax.eval_shape(lambda p, c, m: mocogan_generate(p, g, c, m), params, content, motion)
    assert videos.shape == (B, T, size, size, 1)
    assert videos.dtype == jnp.float32
    one = jax.eval_shape(lambda p, c, m: generate_video(p, g, c[0], m[0]), params, content, motion)
    assert one.shape == (T, size, size, 1)

    d_img = ImageDiscriminator(size=size, width=WIDTH)
    d_vid = VideoDiscriminator(n_frames=T, size=size, width=WIDTH)
    p_img = jax.eval_shape(d_img.init, jr.key(1), jnp.zeros((size, size, 1)))
    p_vid = jax.eval_shape(d_vid.init, jr.key(2), jnp.zeros((T, size, size, 1)))
    frame_logits = jax.eval_shape(d_img.apply, p_img, videos)
    clip_logits = jax.eval_shape(d_vid.apply, p_vid, videos)
    assert frame_logits.shape == (B, T)
    assert clip_logits.shape == (B,)
    assert frame_logits.dtype == clip_logits.dtype == jnp.float32


def test_range_and_per_frame_consistency(gen28, getkey):
    g, params = gen28
    content = 3.0 * jr.normal(getkey(), (B, D_C))
    motion = 3.0 * jr.normal(getkey(), (B, T, D_M))
    videos = mocogan_generate(params, g, content, motion)
    assert np.all(np.isfinite(videos))
    assert float(videos.min()) >= -1.0
    assert float(videos.max()) <= 1.0
    assert float(videos.std()) > 0.0
    # Frame k generated alone equals frame k of the video: no batch statistics between frames.
    for i, k in [(0, 0), (1, T - 1)]:
        frame = g.apply(params, content[i], motion[i, k])
        assert frame.shape == (28, 28, 1)
        assert tree_allclose(frame, videos[i, k], rtol=1e-5, atol=1e-6)
    # The vmapped batch equals a loop over videos, and frames differ along the motion.
    pairs = zip(content, motion, strict=True)
    looped = jnp.stack([generate_video(params, g, c, m) for c, m in pairs])
    assert tree_allclose(videos, looped, rtol=1e-5, atol=1e-6)
    assert not np.allclose(videos[0, 0], videos[0, 1])


def test_jit_matches_eager_and_gradients_finite(gen28, getkey):
    g, params = gen28
    d_img = ImageDiscriminator(size=28, width=WIDTH)
    d_vid = VideoDiscriminator(n_frames=T, size=28, width=WIDTH)
    p_img = d_img.init(getkey(), jnp.zeros((28, 28, 1)))
    p_vid = d_vid.init(getkey(), jnp.zeros((T, 28, 28, 1)))
    content = jr.normal(getkey(), (B, D_C))
    motion = jr.normal(getkey(), (B, T, D_M))

    def loss(params, p_img, p_vid, content, motion):
        videos = mocogan_generate(params, g, content, motion)
        return jnp.mean(d_img.apply(p_img, videos)) + jnp.mean(d_vid.apply(p_vid, videos))

    grad_fn = jax.value_and_grad(loss, argnums=(0, 1, 2, 4))
    eager = grad_fn(params, p_img, p_vid, content, motion)
    jitted = jax.jit(grad_fn)(params, p_img, p_vid, content, motion)
    assert tree_allclose(eager, jitted, rtol=1e-4, atol=1e-6)
    leaves = jax.tree.leaves(eager[1])
    assert all(np.all(np.isfinite(x)) for x in leaves)
    # Every parameter of all three networks, and the motion codes, receive gradient.
    assert all(float(jnp.max(jnp.abs(x))) > 0 for x in leaves)


def test_bad_inputs(gen28):
    g, params = gen28
    c, m = jnp.zeros((B, D_C)), jnp.zeros((B, T, D_M))
    cases = [
        (lambda: mocogan_generate(params, g, c[0], m), r"`content` must have shape \[b, 5\]"),
        (lambda: mocogan_generate(params, g, c, m[0]), r"`motion` must have shape \[b, t, 3\]"),
        (lambda: mocogan_generate(params, g, c[:1], m), "the same batch size"),
        (lambda: generate_video(params, g, c, m[0]), r"`content` must have shape \(5,\)"),
        (lambda: generate_video(params, g, c[0], m), r"`motion` must have shape \[t, 3\]"),
        (lambda: g.apply(params, c, m), "the same leading axes"),
        (lambda: g.apply(params, c[:, :2], m[:, 0]), "`z_content` must have shape"),
        (lambda: g.apply(params, c, m[:, 0, :2]), "`z_motion` must have shape"),
        (lambda: g.apply(params, c.astype(jnp.int32), m[:, 0]), "`z_content` must be floating"),
    ]
    for fn, match in cases:
        with pytest.raises(ValueError, match=match):
            fn()
    with pytest.raises(ValueError, match="`size` must be one of"):
        ImageGenerator(size=30).init(jr.key(0), jnp.zeros(50), jnp.zeros(10))
    with pytest.raises(ValueError, match="`width` must be a positive int"):
        ImageDiscriminator(width=0).init(jr.key(0), jnp.zeros((32, 32, 1)))
    with pytest.raises(ValueError, match="`frames` must have shape"):
        ImageDiscriminator(size=28).init(jr.key(0), jnp.zeros((32, 32, 1)))
    with pytest.raises(ValueError, match="`videos` must have shape"):
        VideoDiscriminator(n_frames=T, size=28).init(jr.key(0), jnp.zeros((T + 1, 28, 28, 1)))
    with pytest.raises(ValueError, match="`n_frames` must be a positive int"):
        VideoDiscriminator(n_frames=0, size=28).init(jr.key(0), jnp.zeros((0, 28, 28, 1)))


@pytest.mark.parametrize(("kernel", "stride"), [((4, 4, 4), 2), ((3, 3, 3), 1)])
def test_space_time_conv_is_the_3d_convolution(kernel, stride):
    import flax.linen as nn

    from video._models import SpaceTimeConv

    x = jr.normal(jr.key(0), (2, 5, 8, 8, 3))
    conv3d = nn.Conv(6, kernel, strides=(1, stride, stride))
    ours = SpaceTimeConv(6, kernel, stride)
    params = conv3d.init(jr.key(1), x)
    # Same parameter tree and initialisation, same values and gradients.
    assert tree_allclose(ours.init(jr.key(1), x), params, rtol=0, atol=0)
    np.testing.assert_allclose(ours.apply(params, x), conv3d.apply(params, x), atol=1e-5)

    def grads(module):
        return jax.grad(lambda p, x: jnp.sum(jnp.sin(module.apply(p, x))), argnums=(0, 1))(
            params, x
        )

    assert tree_allclose(grads(ours), grads(conv3d), rtol=1e-4, atol=1e-5)
