"""Matplotlib figures of weights over training (needs matplotlib)."""

import numpy as np

from keras_memnets.analysis.weights import DEFAULT_BINS
from keras_memnets.utils.optional import import_pyplot


def _pyplot():
    return import_pyplot("keras_memnets.analysis plotting", "analysis")


def _axes(ax):
    if ax is not None:
        return ax.figure, ax
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    return fig, ax


def histogram_matrix(weights, bins=None):
    """Histogram counts of each snapshot: the data of a density image.

    Args:
        weights: array `(n_records, n_parameters)` of flattened snapshots.
        bins: optional bin edges; `None` uses `-5, -4.75, ..., 5`.

    Returns:
        An int array `(n_records, len(bins) - 1)`.

    Example:

    >>> keras_memnets.analysis.histogram_matrix(np.zeros((3, 10))).shape
    (3, 40)
    """
    weights = np.asarray(weights)
    if weights.ndim != 2:
        raise ValueError(
            "histogram_matrix: `weights` must be (n_records, n_parameters), "
            f"got shape {weights.shape}."
        )
    bins = DEFAULT_BINS if bins is None else np.asarray(bins, "float64")
    return np.stack([np.histogram(row, bins=bins)[0] for row in weights])


def plot_weight_density(weights, steps=None, bins=None, log=False, ax=None):
    """The distribution of all weights over training as a density image.

    Each column is one snapshot's histogram (x: training step, y: weight
    value, colour: count).

    Args:
        weights: array `(n_records, n_parameters)`.
        steps: optional array of the records' step numbers.
        bins: optional bin edges; `None` uses `-5, -4.75, ..., 5`.
        log: bool. Colour by `log10(1 + count)`.
        ax: optional matplotlib axes.

    Returns:
        The matplotlib figure.
    """
    bins = DEFAULT_BINS if bins is None else np.asarray(bins, "float64")
    counts = histogram_matrix(weights, bins).astype("float64")
    steps = np.arange(len(counts)) if steps is None else np.asarray(steps)
    fig, ax = _axes(ax)
    image = np.log10(1.0 + counts) if log else counts
    mesh = ax.pcolormesh(
        steps, 0.5 * (bins[1:] + bins[:-1]), image.T, shading="nearest"
    )
    fig.colorbar(mesh, ax=ax, label="log10(1 + count)" if log else "count")
    ax.set_xlabel("training step")
    ax.set_ylabel("weight value")
    return fig


def plot_curves(steps, values, labels=None, ylabel=None, ax=None, logx=False):
    """One curve per instance (or per layer) over training.

    Args:
        steps: array `(n_records,)`.
        values: array `(n_curves, n_records)`, e.g. the variance of each
            instance's weights.
        labels: optional list of `n_curves` labels.
        ylabel: optional str.
        ax: optional matplotlib axes.
        logx: bool. Symmetric-log x axis (early training is fast).

    Returns:
        The matplotlib figure.
    """
    values = np.atleast_2d(np.asarray(values, dtype="float64"))
    fig, ax = _axes(ax)
    for i, curve in enumerate(values):
        label = None if labels is None else labels[i]
        ax.plot(steps, curve, label=label, lw=1)
    if labels is not None:
        ax.legend(fontsize="small")
    if logx:
        ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("training step")
    if ylabel:
        ax.set_ylabel(ylabel)
    return fig


def plot_layer_panels(layer_weights, steps=None, bins=None, log=True):
    """Per-layer weight distributions over training, one panel per layer.

    Args:
        layer_weights: dict mapping a layer's name to its snapshots
            `(n_records, n_layer_parameters)`.
        steps: optional array of step numbers.
        bins: optional bin edges.
        log: bool. Log colour scale.

    Returns:
        The matplotlib figure.
    """
    plt = _pyplot()
    n = len(layer_weights)
    fig, axes = plt.subplots(1, n, figsize=(3.5 * n, 3.2), squeeze=False)
    for ax, (name, w) in zip(axes[0], layer_weights.items()):
        plot_weight_density(w, steps, bins=bins, log=log, ax=ax)
        ax.set_title(name)
    fig.tight_layout()
    return fig


def plot_weight_trajectories(
    steps, weights, indices=None, normalise=False, ax=None
):
    """Individual weights over training.

    Args:
        steps: array `(n_records,)`.
        weights: array `(n_records, n_parameters)`.
        indices: optional list of parameter indices; `None` plots all.
        normalise: bool. Divide each snapshot by its total L2 norm (the
            total norm of the weights).
        ax: optional matplotlib axes.

    Returns:
        The matplotlib figure.
    """
    w = np.asarray(weights, dtype="float64")
    if normalise:
        w = w / np.linalg.norm(w, axis=1, keepdims=True)
    if indices is not None:
        w = w[:, indices]
    fig, ax = _axes(ax)
    ax.plot(steps, w, lw=0.6, alpha=0.7)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("training step")
    ax.set_ylabel("weight / ‖w‖" if normalise else "weight")
    return fig
