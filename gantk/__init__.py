"""GAN(TK)²: the Neural Tangent Kernel view of GANs, and the particle flows it induces.

Build the infinite-width kernel of a discriminator architecture, get the discriminator trained
for a loss in closed form or by an ODE on its support, move a cloud of generated particles along
the gradient field it induces, and measure the result with the Sinkhorn divergence.
Thesis: J.-Y. Franceschi, PhD thesis (2022), ch. 6; paper: arXiv:2106.05566.
"""

from ._discriminators import KernelDiscriminator as KernelDiscriminator
from ._discriminators import discriminator as discriminator
from ._discriminators import ipm_discriminator as ipm_discriminator
from ._discriminators import lsgan_discriminator as lsgan_discriminator
from ._discriminators import ode_discriminator as ode_discriminator
from ._fields import dirac_gan_field as dirac_gan_field
from ._fields import plane_field as plane_field
from ._flows import FiniteWidthFlow as FiniteWidthFlow
from ._flows import FlowOutput as FlowOutput
from ._flows import FlowState as FlowState
from ._flows import InfiniteWidthFlow as InfiniteWidthFlow
from ._flows import advance as advance
from ._flows import couple_velocities as couple_velocities
from ._flows import run_flow as run_flow
from ._flows import shard_particles as shard_particles
from ._flows import shard_state as shard_state
from ._kernels import AbstractKernel as AbstractKernel
from ._kernels import MLPKernel as MLPKernel
from ._kernels import RBFKernel as RBFKernel
from ._kernels import StaxKernel as StaxKernel
from ._kernels import gram as gram
from ._kernels import gram_matvec as gram_matvec
from ._losses import LOSSES as LOSSES
from ._losses import Loss as Loss
from ._losses import get_loss as get_loss
from ._networks import MLPDiscriminator as MLPDiscriminator
from ._networks import discriminator_loss as discriminator_loss
from ._networks import mlp_discriminator as mlp_discriminator
from ._networks import train_discriminator as train_discriminator
