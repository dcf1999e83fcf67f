"""Statistics of weight matrices and of a model's weights (numpy level)."""

import math

import numpy as np

# Default histogram bin edges: -5 ... 5 in steps of 0.25.
DEFAULT_BINS = np.linspace(-5.0, 5.0, 41)

# WeightWatcher fits a power law only to matrices whose smaller side has at
# least this many eigenvalues; smaller matrices get `alpha=None`.
ALPHA_MIN_SIZE = 50


def _as_matrix(w, owner):
    w = np.asarray(w)
    if w.ndim < 2 or w.size == 0:
        raise ValueError(
            f"{owner}: `w` must be a non-empty matrix (2 or more dimensions), "
            f"got shape {w.shape}."
        )
    if not np.issubdtype(w.dtype, np.floating) and not np.issubdtype(
        w.dtype, np.integer
    ):
        raise TypeError(
            f"{owner}: `w` must be a real array, got dtype {w.dtype}."
        )
    eps = np.finfo(w.dtype).eps if np.issubdtype(w.dtype, np.floating) else None
    # Keras' convention for kernels of more than 2 dimensions (convolutions,
    # EinsumDense): all leading axes are inputs, the last axis is outputs.
    w = w.reshape(-1, w.shape[-1]).astype("float64")
    if not np.all(np.isfinite(w)):
        raise ValueError(
            f"{owner}: `w` must hold finite values, got NaN or infinite "
            "entries."
        )
    if eps is None:
        eps = np.finfo("float64").eps
    return w, eps


def power_law_alpha(eigenvalues):
    """Power-law exponent of the tail of an eigenvalue distribution.

    Fits `p(x) ~ x^(-alpha)` for `x >= xmin` by maximum likelihood, with
    `xmin` chosen to minimise the Kolmogorov-Smirnov distance (Clauset,
    Shalizi and Newman 2009) and `xmax` the largest eigenvalue, as
    WeightWatcher does, using the `powerlaw` package (install the
    `keras-memnets[analysis]` extra).

    Args:
        eigenvalues: 1-D array of non-negative eigenvalues (e.g. of `WᵀW`).

    Returns:
        float. The fitted exponent `alpha`.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.pareto(2.0, 2000) + 1.0  # density ~ x^-3
    >>> round(keras_memnets.analysis.power_law_alpha(x))
    3

    Reference:
        Martin and Mahoney, "Implicit self-regularization in deep neural
        networks", JMLR 2021; Clauset et al., "Power-law distributions in
        empirical data", SIAM Review 2009.
    """
    try:
        import powerlaw
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            "power_law_alpha needs the `powerlaw` package: "
            "pip install 'keras-memnets[analysis]'."
        ) from e
    values = np.asarray(eigenvalues, dtype="float64").ravel()
    if not np.all(np.isfinite(values)):
        raise ValueError(
            "power_law_alpha: `eigenvalues` must be finite, got NaN or "
            "infinite entries."
        )
    values = values[values > 0]
    if len(values) < 2:
        raise ValueError(
            "power_law_alpha: `eigenvalues` must hold at least 2 positive "
            f"values, got {len(values)}."
        )
    import warnings

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(values, xmax=float(values.max()), verbose=False)
    return float(fit.alpha)


