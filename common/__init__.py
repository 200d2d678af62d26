"""Shared substrate: MNIST readers, picture writers and run folders (config, metrics, checkpoints).

`common` knows nothing of GANs: `gantk`, `odegan` and `video` import it, never the reverse.
Offline sample quality: `common.features` (Fréchet distance, KID, classifier score, class
coverage on any feature extractor; nothing is called FID or IS, re-exported here) and
`common.classifier` (a small CNN trained on the data and cached in a run folder; import it
explicitly, it needs flax and optax); `common.cifar` reads a local CIFAR-10 copy.
`common.experiment` is the run-folder loop (resume, evaluate, log, checkpoint, progress) that
the three packages' experiments share.
"""

from .cifar import LoadCIFARError as LoadCIFARError
from .cifar import load_cifar10 as load_cifar10
from .features import class_coverage as class_coverage
from .features import classifier_score as classifier_score
from .features import frechet_distance as frechet_distance
from .features import kernel_distance as kernel_distance
from .features import quality_metrics as quality_metrics
from .features import quality_report as quality_report
from .media import image_grid as image_grid
from .media import save_figure as save_figure
from .media import save_gif as save_gif
from .media import save_image_grid as save_image_grid
from .media import save_video_grid_gif as save_video_grid_gif
from .mnist import LoadMNISTError as LoadMNISTError
from .mnist import load_mnist as load_mnist
from .mnist import mnist_subset as mnist_subset
from .runs import append_metrics as append_metrics
from .runs import latest_step as latest_step
from .runs import make_run_dir as make_run_dir
from .runs import read_config as read_config
from .runs import read_metrics as read_metrics
from .runs import restore_checkpoint as restore_checkpoint
from .runs import save_checkpoint as save_checkpoint
