r"""MoCoGAN training: the game of a video GAN, a pure jitted step, many steps with `lax.scan`.

A video GAN in MoCoGAN's form (Tulyakov et al. 2018, https://arxiv.org/abs/1707.04993) is a
two-player game on `odegan.Players`: the discriminator parameters
:math:`\theta = (\theta_I, \theta_V)` of an image discriminator :math:`D_I` (single frames) and
a video discriminator :math:`D_V` (3-D convolutions on clips), and the generator parameters
:math:`\phi = (\phi_G, \phi_M)` of an image generator G and a motion generator M (any of
`video.MOTIONS`). A fake video is

.. math:: x_k = G\bigl(z_c, z_m(t_k)\bigr), \quad z_c \sim \mathcal N(0, I), \quad
    z_m = M(z_0, \varepsilon), \quad z_0 \sim \mathcal N(0, I),

on the frame times :math:`t_k = k / (t - 1)` (Gordon & Parde's [0, 1]), where
:math:`\varepsilon` is the motion generator's per-frame noise (GRU / ODE-RNN inputs, the CDE's
driving path, the SDE's Brownian motion). With a loss pair :math:`(\ell_D, \ell_G)` of
`odegan.LOSS_PAIRS` (BCE with the non-saturating generator loss by default) the game is

.. math:: L_D = \ell_D\bigl(D_I(x^\text{real}_{k}), D_I(x_{k'})\bigr)
    + \ell_D\bigl(D_V(x^\text{real}), D_V(x)\bigr), \qquad
    L_G = \ell_G(\cdot_I) + \ell_G(\cdot_V),

one random frame k (k') per real (fake) video for :math:`D_I`. Nash values: :math:`L_D = 2\log 4`,
:math:`L_G = 2\log 2`.

The step reuses odegan: `odegan.train_step` builds the joint velocity
:math:`-[\partial_\theta L_D, \partial_\phi L_G]` (the library's one sign convention) and hands it
to any transformation of odegan — `odegan.gradient_play` of `optax.adam` (MoCoGAN's optimiser,
simultaneous or alternating) or `odegan.ode_step` (a video GAN trained as an ODE, with the
regulariser λ); its ``d_steps`` gives MoCoGAN's extra discriminator updates. `odegan.train_step`
and `odegan.train` are the training step and loop.
All randomness of a minibatch (real clips, codes, frame picks, noise key) is drawn by
`sample_mocogan_batch` from the step's key, so a minibatch is a value and every stage of an
ODE step sees the same one.
"""

import functools as ft
import math
from collections.abc import Callable
from typing import NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import jax.random as jr
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import Float, PyTree

from odegan import Players, get_loss_pair

from ._models import ImageDiscriminator, ImageGenerator, VideoDiscriminator, mocogan_generate
from ._motion import AbstractMotion, apply_batch
from .datasets import _sample_motion, rotating_video


class MoCoGANBatch(NamedTuple):
    """One minibatch of the MoCoGAN game: real clips and every random input of the fakes."""

    videos: Array  # [b, t, h, w, c] float32, real clips
    content: Array  # [b, d_content] float32, content codes z_c
    motion_noise: Array  # [b, d_noise] float32, initial motion noise z_0
    noise_key: Array  # [] PRNG key of the per-frame noise (ignored by deterministic motions)
    real_frame: Array  # [b] int32, frame of each real clip shown to D_I
    fake_frame: Array  # [b] int32, frame of each fake clip shown to D_I


