"""keras_memnets: memory networks and research components for Keras 3."""

from keras_memnets import analysis
from keras_memnets import callbacks
from keras_memnets import datasets
from keras_memnets import layers
from keras_memnets import losses
from keras_memnets import metrics
from keras_memnets import models
from keras_memnets import optimizers
from keras_memnets import regularizers
from keras_memnets import tuners
from keras_memnets._deprecations import install as _install_deprecations
from keras_memnets.version import __version__

# Last: the old names of moved objects, for one release.
_install_deprecations()

__all__ = [
    "__version__",
    "analysis",
    "callbacks",
    "datasets",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "tuners",
]
