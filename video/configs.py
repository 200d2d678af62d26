r"""Named run configurations for `python -m video`: MoCoGAN on rotating MNIST, one per motion.

Every preset trains a MoCoGAN (`video.MoCoGAN`) on bidirectional rotating MNIST
(`video.datasets`) with MoCoGAN's optimiser (Adam, lr 2e-4, β = (0.5, 0.999), BCE with the
non-saturating generator loss, alternating D/G updates) and code sizes (content 50, motion 10),
at a CPU-sized network width. They differ in the motion generator:

- ``gru``: MoCoGAN's GRU with fresh noise at every frame.
- ``ode``: Gordon & Parde's latent ODE (Linear∘tanh∘Linear, classical RK4 on the frame grid),
  deterministic given :math:`z_0`.
- ``sde``: the same drift and diffusion, Euler–Maruyama with ≈ 0.022 steps (3 per frame;
  Gordon & Parde use dt 0.025), fresh Brownian motion per video.
- ``cde``: a neural CDE driven by fresh per-frame noise.
- ``odernn``: ODE flow between frames, GRU update with fresh noise at each frame.
- ``ncode_open`` / ``ncode_closed``: N-CODE (a hypernetwork γ(z₀) sets the field's weights;
  closed loop integrates them with the state).
- ``seed000``: seed 000's protocol, the one whose ODE collapsed to one direction: the
  ``faithful`` data (frames in [0, 1], per-frame min–max normalisation, 500 videos of digit 3),
  the ODE generator with the noise mapped to the state by a network, two D steps per G step.
- ``ode_rk4``: the GRU MoCoGAN trained as an ODE (`odegan.ode_step`, RK4, h = 0.02, λ = 0.005,
  the paper's DCGAN range).

`method` is ``adam`` or ``sgd`` (per-player `odegan.gradient_play`, `order` simultaneous or
alternating, learning rate `lr`) or an `odegan.SOLVERS` integrator (`odegan.ode_step` with step
`dt` and regulariser λ = `regulariser`).
"""

import dataclasses

import jax
import jax.numpy as jnp
import optax

from common.mnist import load_mnist
from odegan import LOSS_PAIRS, SOLVERS, gradient_play, ode_step

from ._models import ImageDiscriminator, ImageGenerator, VideoDiscriminator
from ._motion import MOTIONS, get_motion
from ._train import MoCoGAN
from .datasets import _FAITHFUL_VIDEOS, MODES, _digit_pool, rotating_mnist