@flax.struct.dataclass(kw_only=True)
class MoCoGAN:
    r"""The networks of a MoCoGAN (a leafless pytree: pass it through `jax.jit` as is).

    Attributes:
        motion: the motion generator M (`video.get_motion`), ``d_state`` = the generator's
            ``d_motion``.
        generator: the image generator G.
        image_discriminator: :math:`D_I`, on frames ``[..., h, w, c]``.
        video_discriminator: :math:`D_V`, on clips ``[..., n_frames, h, w, c]``.
        fresh_noise_per_frame: for a stochastic motion generator, draw its per-frame noise
            afresh for every video (True: MoCoGAN's GRU inputs, the SDE's Brownian motion, the
            CDE's driving path, the ODE-RNN's GRU inputs), or use one fixed noise realisation
            for every video of every step (False: the motion is a deterministic function of
            :math:`z_0`, as in seed 000's ODE path). The ODE and N-CODE generators have no
            per-frame noise input: for them it must be False.
        loss: a loss pair name of `odegan.LOSS_PAIRS` (default ``"non_saturating"``: BCE with the
            non-saturating generator loss).

    Raises:
        ValueError: if the networks disagree on the motion size, frame size or channels, if
            `fresh_noise_per_frame` is True for a deterministic motion generator, or for an
            unknown `loss`.

    Examples:
        >>> import jax.random as jr
        >>> from video import ImageDiscriminator, ImageGenerator, VideoDiscriminator, get_motion
        >>> model = MoCoGAN(
        ...     motion=get_motion("gru", d_noise=3, d_state=3, d_hidden=4),
        ...     generator=ImageGenerator(size=28, width=4, d_content=4, d_motion=3),
        ...     image_discriminator=ImageDiscriminator(size=28, width=4),
        ...     video_discriminator=VideoDiscriminator(n_frames=4, size=28, width=4))
        >>> players = model.init(key=jr.key(0))
        >>> sorted(players.d), sorted(players.g), model.n_frames
        (['image', 'video'], ['image', 'motion'], 4)
    """

    motion: AbstractMotion = flax.struct.field(pytree_node=False)
    generator: ImageGenerator = flax.struct.field(pytree_node=False)
    image_discriminator: ImageDiscriminator = flax.struct.field(pytree_node=False)
    video_discriminator: VideoDiscriminator = flax.struct.field(pytree_node=False)
    fresh_noise_per_frame: bool = flax.struct.field(pytree_node=False, default=True)
    loss: str = flax.struct.field(pytree_node=False, default="non_saturating")

    def __post_init__(self):
        if self.motion.d_state != self.generator.d_motion:
            raise ValueError(
                f"`motion.d_state` ({self.motion.d_state}) must equal `generator.d_motion` "
                f"({self.generator.d_motion})."
            )
        frame = (self.generator.size, self.generator.channels)
        for name in ("image_discriminator", "video_discriminator"):
            disc = getattr(self, name)
            if (disc.size, disc.channels) != frame:
                raise ValueError(
                    f"`{name}` must take frames of size {frame[0]} with {frame[1]} channel(s) "
                    f"like `generator`, got size {disc.size} with {disc.channels}."
                )
        if self.fresh_noise_per_frame and not self.motion.stochastic:
            raise ValueError(
                f"`fresh_noise_per_frame=True`: {type(self.motion).__name__} has no per-frame "
                "noise input; use False."
            )
        get_loss_pair(self.loss)  # ValueError naming `loss`

    @property
    def n_frames(self) -> int:
        """Frames per clip t (fixed by the video discriminator)."""
        return self.video_discriminator.n_frames

    @property
    def frame_times(self) -> Array:
        """Frame times :math:`t_k = k / (t - 1)`, shape ``[t]``."""
        return jnp.linspace(0.0, 1.0, self.n_frames, dtype=jnp.float32)

    def init(self, *, key: Array) -> Players:
        """Initial parameters.

        Args:
            key: PRNG key.

        Returns:
            ``Players(d={"image": θ_I, "video": θ_V}, g={"image": φ_G, "motion": φ_M})``, dicts
            of Flax variables.
        """
        k_g, k_m, k_i, k_v = jr.split(key, 4)
        size, c = self.generator.size, self.generator.channels
        g = {
            "image": self.generator.init(
                k_g, jnp.zeros(self.generator.d_content), jnp.zeros(self.generator.d_motion)
            ),
            "motion": self.motion.init(k_m),
        }
        d = {
            "image": self.image_discriminator.init(k_i, jnp.zeros((size, size, c))),
            "video": self.video_discriminator.init(k_v, jnp.zeros((self.n_frames, size, size, c))),
        }
        return Players(d=d, g=g)

    def generate(
        self,
        g: PyTree,
        content: Float[ArrayLike, "b dc"],
        motion_noise: Float[ArrayLike, "b dn"],
        *,
        key: Array | None,
    ) -> Float[Array, "b t h w c"]:
        r"""Fake videos :math:`x_{i,k} = G(z_c^{(i)}, M(z_0^{(i)})_k)`.

        Args:
            g: generator parameters ``{"image": φ_G, "motion": φ_M}``.
            content: content codes, shape ``[b, d_content]``.
            motion_noise: initial motion noise, shape ``[b, d_noise]``.
            key: PRNG key of the per-frame noise: split into one key per video when
                `fresh_noise_per_frame`, shared by every video otherwise; ignored (may be None)
                for deterministic motion generators.

        Returns:
            Videos of shape ``[b, n_frames, size, size, channels]``, values in [−1, 1].
        """
        ts = self.frame_times
        if not self.motion.stochastic:
            trajectories = apply_batch(self.motion, g["motion"], motion_noise, ts)
        elif self.fresh_noise_per_frame:
            trajectories = apply_batch(self.motion, g["motion"], motion_noise, ts, key=key)
        else:
            trajectories = jax.vmap(lambda z: self.motion.apply(g["motion"], z, ts, key=key))(
                motion_noise
            )
        return mocogan_generate(g["image"], self.generator, content, trajectories)

    def losses(self, players: Players, batch: MoCoGANBatch) -> tuple[Array, Array]:
        r"""The game :math:`(L_D, L_G)` on one minibatch (the module's formula).

        Args:
            players: from `init`.
            batch: a `MoCoGANBatch`.

        Returns:
            ``(loss_d, loss_g)``, two scalars: the sums of the image and video terms.
        """
        pair = get_loss_pair(self.loss)
        fake = self.generate(players.g, batch.content, batch.motion_noise, key=batch.noise_key)
        real_frames = _pick_frames(batch.videos, batch.real_frame)
        fake_frames = _pick_frames(fake, batch.fake_frame)
        d_image = ft.partial(self.image_discriminator.apply, players.d["image"])
        d_video = ft.partial(self.video_discriminator.apply, players.d["video"])
        loss_d_image, loss_g_image = pair(d_image(real_frames), d_image(fake_frames))
        loss_d_video, loss_g_video = pair(d_video(batch.videos), d_video(fake))
        return loss_d_image + loss_d_video, loss_g_image + loss_g_video


