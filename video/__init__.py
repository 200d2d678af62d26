"""Video generation with latent neural ODE/SDE/CDE dynamics (MoCoGAN-style motion, N-CODE).

Motion generators (`GRUMotion`, `ODEMotion`, `SDEMotion`, `CDEMotion`, `ODERNNMotion`,
`NCODEMotion`) map an initial noise ``z0`` and frame times ``ts`` to a latent trajectory
``[t, d]`` for one sample (`apply_batch` vmaps them); `video.datasets` generates rotating MNIST
from a key; `ode_block` vs `residual_stack` is continuous vs discrete depth. `video.plot` is
the only module that imports matplotlib (not imported here).
"""

from ._depth import ConvODEField as ConvODEField
from ._depth import ode_block as ode_block
from ._depth import residual_stack as residual_stack
from ._fields import MLP as MLP
from ._fields import CDEField as CDEField
from ._fields import ControlledField as ControlledField
from ._fields import ModuleField as ModuleField
from ._fields import flatten_mlp as flatten_mlp
from ._fields import mlp_num_params as mlp_num_params
from ._fields import unflatten_mlp as unflatten_mlp
from ._metrics import DirectionCoverage as DirectionCoverage
from ._metrics import RotationEstimate as RotationEstimate
from ._metrics import digit_frame_scorer as digit_frame_scorer
from ._metrics import direction_coverage as direction_coverage
from ._metrics import estimate_rotation as estimate_rotation
from ._metrics import speed_histogram_distance as speed_histogram_distance
from ._models import ImageDiscriminator as ImageDiscriminator
from ._models import ImageGenerator as ImageGenerator
from ._models import VideoDiscriminator as VideoDiscriminator
from ._models import generate_video as generate_video
from ._models import mocogan_generate as mocogan_generate
from ._motion import MOTIONS as MOTIONS
from ._motion import AbstractDiffEqMotion as AbstractDiffEqMotion
from ._motion import AbstractMotion as AbstractMotion
from ._motion import CDEMotion as CDEMotion
from ._motion import GRUMotion as GRUMotion
from ._motion import NCODEMotion as NCODEMotion
from ._motion import ODEMotion as ODEMotion
from ._motion import ODERNNMotion as ODERNNMotion
from ._motion import SDEMotion as SDEMotion
from ._motion import apply_batch as apply_batch
from ._motion import get_motion as get_motion
from ._train import MoCoGAN as MoCoGAN
from ._train import MoCoGANBatch as MoCoGANBatch
from ._train import rotating_mnist_sampler as rotating_mnist_sampler
from ._train import sample_mocogan_batch as sample_mocogan_batch
