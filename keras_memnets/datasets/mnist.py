"""MNIST loader with an offline bundled sample.

Three sources are supported:

- `"bundled"`: 10,000 real MNIST digits shipped inside the wheel
  (`keras_memnets/datasets/data/mnist10k.npz`, MIT licence, provenance in
  `LICENSE-mnist10k.txt` beside it). The file is verified against its sha256
  before use and split with a fixed, documented permutation into 8,000 training
  and 2,000 test digits.
- `"tfds"`: `tensorflow_datasets` `mnist`, the full 60,000 + 10,000 digits.
- `"keras"`: `keras.datasets.mnist.load_data()`, the same 70,000 digits.

`"auto"` picks tfds or keras only where their data is already on disk, and the
bundled sample otherwise, so it never waits on a network time-out.
"""

import glob
import hashlib
import importlib.util
import logging
import os

import numpy as np

from keras_memnets.utils.validation import boolean
from keras_memnets.utils.validation import float_dtype
from keras_memnets.utils.validation import one_of

logger = logging.getLogger("keras_memnets.datasets")

BUNDLED_SHA256 = (
    "94e2480bb2d38e772966d2564f7818de27e5e7d95984370b0cfb33e5bb4a39df"
)
BUNDLED_NUM_EXAMPLES = 10_000
BUNDLED_NUM_TRAIN = 8_000
# The bundled file is stored in class order. The split is a permutation from
# numpy's legacy `RandomState`, whose stream numpy guarantees to stay the same
# across versions, so the split is identical on every machine.
BUNDLED_SPLIT_SEED = 20211

SOURCES = ("auto", "bundled", "tfds", "keras")


def _bundled_path():
    return os.path.join(os.path.dirname(__file__), "data", "mnist10k.npz")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_bundled():
    path = _bundled_path()
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"The bundled MNIST sample is missing: expected the file {path} "
            f"(sha256 {BUNDLED_SHA256}). Reinstall keras_memnets, or pass "
            "`source='tfds'` or `source='keras'` to download the full MNIST."
        )
    actual = _sha256(path)
    if actual != BUNDLED_SHA256:
        raise ValueError(
            f"The bundled MNIST sample {path} is damaged: its sha256 is "
            f"{actual}, expected {BUNDLED_SHA256}. Reinstall keras_memnets."
        )
    with np.load(path, allow_pickle=False) as data:
        x, y = data["x"], data["y"]
    if x.shape != (BUNDLED_NUM_EXAMPLES, 28, 28) or y.shape != (
        BUNDLED_NUM_EXAMPLES,
    ):
        raise ValueError(
            f"The bundled MNIST sample {path} has unexpected shapes "
            f"x={x.shape}, y={y.shape}; expected (10000, 28, 28) and (10000,)."
        )
    order = np.random.RandomState(BUNDLED_SPLIT_SEED).permutation(
        BUNDLED_NUM_EXAMPLES
    )
    train, test = order[:BUNDLED_NUM_TRAIN], order[BUNDLED_NUM_TRAIN:]
    return (x[train], y[train]), (x[test], y[test])


def _tfds_data_dir(data_dir=None):
    if data_dir is not None:
        return os.path.expanduser(data_dir)
    env = os.environ.get("TFDS_DATA_DIR")
    if env:
        return os.path.expanduser(env)
    return os.path.join(os.path.expanduser("~"), "tensorflow_datasets")


def _tfds_on_disk(data_dir=None):
    if importlib.util.find_spec("tensorflow_datasets") is None:
        return False
    pattern = os.path.join(
        _tfds_data_dir(data_dir), "mnist", "*", "dataset_info.json"
    )
    return bool(glob.glob(pattern))


def _keras_cache_file():
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(home, "datasets", "mnist.npz")


def _keras_on_disk():
    return os.path.isfile(_keras_cache_file())


def _load_tfds(data_dir=None, download=True):
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise ImportError(
            "load_mnist(source='tfds') needs tensorflow-datasets: "
            "`pip install keras-memnets[tfds]`."
        ) from e
    train, test = tfds.load(
        "mnist",
        split=["train", "test"],
        batch_size=-1,
        as_supervised=True,
        data_dir=_tfds_data_dir(data_dir),
        download=download,
    )
    (x_train, y_train), (x_test, y_test) = (
        tfds.as_numpy(train),
        tfds.as_numpy(test),
    )
    # tfds stores images as (28, 28, 1) uint8 and labels as int64.
    return (
        (np.asarray(x_train)[..., 0], np.asarray(y_train).astype("uint8")),
        (np.asarray(x_test)[..., 0], np.asarray(y_test).astype("uint8")),
    )


