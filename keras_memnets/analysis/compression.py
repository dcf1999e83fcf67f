"""Compressing a Dense layer by PCA of its pre-activations, or by weight SVD."""

import keras
import numpy as np

from keras_memnets.utils.validation import number_in_range
from keras_memnets.utils.validation import positive_int


def _layer(model, layer, owner):
    if isinstance(layer, str):
        try:
            layer = model.get_layer(layer)
        except ValueError as e:
            raise ValueError(
                f"{owner}: the model has no layer named {layer!r}."
            ) from e
    elif isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        layer = model.layers[int(layer)]
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(
            f"{owner}: `layer` must be a layer, its name or its index, got "
            f"{layer!r}."
        )
    if layer not in model.layers:
        raise ValueError(f"{owner}: layer {layer.name!r} is not in the model.")
    return layer


def _dense_layer(model, layer, owner):
    layer = _layer(model, layer, owner)
    if type(layer) is not keras.layers.Dense:
        raise TypeError(
            f"{owner}: layer {layer.name!r} is a {type(layer).__name__}, "
            "expected a keras.layers.Dense."
        )
    if layer.lora_enabled if hasattr(layer, "lora_enabled") else False:
        raise ValueError(
            f"{owner}: LoRA-enabled Dense layers are not supported."
        )
    return layer


def _check_data(data, owner):
    arrays = keras.tree.flatten(data)
    for a in arrays:
        a = np.asarray(a)
        if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
            raise ValueError(f"{owner}: `data` contains NaN or inf.")
    n = len(np.asarray(arrays[0]))
    if n < 2:
        raise ValueError(f"{owner}: `data` needs at least 2 samples, got {n}.")
    return n


def _predict(model, tensors, data, batch_size=1024):
    sub = keras.Model(model.inputs, tensors)
    return sub.predict(data, batch_size=batch_size, verbose=0)


def _as_rows(a):
    a = np.asarray(a, dtype="float64")
    return a.reshape(-1, a.shape[-1])


def layer_outputs(model, layer, data, batch_size=1024):
    """The outputs of one layer of a functional or Sequential model on `data`.

    Args:
        model: a built functional or Sequential `keras.Model`.
        layer: the layer, its name or its index in `model.layers`.
        data: the model's input(s) for `predict`.
        batch_size: int. Batch size of `predict`.

    Returns:
        A float64 array `(n_rows, units)` (leading axes flattened).

    Example:

    >>> model = keras_memnets.models.relu_mlp([8, 8])
    >>> keras_memnets.analysis.layer_outputs(
    ...     model, "relu_1", np.zeros((3, 1))).shape
    (3, 8)
    """
    _check_data(data, "layer_outputs")
    layer = _layer(model, layer, "layer_outputs")
    return _as_rows(_predict(model, layer.output, data, batch_size))