def _pick_frames(videos: Array, index: Array) -> Array:
    """Frame `index[i]` of video i: `[b, t, h, w, c]`, `[b]` -> `[b, h, w, c]`."""
    return jax.vmap(lambda v, k: v[k])(videos, index)


def sample_mocogan_batch(
    key: Array,
    *,
    model: MoCoGAN,
    sample_videos: Callable[[Array, int], Float[Array, "n t h w c"]],
    batch_size: int,
    frozen_noise_key: Array | None = None,
) -> MoCoGANBatch:
    """A minibatch: real clips and the fakes' codes, frame picks and noise key, from `key`.

    Args:
        key: PRNG key of the minibatch.
        model: the `MoCoGAN`.
        sample_videos: ``sample_videos(key, n) -> [n, t, h, w, c]`` real clips (e.g. from
            `rotating_mnist_sampler`).
        batch_size: b, real and fake clips per minibatch.
        frozen_noise_key: the per-frame noise key used at every step when
            ``model.fresh_noise_per_frame`` is False (required then); ignored otherwise.

    Returns:
        A `MoCoGANBatch`.

    Raises:
        ValueError: if `frozen_noise_key` is missing where it is needed.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> from video import ImageDiscriminator, ImageGenerator, VideoDiscriminator, get_motion
        >>> model = MoCoGAN(
        ...     motion=get_motion("ode", d_noise=3, d_state=3, d_hidden=4),
        ...     generator=ImageGenerator(size=28, width=4, d_content=4, d_motion=3),
        ...     image_discriminator=ImageDiscriminator(size=28, width=4),
        ...     video_discriminator=VideoDiscriminator(n_frames=4, size=28, width=4),
        ...     fresh_noise_per_frame=False)
        >>> real = lambda key, n: jnp.zeros((n, 4, 28, 28, 1))
        >>> batch = sample_mocogan_batch(jr.key(0), model=model, sample_videos=real, batch_size=5)
        >>> batch.videos.shape, batch.content.shape, batch.motion_noise.shape
        ((5, 4, 28, 28, 1), (5, 4), (5, 3))
    """
    k_data, k_content, k_motion, k_noise, k_real, k_fake = jr.split(key, 6)
    if model.motion.stochastic and not model.fresh_noise_per_frame:
        if frozen_noise_key is None:
            raise ValueError(
                "`frozen_noise_key` is required when `fresh_noise_per_frame` is False."
            )
        k_noise = frozen_noise_key
    gen = model.generator
    t = model.n_frames
    return MoCoGANBatch(
        videos=sample_videos(k_data, batch_size),
        content=jr.normal(k_content, (batch_size, gen.d_content)),
        motion_noise=jr.normal(k_motion, (batch_size, model.motion.d_noise)),
        noise_key=k_noise,
        real_frame=jr.randint(k_real, (batch_size,), 0, t),
        fake_frame=jr.randint(k_fake, (batch_size,), 0, t),
    )


