"""ODE-GAN: GAN training as numerical integration of the players' joint gradient field.

The discriminator and generator parameters form one pytree, `Players(d, g)`; a game's velocity is
`v = -[∂ℓ_D/∂θ, ∂ℓ_G/∂φ]` (`joint_vector_field`, `game_vector_field`), and `ode_step` turns any
explicit Runge--Kutta solver (`SOLVERS`: Euler, Heun, RK4, Dopri5, ...) into an optax
transformation that integrates it, with Algorithm 1's regulariser ``λ‖∂ℓ_G/∂φ‖²``
(Qin et al. 2020, "Training Generative Adversarial Networks by Solving Ordinary Differential
Equations", https://arxiv.org/abs/2010.15040). Toy games (`rotational_game`, `linear_game`,
`dirac_gan`) come with exact solutions; `odegan.plot` draws them (it is the only module that
imports matplotlib, so it is not imported here).

Baselines take the same `vector_field` extra argument (`BASELINES`: simultaneous and alternating
gradient descent and Adam via `gradient_play`, optimistic GD, `extragradient`,
`consensus_optimization`, `symplectic_gradient_adjustment`), so one pure `train_step` on a
`TrainState`, scanned by `train`, serves them all. `mlp_gan` builds the MoG16 networks and `dcgan`
the 28×28 / 32×32 image GANs (no batch norm); `odegan.datasets` (the 16-Gaussian grid, MNIST and
CIFAR-10 from local files), `odegan.metrics` (modes covered, high-quality fraction, mode KL; image
quality lives in `common.features`) and `odegan.configs` (named presets of ``python -m odegan``)
complete it.
"""

from ._baselines import BASELINES as BASELINES
from ._baselines import GradientPlayState as GradientPlayState
from ._baselines import consensus_optimization as consensus_optimization
from ._baselines import extragradient as extragradient
from ._baselines import gradient_play as gradient_play
from ._baselines import symplectic_gradient_adjustment as symplectic_gradient_adjustment
from ._game import LOSS_PAIRS as LOSS_PAIRS
from ._game import Players as Players
from ._game import dirac_gan as dirac_gan
from ._game import game_vector_field as game_vector_field
from ._game import game_velocity_and_losses as game_velocity_and_losses
from ._game import gan_losses as gan_losses
from ._game import generator_grad_sq_norm as generator_grad_sq_norm
from ._game import get_loss_pair as get_loss_pair
from ._game import hinge_loss as hinge_loss
from ._game import joint_vector_field as joint_vector_field
from ._game import linear_game as linear_game
from ._game import linear_game_solution as linear_game_solution
from ._game import lsgan_loss as lsgan_loss
from ._game import minimax_loss as minimax_loss
from ._game import non_saturating_loss as non_saturating_loss
from ._game import regulariser_grad as regulariser_grad
from ._game import rotational_game as rotational_game
from ._game import rotational_solution as rotational_solution
from ._game import toy_game_field as toy_game_field
from ._game import wgan_loss as wgan_loss
from ._models import MLP as MLP
from ._models import BatchNormGAN as BatchNormGAN
from ._models import DCGANDiscriminator as DCGANDiscriminator
from ._models import DCGANGenerator as DCGANGenerator
from ._models import batch_norm_dcgan as batch_norm_dcgan
from ._models import dcgan as dcgan
from ._models import mlp_gan as mlp_gan
from ._solvers import RK4 as RK4
from ._solvers import SOLVERS as SOLVERS
from ._solvers import Fehlberg2 as Fehlberg2
from ._solvers import get_solver as get_solver
from ._solvers import solve_adaptive as solve_adaptive
from ._solvers import solve_on_grid as solve_on_grid
from ._train import TrainState as TrainState
from ._train import gan_batch_losses as gan_batch_losses
from ._train import gan_batch_losses_with_state as gan_batch_losses_with_state
from ._train import init_train_state as init_train_state
from ._train import sample_gan_batch as sample_gan_batch
from ._train import train as train
from ._train import train_step as train_step
from ._transform import ODEStepState as ODEStepState
from ._transform import ode_step as ode_step