def matrix_statistics(w, tolerance=None, alpha_min_size=ALPHA_MIN_SIZE):
    """Spectral statistics of one weight matrix.

    For singular values `σ_1 >= σ_2 >= ...` of `w`:

    - `stable_rank`: `‖W‖_F² / ‖W‖_2² = Σσ_i² / σ_1²`;
    - `effective_rank`: `exp(H(p))` with `p_i = σ_i / Σ_j σ_j` and `H` the
      Shannon entropy in nats (Roy and Vetterli 2007);
    - `numerical_rank`: the number of `σ_i > tolerance`, by default
      `σ_1 · max(M, N) · eps` with `eps` the machine epsilon of `w`'s
      dtype (float32 for Keras weights), `numpy.linalg.matrix_rank`'s rule;
    - `alpha`: the power-law exponent of the tail of the eigenvalues of
      `WᵀW` (`power_law_alpha`, WeightWatcher's method) when the smaller
      side of `w` is at least `alpha_min_size`, else `None`.

    A kernel with more than 2 dimensions is read as Keras stores it: the
    last axis is the outputs, all others are flattened into the inputs.

    Args:
        w: non-empty, finite array of shape `(M, N)` (or `(..., N)`).
        tolerance: optional float. Singular-value threshold of
            `numerical_rank`.
        alpha_min_size: int. Smallest `min(M, N)` for which `alpha` is
            fitted. Defaults to 50.

    Returns:
        A dict with `singular_values` (1-D float64 array, descending),
        `stable_rank`, `effective_rank` (floats), `numerical_rank` (int),
        `tolerance` (the float used) and `alpha` (float or `None`).

    Example:

    >>> stats = keras_memnets.analysis.matrix_statistics(np.diag([3.0, 4.0]))
    >>> round(stats["stable_rank"], 4), stats["numerical_rank"]
    (1.5625, 2)

    Reference:
        Roy and Vetterli, "The effective rank: a measure of effective
        dimensionality", EUSIPCO 2007; Martin and Mahoney, JMLR 2021; the
        guide *Weight statistics over training* on the docs site,
        https://keras-memnets.readthedocs.io/.
    """
    w, eps = _as_matrix(w, "matrix_statistics")
    s = np.linalg.svd(w, compute_uv=False)
    top = float(s[0]) if len(s) else 0.0
    if tolerance is None:
        tolerance = top * max(w.shape) * eps
    stats = {
        "singular_values": s,
        "tolerance": float(tolerance),
        "numerical_rank": int(np.sum(s > tolerance)),
    }
    if top == 0.0:
        stats.update(stable_rank=0.0, effective_rank=0.0, alpha=None)
        return stats
    stats["stable_rank"] = float(np.sum(s**2) / top**2)
    p = s / s.sum()
    p = p[p > 0]
    stats["effective_rank"] = float(math.exp(-np.sum(p * np.log(p))))
    stats["alpha"] = None
    if min(w.shape) >= alpha_min_size:
        stats["alpha"] = power_law_alpha(s**2 / w.shape[0])
    return stats


def array_statistics(values, bins=None):
    """Distribution statistics of the entries of an array.

    Args:
        values: non-empty, finite array of any shape; its entries are
            pooled.
        bins: optional 1-D array of histogram bin edges; `None` uses
            `-5, -4.75, ..., 5` (entries outside are not counted, as in
            `numpy.histogram`).

    Returns:
        A dict with `mean`, `variance`, `kurtosis` (the fourth standardised
        moment, 3 for a Gaussian; `nan` for constant entries), `max_abs`,
        `l2_norm`, `size` and `histogram` (int array of `len(bins) - 1`
        counts).

    Example:

    >>> s = keras_memnets.analysis.array_statistics([1.0, -1.0, 1.0, -1.0])
    >>> s["variance"], s["kurtosis"], s["l2_norm"]
    (1.0, 1.0, 2.0)
    """
    v = np.asarray(values, dtype="float64").ravel()
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(
            "array_statistics: `values` must be a non-empty array of finite "
            f"values, got {v.size} entries"
            + ("." if v.size == 0 else " with NaN or infinite ones.")
        )
    bins = DEFAULT_BINS if bins is None else np.asarray(bins, dtype="float64")
    mean = float(v.mean())
    centred = v - mean
    variance = float(np.mean(centred**2))
    kurtosis = (
        float(np.mean(centred**4) / variance**2) if variance > 0 else math.nan
    )
    return {
        "mean": mean,
        "variance": variance,
        "kurtosis": kurtosis,
        "max_abs": float(np.max(np.abs(v))),
        "l2_norm": float(np.sqrt(np.sum(v**2))),
        "size": int(v.size),
        "histogram": np.histogram(v, bins=bins)[0],
    }


def _is_kernel(variable):
    name = getattr(variable, "path", None) or getattr(variable, "name", "")
    return len(variable.shape) >= 2 and name.split("/")[-1].startswith("kernel")


