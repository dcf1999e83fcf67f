"""capacity_tuner: a resumable, distributable KerasTuner grid over
autoencoder capacity.

KerasTuner is an optional dependency (`pip install
"keras-memnets[capacity]"`): it is imported when a sweep is created, so
`import keras_memnets` works without it.
"""

import importlib.util

from keras_memnets.models.autoencoder import check_relu_placement
from keras_memnets.tuners.results import architecture_name
from keras_memnets.utils.validation import int_in_range
from keras_memnets.utils.validation import non_negative_int
from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int
from keras_memnets.utils.validation import positive_int_list
from keras_memnets.utils.validation import string

OWNER = "capacity_tuner"


def _grid_search():
    """The module of the KerasTuner classes, with a clear error without it."""
    if importlib.util.find_spec("keras_tuner") is None:
        raise ImportError(
            "keras_memnets.tuners.capacity_tuner needs KerasTuner; install it "
            "with the extra: pip install 'keras-memnets[capacity]' (or pip "
            "install keras-tuner)."
        )
    from keras_memnets.tuners import grid_search

    return grid_search


def _list(values, argument):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"{OWNER}: `{argument}` must be a non-empty list, got {values!r}."
        )
    values = list(values)
    if not values:
        raise ValueError(
            f"{OWNER}: `{argument}` must be a non-empty list, got []."
        )
    return values


def capacity_tuner(
    encoder_sizes,
    latent_dims,
    seeds=(0, 1, 2),
    directory="capacity_sweep",
    project_name="capacity",
    relu_placement="linear_after_code",
    optimizer="adam",
    learning_rate=1e-3,
    rel_tol=0.01,
    patience=5,
    overwrite=False,
):
    """Returns a KerasTuner grid search over autoencoder capacity.

    The grid is every architecture in `encoder_sizes` x every latent
    dimension x every seed, one trial per grid point, in that order. Each
    trial builds `keras_memnets.models.autoencoder(sizes, latent_dim,
    relu_placement=...)` with the seed, trains it with
    `keras_memnets.losses.SummedBinaryCrossentropy` and
    `keras_memnets.callbacks.ConvergenceStopping(rel_tol, patience)` (up to
    the `epochs` given to `search`), and records the final epoch-average
    loss, the training (and validation) loss evaluated after training, the
    `keras_memnets.analysis.bce_floor` of the data and the excess over it,
    the epoch of convergence, the parameter and ReLU counts and the
    `keras_memnets.analysis.model_dimension`. The objective is the
    epoch-average training loss (`"loss"`, minimised).

    Resume: KerasTuner keeps its state in `directory/project_name`; calling
    this again with the same arguments (and `overwrite=False`) and then
    `search` continues an interrupted sweep. Completed trials do not run
    again; the trial that was running when the process died runs again from
    its start. Many machines: run the same script with
    `KERASTUNER_TUNER_ID=chief` on one and `tuner0`, `tuner1`, ... on the
    others, all with `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` set
    to the chief's address.

    Args:
        encoder_sizes: list of lists of ints. Architectures, input first.
        latent_dims: list of ints. Latent dimensions.
        seeds: list of ints. Seeds (each grid point is trained once per
            seed).
        directory: str. KerasTuner's directory.
        project_name: str. Sub-directory of this sweep.
        relu_placement: `"linear_after_code"` or `"symmetric"`, as for
            `keras_memnets.models.autoencoder`.
        optimizer: str. A Keras optimizer name. Defaults to `"adam"`.
        learning_rate: float. Defaults to `1e-3`.
        rel_tol: float. `ConvergenceStopping` tolerance. Defaults to 0.01.
        patience: int. `ConvergenceStopping` patience. Defaults to 5.
        overwrite: bool. Start afresh instead of resuming.

    Returns:
        A `keras_tuner.Tuner`; call
        `tuner.search(x, x, epochs=..., batch_size=..., validation_data=
        (x_val, x_val), verbose=0)` and then
        `keras_memnets.tuners.sweep_results(tuner)`.

    Example:

    >>> import tempfile
    >>> tuner = keras_memnets.tuners.capacity_tuner(
    ...     [[784, 32], [784, 32, 32]], [2, 4], seeds=[0, 1],
    ...     directory=tempfile.mkdtemp())
    >>> len(tuner.oracle.grid), tuner.oracle.grid[1]
    (8, {'architecture': '784-32', 'latent_dim': 2, 'seed': 1})

    Reference:
        The guide *Over-fitting an MNIST autoencoder* on the docs site,
        https://keras-memnets.readthedocs.io/ (also for a sweep on many
        machines).
    """
    names = [
        architecture_name(
            positive_int_list(sizes, "encoder_sizes", OWNER, min_length=2)
        )
        for sizes in _list(encoder_sizes, "encoder_sizes")
    ]
    latent_dims = [
        positive_int(v, "latent_dims", OWNER)
        for v in _list(latent_dims, "latent_dims")
    ]
    seeds = [non_negative_int(v, "seeds", OWNER) for v in _list(seeds, "seeds")]
    relu_placement = check_relu_placement(relu_placement, OWNER)
    string(optimizer, "optimizer", OWNER)
    learning_rate = number_in_range(
        learning_rate, "learning_rate", OWNER, low=0.0, low_inclusive=False
    )
    rel_tol = number_in_range(rel_tol, "rel_tol", OWNER, low=0.0, finite=True)
    patience = int_in_range(patience, "patience", OWNER, low=1)
    grid_search = _grid_search()
    keras_tuner = grid_search.keras_tuner
    hp = keras_tuner.HyperParameters()
    hp.Choice("architecture", names)
    hp.Choice("latent_dim", latent_dims)
    hp.Choice("seed", seeds)
    grid = [
        {"architecture": name, "latent_dim": latent, "seed": seed}
        for name in names
        for latent in latent_dims
        for seed in seeds
    ]
    oracle = grid_search.GridOracle(
        grid,
        objective=keras_tuner.Objective("loss", direction="min"),
        max_trials=len(grid),
        hyperparameters=hp,
        tune_new_entries=False,
        allow_new_entries=False,
    )
    hypermodel = grid_search.CapacityHyperModel(
        relu_placement=relu_placement,
        optimizer=optimizer,
        learning_rate=learning_rate,
        rel_tol=rel_tol,
        patience=patience,
    )
    return grid_search.EventLoggingTuner(
        oracle=oracle,
        hypermodel=hypermodel,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
    )
