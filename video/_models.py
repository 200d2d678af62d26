r"""MoCoGAN networks (Tulyakov et al., arXiv:1707.04993): image generator and two discriminators.

A video of ``t`` frames is generated from one content code :math:`z_c \in \mathbb{R}^{d_c}`
(shared by all frames) and a motion trajectory :math:`(z_m(k))_{k < t}` (from a motion generator
of `video._motion`), frame by frame with the same image generator:

.. math:: x_k = G\bigl(z_c, z_m(k)\bigr) \in [-1, 1]^{h \times w \times c},
    \qquad k = 0, \dots, t - 1.

An image discriminator :math:`D_I` scores single frames and a video discriminator :math:`D_V`
(3-D convolutions) scores clips. All three are Flax linen modules, channel-last; ``init`` gives a
plain pytree of variables and ``apply`` is pure. They have no batch statistics: DCGAN's batch
normalisation is replaced in the generator by a per-sample `flax.linen.LayerNorm`, so a frame does
not depend on the other frames of its batch (generating frame k alone gives frame k of the video)
and ``apply`` needs no mutable collections. Each module accepts any number of leading batch axes.

Sizes: MoCoGAN uses :math:`d_c = 50`, :math:`d_m = 10` (GRU) and 64 base channels at 64×64; the
defaults here keep its code sizes but a small width (16) for CPU runs, and also support 28×28 and
32×32 frames (rotating MNIST).
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from common.conv import Conv, ConvTranspose, conv

SIZES = (28, 32, 64)
# The side of the first feature map: the generator doubles it (and the discriminators halve it)
# log2(size / base) times, e.g. 7 → 14 → 28 and 4 → 8 → 16 → 32.
_BASE = {28: 7, 32: 4, 64: 4}

Frames = Float[Array, "*batch h w c"]
Logits = Float[Array, "*batch"]


def _check_config(size: int, channels: int, width: int) -> None:
    if size not in SIZES:
        raise ValueError(f"`size` must be one of {SIZES}, got {size!r}.")
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"`channels` must be a positive int, got {channels!r}.")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"`width` must be a positive int, got {width!r}.")


def _n_stages(size: int) -> int:
    return round(math.log2(size // _BASE[size]))


def _check_trailing(name: str, x: jax.Array, expected: tuple[int, ...], what: str) -> None:
    """ValueError naming `name` unless `x` ends with the axes `expected`."""
    n = len(expected)
    if x.ndim < n or tuple(x.shape[x.ndim - n :]) != expected:
        raise ValueError(
            f"`{name}` must have shape [..., {what}] = [..., {expected}], got {x.shape}."
        )
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"`{name}` must be floating point, got dtype {x.dtype}.")


class ImageGenerator(nn.Module):
    r"""DCGAN-like frame generator :math:`G(z_c, z_m) \in [-1, 1]^{h \times w \times c}`.

    :math:`[z_c, z_m]` → Dense → a :math:`b \times b` map of :math:`2^{L-1} \cdot` ``width``
    channels (:math:`b = 7` for 28×28, 4 otherwise) → :math:`L - 1` stride-2 transposed
    convolutions (4×4, ReLU, LayerNorm, halving the channels) → a last stride-2 transposed
    convolution to ``channels`` → tanh. :math:`L = \log_2(\mathrm{size} / b)` (2, 3 or 4).

    Attributes:
        size: frame side h = w: 28, 32 or 64 (MoCoGAN's).
        channels: image channels c (1 for MNIST).
        width: channels of the last hidden layer; doubled at each earlier layer (MoCoGAN: 64).
        d_content: size of the content code :math:`z_c` (MoCoGAN: 50).
        d_motion: size of a motion code :math:`z_m(k)` (MoCoGAN's GRU: 10).

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> g = ImageGenerator(size=28, d_content=4, d_motion=2, width=4)
        >>> params = g.init(jr.key(0), jnp.zeros(4), jnp.zeros(2))
        >>> g.apply(params, jnp.zeros((3, 4)), jnp.ones((3, 2))).shape
        (3, 28, 28, 1)
    """

    size: int = 32
    channels: int = 1
    width: int = 16
    d_content: int = 50
    d_motion: int = 10

    @nn.compact
    def __call__(
        self, z_content: Float[ArrayLike, "*batch dc"], z_motion: Float[ArrayLike, "*batch dm"]
    ) -> Frames:
        """Frames for codes with the same leading batch axes.

        Args:
            z_content: content codes, shape ``[..., d_content]``.
            z_motion: motion codes, shape ``[..., d_motion]``, same leading axes as `z_content`
                (no implicit broadcasting: repeat the content code over frames yourself, or use
                `generate_video`).

        Returns:
            Frames of shape ``[..., size, size, channels]``, values in [−1, 1].

        Raises:
            ValueError: for a bad configuration, or codes of the wrong size or leading axes.
        """
        _check_config(self.size, self.channels, self.width)
        z_content, z_motion = jnp.asarray(z_content), jnp.asarray(z_motion)
        _check_trailing("z_content", z_content, (self.d_content,), "d_content")
        _check_trailing("z_motion", z_motion, (self.d_motion,), "d_motion")
        if z_content.shape[:-1] != z_motion.shape[:-1]:
            raise ValueError(
                "`z_content` and `z_motion` must have the same leading axes, got "
                f"{z_content.shape} and {z_motion.shape}."
            )
        batch = z_content.shape[:-1]
        z = jnp.concatenate([z_content, z_motion], axis=-1)
        z = z.reshape(-1, self.d_content + self.d_motion)
        base, stages = _BASE[self.size], _n_stages(self.size)
        features = self.width * 2 ** (stages - 1)
        x = nn.Dense(base * base * features)(z).reshape(-1, base, base, features)
        x = nn.relu(nn.LayerNorm(reduction_axes=(-3, -2, -1))(x))
        for i in range(stages - 1):
            up = ConvTranspose(features // 2 ** (i + 1), (4, 4), strides=(2, 2))
            x = up(x)
            # Per-sample normalisation: frames stay independent of each other (no batch stats).
            x = nn.relu(nn.LayerNorm(reduction_axes=(-3, -2, -1))(x))
        x = ConvTranspose(self.channels, (4, 4), strides=(2, 2))(x)
        return jnp.tanh(x).reshape(*batch, self.size, self.size, self.channels)


class ImageDiscriminator(nn.Module):
    r"""DCGAN frame discriminator :math:`D_I(x) \in \mathbb{R}` (a logit per frame).

    :math:`L` stride-2 4×4 convolutions (``width``, ``2 width``, ...; LeakyReLU 0.2) down to a
    :math:`b \times b` map, flattened into one linear logit. Use it on the frames of a video by
    passing ``[b, t, h, w, c]`` (leading axes are batch axes).

    Attributes:
        size: frame side h = w: 28, 32 or 64.
        channels: image channels c.
        width: channels of the first layer; doubled at each later layer.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> d = ImageDiscriminator(size=28, width=4)
        >>> params = d.init(jr.key(0), jnp.zeros((28, 28, 1)))
        >>> d.apply(params, jnp.zeros((2, 5, 28, 28, 1))).shape
        (2, 5)
    """

    size: int = 32
    channels: int = 1
    width: int = 16

    @nn.compact
    def __call__(self, frames: Float[ArrayLike, "*batch h w c"]) -> Logits:
        """Logits of frames.

        Args:
            frames: shape ``[..., size, size, channels]``.

        Returns:
            Logits of shape ``[...]``.

        Raises:
            ValueError: for a bad configuration or frames of the wrong shape.
        """
        _check_config(self.size, self.channels, self.width)
        frames = jnp.asarray(frames)
        _check_trailing("frames", frames, (self.size, self.size, self.channels), "h, w, c")
        batch = frames.shape[:-3]
        x = frames.reshape(-1, self.size, self.size, self.channels)
        for i in range(_n_stages(self.size)):
            x = nn.leaky_relu(Conv(self.width * 2**i, (4, 4), strides=(2, 2))(x), 0.2)
        return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0].reshape(batch)


class SpaceTimeConv(nn.Module):
    r"""A 3-D convolution over (t, h, w) with stride (1, s, s), computed as a 2-D one.

    Same function, parameters (``kernel`` ``[k_t, k_h, k_w, c, features]``, ``bias``) and
    initialisation as ``nn.Conv(features, (k_t, k_h, k_w), strides=(1, s, s), padding="SAME")``:
    time is padded as "SAME" does, the k_t time-shifted copies of the clip are stacked along
    channels and one 2-D convolution with the kernel reshaped to ``[k_h, k_w, k_t c, features]``
    runs on every frame (`common.conv.conv`: on CPU, as a stride-1 convolution). Why: XLA's CPU
    backward pass of 3-D convolutions is 10–40× slower than that of the 2-D equivalent
    (MoCoGAN's video discriminator: 4.2 s → 0.1 s per input gradient).

    Attributes:
        features: output channels.
        kernel_size: ``(k_t, k_h, k_w)``.
        stride: spatial stride s (time keeps stride 1).
    """

    features: int
    kernel_size: tuple[int, int, int] = (4, 4, 4)
    stride: int = 2

    @nn.compact
    def __call__(self, x: Float[ArrayLike, "b t h w c"]) -> Float[Array, "b t h2 w2 features"]:
        """Convolves clips ``[b, t, h, w, c]``; returns ``[b, t, ⌈h/s⌉, ⌈w/s⌉, features]``."""
        kt, kh, kw = self.kernel_size
        b, t, h, w, c = x.shape
        kernel = self.param(
            "kernel", nn.initializers.lecun_normal(), (kt, kh, kw, c, self.features)
        )
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        low = (kt - 1) // 2  # "SAME" padding of a stride-1 axis: (k - 1) // 2 before, rest after
        padded = jnp.pad(x, ((0, 0), (low, kt - 1 - low), (0, 0), (0, 0), (0, 0)))
        taps = jnp.concatenate([padded[:, tau : tau + t] for tau in range(kt)], axis=-1)
        y = conv(
            taps.reshape(b * t, h, w, kt * c),
            kernel.transpose(1, 2, 0, 3, 4).reshape(kh, kw, kt * c, self.features),
            (self.stride, self.stride),
        )
        return (y + bias[None, None, None]).reshape(b, t, *y.shape[1:])


class VideoDiscriminator(nn.Module):
    r"""MoCoGAN clip discriminator :math:`D_V(v) \in \mathbb{R}` with 3-D convolutions.

    :math:`L` 4×4×4 convolutions with stride (1, 2, 2) — time keeps its length, space is halved,
    as in MoCoGAN — (``width``, ``2 width``, ...; LeakyReLU 0.2; computed by `SpaceTimeConv`),
    flattened into one linear logit. The linear layer fixes ``n_frames``: clips must have that
    many frames.

    Attributes:
        n_frames: frames per clip t.
        size: frame side h = w: 28, 32 or 64.
        channels: image channels c.
        width: channels of the first layer; doubled at each later layer.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> d = VideoDiscriminator(n_frames=4, size=28, width=4)
        >>> params = d.init(jr.key(0), jnp.zeros((4, 28, 28, 1)))
        >>> d.apply(params, jnp.zeros((3, 4, 28, 28, 1))).shape
        (3,)
    """

    n_frames: int = 16
    size: int = 32
    channels: int = 1
    width: int = 16

    @nn.compact
    def __call__(self, videos: Float[ArrayLike, "*batch t h w c"]) -> Logits:
        """Logits of clips.

        Args:
            videos: shape ``[..., n_frames, size, size, channels]``.

        Returns:
            Logits of shape ``[...]``.

        Raises:
            ValueError: for a bad configuration or clips of the wrong shape.
        """
        _check_config(self.size, self.channels, self.width)
        if not isinstance(self.n_frames, int) or self.n_frames < 1:
            raise ValueError(f"`n_frames` must be a positive int, got {self.n_frames!r}.")
        videos = jnp.asarray(videos)
        shape = (self.n_frames, self.size, self.size, self.channels)
        _check_trailing("videos", videos, shape, "t, h, w, c")
        batch = videos.shape[:-4]
        x = videos.reshape(-1, *shape)
        for i in range(_n_stages(self.size)):
            x = nn.leaky_relu(SpaceTimeConv(self.width * 2**i, name=f"Conv_{i}")(x), 0.2)
        return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0].reshape(batch)


def generate_video(
    params: dict,
    generator: ImageGenerator,
    content: Float[ArrayLike, " dc"],
    motion: Float[ArrayLike, "t dm"],
) -> Float[Array, "t h w c"]:
    r"""One video :math:`x_k = G(z_c, z_m(k))`: the content code repeated over the frames.

    Args:
        params: the generator's variables (from ``generator.init``).
        generator: the image generator.
        content: content code :math:`z_c`, shape ``[d_content]``.
        motion: motion trajectory :math:`z_m`, shape ``[t, d_motion]``.

    Returns:
        Video of shape ``[t, size, size, channels]``, values in [−1, 1].

    Raises:
        ValueError: if `content` is not ``[d_content]`` or `motion` not ``[t, d_motion]``.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> g = ImageGenerator(size=28, d_content=4, d_motion=2, width=4)
        >>> params = g.init(jr.key(0), jnp.zeros(4), jnp.zeros(2))
        >>> generate_video(params, g, jnp.zeros(4), jnp.zeros((16, 2))).shape
        (16, 28, 28, 1)
    """
    content, motion = jnp.asarray(content), jnp.asarray(motion)
    if content.shape != (generator.d_content,):
        raise ValueError(
            f"`content` must have shape ({generator.d_content},), got {content.shape}."
        )
    if motion.ndim != 2 or motion.shape[1] != generator.d_motion:
        raise ValueError(
            f"`motion` must have shape [t, {generator.d_motion}], got {motion.shape}."
        )
    repeated = jnp.broadcast_to(content, (motion.shape[0], generator.d_content))
    return generator.apply(params, repeated, motion)


def mocogan_generate(
    params: dict,
    generator: ImageGenerator,
    content: Float[ArrayLike, "b dc"],
    motion: Float[ArrayLike, "b t dm"],
) -> Float[Array, "b t h w c"]:
    r"""A batch of videos: `generate_video` vmapped over the batch.

    :math:`x_{i,k} = G(z_c^{(i)}, z_m^{(i)}(k))`. The vmap costs nothing extra: JAX's batching
    rule for convolutions folds the vmapped axis into the convolution's batch axis, so the
    ``b × t`` frames go through each layer as one batched convolution.

    Args:
        params: the generator's variables (from ``generator.init``).
        generator: the image generator.
        content: content codes, shape ``[b, d_content]`` (one per video).
        motion: motion trajectories, shape ``[b, t, d_motion]`` (e.g. from
            `video.apply_batch`).

    Returns:
        Videos of shape ``[b, t, size, size, channels]``, values in [−1, 1].

    Raises:
        ValueError: if `content` is not ``[b, d_content]``, `motion` not ``[b, t, d_motion]``,
            or their batch sizes differ.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> g = ImageGenerator(size=32, d_content=4, d_motion=2, width=4)
        >>> params = g.init(jr.key(0), jnp.zeros(4), jnp.zeros(2))
        >>> mocogan_generate(params, g, jnp.zeros((2, 4)), jnp.zeros((2, 8, 2))).shape
        (2, 8, 32, 32, 1)
    """
    content, motion = jnp.asarray(content), jnp.asarray(motion)
    if content.ndim != 2 or content.shape[1] != generator.d_content:
        raise ValueError(
            f"`content` must have shape [b, {generator.d_content}], got {content.shape}."
        )
    if motion.ndim != 3 or motion.shape[2] != generator.d_motion:
        raise ValueError(
            f"`motion` must have shape [b, t, {generator.d_motion}], got {motion.shape}."
        )
    if content.shape[0] != motion.shape[0]:
        raise ValueError(
            f"`content` and `motion` must have the same batch size, got {content.shape[0]} "
            f"and {motion.shape[0]}."
        )
    return jax.vmap(lambda c, m: generate_video(params, generator, c, m))(content, motion)