def _load_keras():
    import keras

    return keras.datasets.mnist.load_data()


def resolve_mnist_source(source="auto", data_dir=None):
    """Returns the concrete source that `load_mnist(source)` would read.

    Args:
        source: str. One of `"auto"`, `"bundled"`, `"tfds"`, `"keras"`.
        data_dir: str or `None`. The tfds data directory to look in; defaults
            to `$TFDS_DATA_DIR` or `~/tensorflow_datasets`.

    Returns:
        One of `"bundled"`, `"tfds"`, `"keras"`. For `"auto"`: `"tfds"` if
        tensorflow-datasets is installed and its MNIST files are on disk,
        else `"keras"` if `keras.datasets.mnist` has its file cached, else
        `"bundled"`. This looks only at the local disk, never the network.
    """
    one_of(source, "source", "load_mnist", SOURCES)
    if source != "auto":
        return source
    if _tfds_on_disk(data_dir):
        return "tfds"
    if _keras_on_disk():
        return "keras"
    return "bundled"


def load_mnist(
    source="auto",
    normalize=False,
    flatten=False,
    dtype="float32",
    data_dir=None,
):
    """Loads MNIST as `((x_train, y_train), (x_test, y_test))`.

    The return value has the layout of `keras.datasets.mnist.load_data()`:
    images `(n, 28, 28)` uint8 in 0..255 and labels `(n,)` uint8 in 0..9,
    unless `normalize` or `flatten` ask otherwise.

    With no network (the default source `"auto"` on a fresh machine) this
    reads the bundled sample: 10,000 real MNIST digits, sha256-verified,
    split into 8,000 training and 2,000 test digits by the fixed permutation
    `numpy.random.RandomState(20211).permutation(10000)` (first 8,000 train).
    The source used is logged at INFO level on the `keras_memnets.datasets`
    logger.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = (
    ...     keras_memnets.datasets.load_mnist(source="bundled")
    ... )
    >>> x_train.shape, x_test.shape
    ((8000, 28, 28), (2000, 28, 28))

    Args:
        source: str. `"auto"` (default), `"bundled"`, `"tfds"` or `"keras"`.
            `"tfds"` and `"keras"` download the full 70,000 digits when they
            are not cached; offline, `"tfds"` retries for minutes before it
            fails, which is why `"auto"` checks the disk first.
        normalize: bool. If `True`, images are returned as `dtype` scaled to
            [0, 1].
        flatten: bool. If `True`, images are returned as `(n, 784)`.
        dtype: str. The floating-point dtype used when `normalize=True`.
        data_dir: str or `None`. tfds data directory (source `"tfds"` and the
            `"auto"` check).

    Returns:
        `((x_train, y_train), (x_test, y_test))` as numpy arrays.

    Raises:
        ValueError: for an unknown `source`, a `dtype` that is not a
            floating-point one with `normalize=True`, or a damaged bundled
            file (the message names the file and the expected sha256).
        TypeError: if `normalize` or `flatten` is not a bool.
        FileNotFoundError: if the bundled file is missing.
    """
    normalize = boolean(normalize, "normalize", "load_mnist")
    flatten = boolean(flatten, "flatten", "load_mnist")
    if normalize:
        dtype = float_dtype(dtype, "dtype", "load_mnist")
    resolved = resolve_mnist_source(source, data_dir=data_dir)
    if resolved == "bundled":
        (x_train, y_train), (x_test, y_test) = _load_bundled()
    elif resolved == "tfds":
        (x_train, y_train), (x_test, y_test) = _load_tfds(
            data_dir, download=source == "tfds"
        )
    else:
        (x_train, y_train), (x_test, y_test) = _load_keras()
    logger.info(
        "load_mnist: source=%r resolved to %r (%d train, %d test digits).",
        source,
        resolved,
        len(x_train),
        len(x_test),
    )

    def _prepare(x):
        if normalize:
            x = x.astype(dtype) / np.asarray(255.0, dtype=dtype)
        if flatten:
            x = x.reshape(len(x), -1)
        return x

    return (_prepare(x_train), y_train), (_prepare(x_test), y_test)