def hidden_correlations(model, layer, data, threshold=0.9, batch_size=1024):
    """How correlated the units of a hidden layer are on a set of inputs.

    Runs `data` (an input set that represents the task) through the model
    and takes the layer's outputs `H` (samples × units).

    Args:
        model: a built functional or Sequential `keras.Model`.
        layer: the layer, its name or its index.
        data: model inputs.
        threshold: float in (0, 1]. A unit pair counts as highly correlated
            when `|r| > threshold`. Defaults to 0.9.
        batch_size: int. Batch size of `predict`.

    Returns:
        A dict with `correlation` (units × units Pearson correlation; rows
        and columns of constant units are 0 with 1 on the diagonal),
        `explained_variance` (cumulative explained-variance ratio of the
        principal components of `H`, length `units`), `pairs_above`
        (number of unit pairs `i < j` with `|r| > threshold`), `num_pairs`,
        `constant_units` (units with zero variance on `data`, e.g. dead
        ReLUs), `threshold` and `components_for` (a dict: the number of
        components reaching 90, 95, 99 % of the variance).

    Example:

    >>> model = keras_memnets.models.relu_mlp([8])
    >>> out = keras_memnets.analysis.hidden_correlations(
    ...     model, "hidden_1", np.linspace(-1, 1, 50)[:, None])
    >>> out["correlation"].shape, out["explained_variance"].shape
    ((8, 8), (8,))

    Reference:
        The guide *Compressing hidden layers by PCA* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    threshold = number_in_range(
        threshold, "threshold", "hidden_correlations", 0, 1, False
    )
    positive_int(batch_size, "batch_size", "hidden_correlations")
    _check_data(data, "hidden_correlations")
    layer = _layer(model, layer, "hidden_correlations")
    h = _as_rows(_predict(model, layer.output, data, batch_size))
    centred = h - h.mean(axis=0)
    std = np.sqrt(np.mean(centred**2, axis=0))
    constant = std <= 1e-12 * max(1.0, float(np.abs(h).max(initial=0.0)))
    safe = np.where(constant, 1.0, std)
    z = centred / safe
    corr = (z.T @ z) / len(h)
    corr[constant, :] = 0.0
    corr[:, constant] = 0.0
    np.fill_diagonal(corr, 1.0)
    corr = np.clip(corr, -1.0, 1.0)
    units = h.shape[1]
    iu = np.triu_indices(units, k=1)
    explained = _explained_variance(centred)
    return {
        "correlation": corr,
        "explained_variance": explained,
        "pairs_above": int(np.sum(np.abs(corr[iu]) > threshold)),
        "num_pairs": len(iu[0]),
        "constant_units": np.flatnonzero(constant),
        "threshold": float(threshold),
        "components_for": {
            v: _rank_for(explained, v) for v in (0.9, 0.95, 0.99)
        },
    }


def _explained_variance(centred):
    singular_values = np.linalg.svd(centred, compute_uv=False)
    return _explained(singular_values, centred.shape[1])


def _explained(singular_values, units):
    """Cumulative explained variance over `units` directions."""
    full = np.zeros(units)
    full[: len(singular_values)] = singular_values**2
    total = full.sum()
    if total == 0:
        return np.ones(units)
    return np.cumsum(full) / total


def _dense_arrays(layer):
    """A Dense layer's kernel and bias (zeros without one) as float64."""
    kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), "float64")
    if not layer.use_bias:
        return kernel, np.zeros(layer.units)
    return kernel, np.asarray(keras.ops.convert_to_numpy(layer.bias), "float64")


def _rank_for(explained, variance):
    return int(np.searchsorted(explained, variance - 1e-12) + 1)


def _check_rank_args(variance, rank, units, owner):
    if (variance is None) == (rank is None):
        raise ValueError(f"{owner}: give exactly one of `variance` and `rank`.")
    if variance is not None:
        number_in_range(variance, "variance", owner, 0, 1, False)
    if rank is not None:
        rank = positive_int(rank, "rank", owner)
        if rank > units:
            raise ValueError(
                f"{owner}: `rank`={rank} is larger than the layer's width "
                f"{units}."
            )
    return rank


def _replace(model, layer, build_block, weights):
    """Clones `model` with `layer` replaced by the block `build_block()`."""
    target = layer.name

    def clone(lyr):
        if lyr.name == target:
            return build_block()
        return lyr.__class__.from_config(lyr.get_config())

    new_model = keras.models.clone_model(model, clone_function=clone)
    for old in model.layers:
        if old.name != target and old.weights:
            new_model.get_layer(old.name).set_weights(old.get_weights())
    block = new_model.get_layer(target + "_compressed")
    for sub, (kernel, bias) in zip(block.layers, weights):
        sub.set_weights([kernel] if bias is None else [kernel, bias])
    return new_model


