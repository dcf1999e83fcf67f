"""Reading the snapshots `keras_memnets.callbacks.WeightHistory` streams."""

import json


def load_weight_history(path):
    """Reads the snapshots a `WeightHistory(path=...)` wrote.

    Args:
        path: str. The HDF5 file.

    Returns:
        `(steps, weights, variables)`: an int array `(n,)`, a float32 array
        `(n, n_parameters)` and a list of `(variable_path, shape)` pairs.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "w.h5")
    >>> model = keras_memnets.models.relu_mlp([4])
    >>> model.compile("sgd", "mse")
    >>> x, y = keras_memnets.datasets.piecewise_steps(32, seed=0)
    >>> _ = model.fit(x, y, batch_size=32, epochs=3, verbose=0,
    ...     callbacks=[keras_memnets.callbacks.WeightHistory(1, path=path)])
    >>> steps, weights, variables = (
    ...     keras_memnets.analysis.load_weight_history(path))
    >>> steps.tolist(), weights.shape, variables[0]
    ([0, 1, 2, 3], (4, 13), ('hidden_1/kernel', (1, 4)))
    """
    import h5py

    with h5py.File(path, "r") as f:
        steps = f["steps"][:]
        weights = f["weights"][:]
        variables = [(p, tuple(s)) for p, s in json.loads(f.attrs["variables"])]
    return steps, weights, variables