OPTIMISERS = ("adam", "sgd")
ORDERS = ("alternating", "simultaneous")
# Motion generators without a per-frame noise input.
DETERMINISTIC_MOTIONS = ("ode", "ncode_open", "ncode_closed")
DIFFEQ_MOTIONS = ("ode", "sde", "cde", "ode_rnn", "ncode_open", "ncode_closed")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One MoCoGAN training run on rotating MNIST.

    Attributes:
        motion: motion generator, a name in `video.MOTIONS` (``gru``, ``ode``, ``sde``, ``cde``,
            ``ode_rnn``, ``ncode_open``, ``ncode_closed``).
        data_mode: ``clean`` (bilinear, frames in [−1, 1], all digits, endless stream) or
            ``faithful`` (seed 000's quirks; see `video.datasets`).
        digit: keep only this digit class (0–9); None: all (``faithful``: 3).
        n_videos: size of a fixed, pre-rendered training set drawn from with replacement; None:
            an endless stream of fresh videos (``faithful``: 500).
        n_frames: frames per clip t.
        size: frame side, 28 or 32.
        batch_size: real and fake clips per minibatch.
        content_dim: content code size :math:`d_c` (MoCoGAN: 50).
        motion_dim: motion code size, the motion generator's state (MoCoGAN's GRU: 10).
        motion_noise_dim: size of the initial motion noise :math:`z_0`; must equal `motion_dim`
            unless `init_net`.
        motion_hidden: hidden width of the motion generator's networks.
        init_net: map :math:`z_0` to the initial state with an MLP (seed 000's ODE).
        motion_solver: the diffeq motions' solver, a name in `odegan.SOLVERS`, or ``auto`` for
            the generator's default (RK4; Euler for the SDE).
        steps_per_frame: fixed solver steps per frame interval (diffeq motions).
        fresh_noise_per_frame: True: a stochastic motion generator draws its per-frame noise
            afresh for every video (GRU and ODE-RNN inputs, CDE driving path, SDE Brownian
            motion); False: one noise realisation shared by all videos and steps, so the motion is
            a deterministic function of :math:`z_0`. Must be False for the deterministic ``ode``,
            ``ncode_open`` and ``ncode_closed``, which have no per-frame noise input.
        width: image generator width (channels of its last hidden layer; MoCoGAN: 64).
        d_width: discriminators' first-layer width.
        method: ``adam``, ``sgd`` or an `odegan.SOLVERS` integrator.
        order: ``alternating`` (D then G on the updated D, MoCoGAN) or ``simultaneous``
            (``adam``/``sgd`` only).
        lr: learning rate of ``adam``/``sgd`` (MoCoGAN: 2e-4).
        b1: Adam's β₁ (MoCoGAN: 0.5).
        b2: Adam's β₂ (MoCoGAN: 0.999).
        dt: step size h of an integrator.
        regulariser: λ of `odegan.ode_step` (integrators only).
        d_steps: discriminator updates per generator update (``adam``/``sgd`` only; seed 000: 2).
        loss: loss pair name in `odegan.LOSS_PAIRS` (BCE with non-saturating generator).
        steps: generator updates.
        eval_every: steps between logged metrics (chunk length of the jitted `lax.scan`).
        eval_videos: generated (and real) videos for the motion metrics at each evaluation.
        gif_videos: videos in each GIF grid (fixed codes across evaluations).
        checkpoint_every: steps between checkpoints (rounded up to a multiple of `eval_every`).
        seed: seed of initialisation, data and codes.
    """

    motion: str = "gru"
    data_mode: str = "clean"
    digit: int | None = None
    n_videos: int | None = None
    n_frames: int = 16
    size: int = 28
    batch_size: int = 32
    content_dim: int = 50
    motion_dim: int = 10
    motion_noise_dim: int = 10
    motion_hidden: int = 32
    init_net: bool = False
    motion_solver: str = "auto"
    steps_per_frame: int = 1
    fresh_noise_per_frame: bool = True
    width: int = 16
    d_width: int = 16
    method: str = "adam"
    order: str = "alternating"
    lr: float = 2e-4
    b1: float = 0.5
    b2: float = 0.999
    dt: float = 0.02
    regulariser: float = 0.0
    d_steps: int = 1
    loss: str = "non_saturating"
    steps: int = 5000
    eval_every: int = 250
    eval_videos: int = 64
    gif_videos: int = 16
    checkpoint_every: int = 1000
    seed: int = 0

    def __post_init__(self):
        for name, allowed in (
            ("motion", tuple(MOTIONS)),
            ("data_mode", MODES),
            ("size", (28, 32)),
            ("method", (*OPTIMISERS, *SOLVERS)),
            ("order", ORDERS),
            ("loss", tuple(LOSS_PAIRS)),
            ("motion_solver", ("auto", *SOLVERS)),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"`{name}` must be one of {allowed}; got {getattr(self, name)!r}.")
        for name in (
            "batch_size", "content_dim", "motion_dim", "motion_noise_dim", "motion_hidden",
            "steps_per_frame", "width", "d_width", "d_steps", "steps", "eval_every",
            "eval_videos", "gif_videos", "checkpoint_every",
        ):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int; got {value!r}.")
        if not isinstance(self.n_frames, int) or self.n_frames < 2:
            raise ValueError(f"`n_frames` must be an int >= 2; got {self.n_frames!r}.")
        if self.digit is not None and self.digit not in range(10):
            raise ValueError(f"`digit` must be in 0..9 or None; got {self.digit!r}.")
        if self.n_videos is not None and not (
            isinstance(self.n_videos, int) and self.n_videos >= self.batch_size
        ):
            raise ValueError(
                f"`n_videos` must be None or an int >= `batch_size` ({self.batch_size}); got "
                f"{self.n_videos!r}."
            )
        for name in ("lr", "dt"):
            if not getattr(self, name) > 0:
                raise ValueError(f"`{name}` must be > 0; got {getattr(self, name)!r}.")
        for name in ("b1", "b2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be in [0, 1); got {getattr(self, name)!r}.")
        if not self.regulariser >= 0:
            raise ValueError(f"`regulariser` must be >= 0; got {self.regulariser!r}.")
        if self.motion_noise_dim != self.motion_dim and not self.init_net:
            raise ValueError(
                f"`motion_noise_dim` ({self.motion_noise_dim}) must equal `motion_dim` "
                f"({self.motion_dim}) unless `init_net` maps the noise to the state."
            )
        if self.fresh_noise_per_frame and self.motion in DETERMINISTIC_MOTIONS:
            raise ValueError(
                f"`fresh_noise_per_frame` must be False for `motion` {self.motion!r}: it has no "
                "per-frame noise input."
            )
        if self.motion_solver != "auto" and self.motion not in DIFFEQ_MOTIONS:
            raise ValueError(
                f"`motion_solver` applies to differential-equation motions only; `motion` "
                f"{self.motion!r} needs motion_solver='auto'."
            )
        if self.method in SOLVERS and self.d_steps != 1:
            raise ValueError(
                f"`d_steps` must be 1 with the integrator {self.method!r} (it integrates the "
                f"joint field); got {self.d_steps}."
            )
        if self.method in OPTIMISERS and self.regulariser > 0:
            raise ValueError(
                f"`regulariser` applies to integrators only; `method` {self.method!r} needs "
                "regulariser=0."
            )

    @property
    def name(self) -> str:
        """A short name for run folders: motion, data mode, method."""
        return f"{self.motion}_{self.data_mode}_{self.method}"


PRESETS: dict[str, TrainConfig] = {
    "gru": TrainConfig(),
    "ode": TrainConfig(motion="ode", fresh_noise_per_frame=False),
    "sde": TrainConfig(motion="sde", steps_per_frame=3),
    "cde": TrainConfig(motion="cde"),
    "odernn": TrainConfig(motion="ode_rnn"),
    "ncode_open": TrainConfig(motion="ncode_open", fresh_noise_per_frame=False),
    "ncode_closed": TrainConfig(motion="ncode_closed", fresh_noise_per_frame=False),
    "seed000": TrainConfig(
        motion="ode",
        data_mode="faithful",
        fresh_noise_per_frame=False,
        init_net=True,
        motion_dim=16,
        motion_noise_dim=10,
        d_steps=2,
    ),
    "ode_rk4": TrainConfig(method="rk4", dt=0.02, regulariser=0.005),
}


def tiny(config: TrainConfig) -> TrainConfig:
    """A seconds-long variant of `config` for tests: 4 frames, tiny networks, 4 steps."""
    motion_dim = 3
    return dataclasses.replace(
        config,
        n_videos=None if config.n_videos is None and config.data_mode == "clean" else 8,
        n_frames=4,
        batch_size=4,
        content_dim=4,
        motion_dim=motion_dim,
        motion_noise_dim=2 if config.init_net else motion_dim,
        motion_hidden=4,
        steps_per_frame=1,
        width=4,
        d_width=4,
        steps=4,
        eval_every=2,
        eval_videos=4,
        gif_videos=4,
        checkpoint_every=2,
    )


def make_model(config: TrainConfig) -> MoCoGAN:
    """The networks of a configuration.

    Args:
        config: the run.

    Returns:
        A `video.MoCoGAN` (one-channel frames).
    """
    kwargs = dict(
        d_noise=config.motion_noise_dim,
        d_state=config.motion_dim,
        d_hidden=config.motion_hidden,
        init_net=config.init_net,
    )
    if config.motion in DIFFEQ_MOTIONS:
        kwargs["steps_per_frame"] = config.steps_per_frame
        if config.motion_solver != "auto":
            kwargs["solver"] = config.motion_solver
    frame = dict(size=config.size, channels=1)
    return MoCoGAN(
        motion=get_motion(config.motion, **kwargs),
        generator=ImageGenerator(
            **frame, width=config.width, d_content=config.content_dim, d_motion=config.motion_dim
        ),
        image_discriminator=ImageDiscriminator(**frame, width=config.d_width),
        video_discriminator=VideoDiscriminator(
            **frame, n_frames=config.n_frames, width=config.d_width
        ),
        fresh_noise_per_frame=config.fresh_noise_per_frame,
        loss=config.loss,
    )


def make_transformation(config: TrainConfig) -> optax.GradientTransformationExtraArgs:
    """The optimiser or integrator of a configuration.

    Args:
        config: the run.

    Returns:
        ``odegan.gradient_play(optax.adam(lr, b1, b2), order=order)`` (or `optax.sgd(lr)`), or
        ``odegan.ode_step(method, dt, regulariser=regulariser)``.
    """
    if config.method == "adam":
        return gradient_play(optax.adam(config.lr, b1=config.b1, b2=config.b2), order=config.order)
    if config.method == "sgd":
        return gradient_play(optax.sgd(config.lr), order=config.order)
    return ode_step(config.method, config.dt, regulariser=config.regulariser)


def _divisor_at_most(n: int, cap: int) -> int:
    return max(d for d in range(1, min(n, cap) + 1) if n % d == 0)


def make_data(config: TrainConfig, *, key: jax.Array) -> dict[str, jax.Array]:
    """The training data of a configuration, as a `video.rotating_mnist_sampler` source.

    Args:
        config: the run.
        key: PRNG key of the fixed set (unused for a stream).

    Returns:
        ``{"pool": [m, s, s]}`` source digits for a stream (``clean`` without `n_videos`), or
        ``{"videos": [n, t, s, s, 1]}`` the fixed set of `rotating_mnist` (``faithful``: 500
        videos of digit 3 unless `digit` / `n_videos` say otherwise), rendered in chunks.
    """
    images, labels = load_mnist()
    if config.data_mode == "clean" and config.n_videos is None:
        pool, _ = _digit_pool(images, labels, config.digit, config.size)
        return {"pool": pool}
    n = _FAITHFUL_VIDEOS if config.n_videos is None else config.n_videos
    chunk = _divisor_at_most(n, 100)  # bounds the memory of bicubic rendering
    stream = rotating_mnist(
        chunk,
        key=key,
        mode=config.data_mode,
        n_frames=config.n_frames,
        size=config.size,
        digit=config.digit,
        n_videos=n,
        images=images,
        labels=labels,
    )
    # The first epoch visits each of the `n` videos once.
    return {"videos": jnp.concatenate([next(stream).videos for _ in range(n // chunk)])}


def value_range(config: TrainConfig) -> tuple[float, float]:
    """The (background, foreground) values of the data: (−1, 1) clean, (0, 1) faithful."""
    return (-1.0, 1.0) if config.data_mode == "clean" else (0.0, 1.0)