def _block(layer, rank, first_bias):
    config = layer.get_config()
    in_dim = layer.kernel.shape[0]
    units = layer.units
    return keras.Sequential(
        [
            keras.Input(shape=(in_dim,)),
            keras.layers.Dense(
                rank,
                use_bias=first_bias,
                name=layer.name + "_down",
                dtype=config.get("dtype"),
            ),
            keras.layers.Dense(
                units,
                activation=config["activation"],
                use_bias=True,
                name=layer.name + "_up",
                dtype=config.get("dtype"),
            ),
        ],
        name=layer.name + "_compressed",
    )


def _output_error(model, new_model, data, batch_size):
    a = keras.tree.flatten(
        model.predict(data, batch_size=batch_size, verbose=0)
    )
    b = keras.tree.flatten(
        new_model.predict(data, batch_size=batch_size, verbose=0)
    )
    num = sum(
        float(np.sum((np.asarray(x) - np.asarray(y)) ** 2))
        for x, y in zip(a, b)
    )
    den = sum(float(np.sum(np.asarray(x) ** 2)) for x in a)
    return float(np.sqrt(num / den)) if den > 0 else float(np.sqrt(num))


def compress_dense(
    model, layer, data, variance=None, rank=None, batch_size=1024
):
    """Replaces a Dense layer by a low-rank pair fitted by PCA on data.

    Run a task-representative input set
    `data` through the trained model, take the Dense layer's pre-activations
    `a = xW + b` (samples × units), and find their mean `μ` and top-`k`
    principal directions `V` (units × k). The layer is replaced by
    `Dense(k, linear)` (kernel `WV`, bias `(b − μ)V`) followed by
    `Dense(units, original activation)` (kernel `Vᵀ`, bias `μ`), so the new
    pre-activation is `μ + (a − μ)VVᵀ`: exact when the pre-activations on
    `data` lie in a `k`-dimensional affine subspace. This is the
    data-aware low-rank compression of DRONE (Chen et al. 2021); the two
    layers sit in a `keras.Sequential` named `<layer>_compressed`. The
    original model is not changed. It saves parameters when
    `k (fan_in + units + 1) + units < (fan_in + 1) units`.

    Args:
        model: a built functional or Sequential `keras.Model`.
        layer: a `keras.layers.Dense` of the model, its name or its index.
        data: model inputs for `predict` (the task's input set).
        variance: optional float in (0, 1]. Keep the fewest components
            whose cumulative explained variance reaches it.
        rank: optional int. Keep this many components. Give exactly one of
            `variance` and `rank`.
        batch_size: int. Batch size of `predict`.

    Returns:
        `(new_model, report)`; `report` is a dict with `rank`,
        `explained_variance` (the kept share of the pre-activation
        variance on `data`), `params_before` and `params_after` (of the
        layer; the model's totals are `model.count_params()`),
        `output_error` (relative RMS difference of the model outputs on
        `data`: `‖f_new − f‖ / ‖f‖`) and `layer` (the name).

    Raises:
        TypeError: the layer is not a `Dense`, or `rank` is not an int.
        ValueError: `rank` larger than the width, fewer samples than
            `rank + 1`, NaN in `data`, or not exactly one of `variance` and
            `rank`.

    Example:

    >>> model = keras_memnets.models.relu_mlp([8, 8])
    >>> x = np.linspace(-1, 1, 64)[:, None]
    >>> # The first layer's pre-activations x W + b span 1 dimension:
    >>> small, report = keras_memnets.analysis.compress_dense(
    ...     model, "hidden_1", x, rank=1)
    >>> report["rank"], report["params_before"], report["params_after"]
    (1, 16, 18)
    >>> report["output_error"] < 1e-5
    True

    Reference:
        Chen et al., "DRONE: Data-aware low-rank compression for large NLP
        models", NeurIPS 2021; the guide *Compressing hidden layers by PCA*
        on the docs site, https://keras-memnets.readthedocs.io/.
    """
    owner = "compress_dense"
    positive_int(batch_size, "batch_size", owner)
    layer = _dense_layer(model, layer, owner)
    rank = _check_rank_args(variance, rank, layer.units, owner)
    _check_data(data, owner)
    x = _as_rows(_predict(model, layer.input, data, batch_size))
    if rank is not None and x.shape[0] < rank + 1:
        raise ValueError(
            f"{owner}: {x.shape[0]} samples are too few for rank {rank} "
            f"(need at least rank + 1 = {rank + 1})."
        )
    kernel, bias = _dense_arrays(layer)
    a = x @ kernel + bias
    mu = a.mean(axis=0)
    _, s, vt = np.linalg.svd(a - mu, full_matrices=False)
    explained = _explained(s, layer.units)
    if rank is None:
        # An explicit rank is checked above against units and samples.
        rank = min(_rank_for(explained, variance), len(s))
    v = vt[:rank].T  # units x k
    weights = [(kernel @ v, (bias - mu) @ v), (v.T, mu)]
    weights = [
        (k.astype(layer.kernel.dtype), b.astype(layer.kernel.dtype))
        for k, b in weights
    ]
    new_model = _replace(
        model, layer, lambda: _block(layer, rank, True), weights
    )
    in_dim = kernel.shape[0]
    report = {
        "layer": layer.name,
        "rank": int(rank),
        "explained_variance": float(explained[rank - 1]),
        "params_before": int(layer.count_params()),
        "params_after": int(
            in_dim * rank + rank + rank * layer.units + layer.units
        ),
        "output_error": _output_error(model, new_model, data, batch_size),
    }
    return new_model, report