def rotating_mnist_sampler(
    source: dict[str, Array],
    key: Array,
    n: int,
    *,
    n_frames: int,
    mode: str,
    min_sweep: float = math.pi / 2,
    max_sweep: float = 2 * math.pi,
) -> Float[Array, "n t h w 1"]:
    r"""``n`` real rotating-MNIST clips drawn from `key` inside jit (see `video.datasets`).

    Two sources: ``{"pool": [m, s, s]}`` (source digits in [0, 1]) renders fresh videos, with
    exactly balanced directions as `video.datasets.rotating_mnist`'s stream; ``{"videos": [m, t,
    s, s, 1]}`` (a pre-rendered fixed set, e.g. the faithful mode's 500) draws ``n`` of them
    uniformly with replacement. Pass `source` as a traced argument, not a closure: the arrays
    would become constants of the compiled program.

    Args:
        source: the dict described above.
        key: PRNG key.
        n: number of clips.
        n_frames: frames per clip t (rendered sources).
        mode: ``"clean"`` or ``"faithful"`` (rendered sources).
        min_sweep: smallest total rotation Δ, radians.
        max_sweep: largest total rotation Δ, radians.

    Returns:
        Clips of shape ``[n, t, s, s, 1]``.

    Raises:
        ValueError: if `source` holds neither ``"pool"`` nor ``"videos"``.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> source = {"pool": jnp.zeros((10, 28, 28))}
        >>> rotating_mnist_sampler(source, jr.key(0), 2, n_frames=4, mode="clean").shape
        (2, 4, 28, 28, 1)
    """
    if "videos" in source:
        return source["videos"][jr.randint(key, (n,), 0, source["videos"].shape[0])]
    if "pool" not in source:
        raise ValueError(f"`source` must hold 'pool' or 'videos', got keys {sorted(source)}.")
    k_idx, k_motion = jr.split(key)
    images = source["pool"][jr.randint(k_idx, (n,), 0, source["pool"].shape[0])]
    start, direction, speed = _sample_motion(k_motion, n, min_sweep, max_sweep, n_frames)
    render = ft.partial(rotating_video, n_frames=n_frames, mode=mode)
    return jax.vmap(render)(images, start, direction, speed)