def weight_statistics(
    model, layers=None, bins=None, tolerance=None, alpha_min_size=ALPHA_MIN_SIZE
):
    """Statistics of every weight variable of a model, as it is now.

    Works on any built Keras model, trained or untrained: call it before and
    after `fit` to compare. Per variable it gives `array_statistics`; for
    kernels (variables named `kernel` with 2 or more dimensions) also
    `matrix_statistics`. The key `"all"` pools every selected variable.

    Args:
        model: a built `keras.Model` (or layer).
        layers: optional list of layer names; `None` uses every layer.
        bins: optional histogram bin edges (see `array_statistics`).
        tolerance: optional float, passed to `matrix_statistics`.
        alpha_min_size: int, passed to `matrix_statistics`.

    Returns:
        A dict mapping each variable's path (e.g. `"dense/kernel"`) to its
        statistics dict, plus `"all"`.

    Example:

    >>> model = keras_memnets.models.relu_mlp([8, 8, 8])
    >>> stats = keras_memnets.analysis.weight_statistics(model)
    >>> stats["all"]["size"], sorted(stats)[0]
    (169, 'all')
    """
    variables = selected_variables(model, layers, "weight_statistics")
    return variable_statistics(
        variables,
        bins=bins,
        tolerance=tolerance,
        alpha_min_size=alpha_min_size,
    )


def variable_statistics(
    variables,
    values=None,
    bins=None,
    tolerance=None,
    alpha_min_size=ALPHA_MIN_SIZE,
):
    """Statistics of given weight variables, as `weight_statistics` gives.

    Per variable `array_statistics`, for kernels also `matrix_statistics`,
    and under `"all"` the variables pooled.

    Args:
        variables: non-empty list of Keras variables (e.g. from
            `selected_variables`).
        values: optional list of numpy arrays, the variables' values (read
            from the variables when `None`).
        bins: optional histogram bin edges (see `array_statistics`).
        tolerance: optional float, passed to `matrix_statistics`.
        alpha_min_size: int, passed to `matrix_statistics`.

    Returns:
        A dict mapping each variable's path to its statistics dict, plus
        `"all"`.

    Example:

    >>> model = keras_memnets.models.relu_mlp([8])
    >>> variables = keras_memnets.analysis.selected_variables(
    ...     model, ["hidden_1"])
    >>> stats = keras_memnets.analysis.variable_statistics(variables)
    >>> sorted(stats), stats["all"]["size"]
    (['all', 'hidden_1/bias', 'hidden_1/kernel'], 16)
    """
    variables = list(variables)
    if not variables:
        raise ValueError(
            "variable_statistics: `variables` must be a non-empty list of "
            "variables, got []."
        )
    if values is None:
        values = [_to_numpy(v) for v in variables]
    values = [np.asarray(value) for value in values]
    out = {}
    for v, value in zip(variables, values):
        stats = array_statistics(value, bins=bins)
        if _is_kernel(v):
            stats.update(
                matrix_statistics(
                    value, tolerance=tolerance, alpha_min_size=alpha_min_size
                )
            )
        out[v.path] = stats
    pooled = np.concatenate([value.ravel() for value in values])
    out["all"] = array_statistics(pooled, bins=bins)
    return out


def _to_numpy(variable):
    import keras

    return keras.ops.convert_to_numpy(variable)


def selected_variables(model, layers=None, owner="selected_variables"):
    """The weight variables of a model, or of some of its layers.

    Args:
        model: a built `keras.Model` (or layer).
        layers: optional layer name or list of layer names; `None` selects
            every variable of `model.weights`.
        owner: str. The caller's name, for error messages.

    Returns:
        A list of Keras variables, in `model.weights` order (all of them) or
        layer by layer.

    Example:

    >>> model = keras_memnets.models.relu_mlp([8])
    >>> [v.path for v in keras_memnets.analysis.selected_variables(
    ...     model, "output")]
    ['output/kernel', 'output/bias']
    """
    if not getattr(model, "built", False) or not model.weights:
        raise ValueError(
            f"{owner}: `model` must be built and have weights, got {model!r}."
        )
    if layers is None:
        return list(model.weights)
    if isinstance(layers, str):
        layers = [layers]
    variables = []
    for name in layers:
        try:
            layer = model.get_layer(name)
        except ValueError as e:
            raise ValueError(
                f"{owner}: `layers` must name layers of the model, got "
                f"{name!r}, which it does not have."
            ) from e
        variables.extend(layer.weights)
    if not variables:
        raise ValueError(
            f"{owner}: `layers` must name layers with weights, got {layers}."
        )
    return variables