def svd_compress_dense(model, layer, rank, data=None, batch_size=1024):
    """Replaces a Dense layer by its truncated SVD (the data-free baseline).

    The kernel `W = USVᵀ` is cut to its top `rank` singular triplets: the
    layer becomes `Dense(rank, linear, no bias)` (kernel `U_k S_k`) then
    `Dense(units, original activation)` (kernel `V_kᵀ`, the original bias),
    as TF-MOT's weight-SVD compression does. The original model is not
    changed.

    Args:
        model: a built functional or Sequential `keras.Model`.
        layer: a `keras.layers.Dense` of the model, its name or its index.
        rank: int. Number of singular values kept.
        data: optional model inputs; when given, `report["output_error"]`
            is measured on them (else it is `None`).
        batch_size: int. Batch size of `predict`.

    Returns:
        `(new_model, report)` with the keys of `compress_dense`'s report;
        `explained_variance` is the kept share of `‖W‖_F²`.

    Example:

    >>> model = keras_memnets.models.relu_mlp([8, 8])
    >>> small, report = keras_memnets.analysis.svd_compress_dense(
    ...     model, "hidden_2", rank=2)
    >>> report["params_after"]
    40
    """
    owner = "svd_compress_dense"
    positive_int(batch_size, "batch_size", owner)
    layer = _dense_layer(model, layer, owner)
    rank = _check_rank_args(None, rank, min(layer.kernel.shape), owner)
    if data is not None:
        _check_data(data, owner)
    kernel, bias = _dense_arrays(layer)
    u, s, vt = np.linalg.svd(kernel, full_matrices=False)
    dtype = layer.kernel.dtype
    weights = [
        ((u[:, :rank] * s[:rank]).astype(dtype), None),
        (vt[:rank].astype(dtype), bias.astype(dtype)),
    ]
    new_model = _replace(
        model, layer, lambda: _block(layer, rank, False), weights
    )
    in_dim = kernel.shape[0]
    report = {
        "layer": layer.name,
        "rank": int(rank),
        "explained_variance": float(np.sum(s[:rank] ** 2) / np.sum(s**2))
        if np.sum(s**2) > 0
        else 1.0,
        "params_before": int(layer.count_params()),
        "params_after": int(in_dim * rank + rank * layer.units + layer.units),
        "output_error": None
        if data is None
        else _output_error(model, new_model, data, batch_size),
    }
    return new_model, report
