"""Update-step time of SignSGD's modes against Keras' SGD and Adam.

What is timed: one optimizer update of a ~10M-parameter model (three large
Dense-sized kernels plus biases) from precomputed, fixed gradients, that is
the `optimizer.apply(grads, variables)` part of a training step without the
forward and backward pass. Every variant owns its own copy of the variables
and its own optimizer state, and the variants are timed interleaved
(`benchmarks/timing.py`), so a slow period of the machine hits all of them;
the ratios against SGD and Adam come from the same run.

How each backend's steady state is timed, the way `model.fit` runs it:

- TensorFlow: `optimizer.apply` wrapped in one `tf.function` per variant
  (traced during the warm-up rounds; no XLA, which is Keras' default on
  CPU, except SignSGD's own compiled update of large variables). Each
  timed call ends with a read of one updated value, so the time includes
  the work and not only the dispatch.
- JAX: `optimizer.stateless_apply` under `jax.jit` with the model and
  optimizer variables donated, exactly the call Keras' JAX trainer makes
  inside its compiled train step; compiled in the warm-up rounds, and each
  timed call blocks until its outputs are ready.
- PyTorch: eager `optimizer.apply`, as Keras' torch trainer runs it. Keras
  runs its own SGD and Adam as fused `torch._foreach_*` kernels, and so
  does SignSGD (except EF-SignSGD, which needs a per-variable norm).

The `*_before` variants are SignSGD's generic `keras.ops` update without
the non-finite-step check (a subclass of `SignSGD`, which keeps the generic
update, with `apply` and `stateless_apply` calling the step directly), timed
in the same run, so that the cost of the check and the gain of the fused
paths (the torch `_foreach` kernels, TensorFlow's XLA-compiled update) are
measured, not remembered. `adam_skip_non_finite` is Keras' Adam inside
`SkipNonFiniteOptimizer`: the check's cost on an optimizer without a fused
sign update.

Run: `KERAS_BACKEND=jax python benchmarks/sign_sgd.py [--quick]`.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras
import numpy as np

from benchmarks import timing
from keras_memnets.optimizers import SignSGD
from keras_memnets.optimizers import SkipNonFiniteOptimizer

SHAPES = [(2048, 2048), (2048,), (2048, 2048), (2048,), (2048, 768), (768,)]
QUICK_SHAPES = [(512, 512), (512,), (512, 256), (256,)]

# The goals (issue 13, item 3), checked on every backend.
GOALS = {
    "signsgd_vs_sgd": ("signsgd", "sgd", 1.2),
    "signum_vs_adam": ("signum", "adam", 1.0),
}


class _SignSGDBefore(SignSGD):
    """SignSGD's generic `keras.ops` update without the finiteness check.

    A subclass keeps the generic update on every backend (`SignSGD(...)`
    alone picks the backend's fused class); `apply` and `stateless_apply`
    take the step without the check.
    """

    def apply(self, grads, trainable_variables=None):
        return self._take_step(grads, trainable_variables)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        return self._take_stateless_step(
            optimizer_variables, grads, trainable_variables
        )


VARIANTS = {
    "sgd": lambda: keras.optimizers.SGD(learning_rate=0.01),
    "sgd_momentum": lambda: keras.optimizers.SGD(
        learning_rate=0.01, momentum=0.9
    ),
    "adam": lambda: keras.optimizers.Adam(learning_rate=1e-3),
    "adam_skip_non_finite": lambda: SkipNonFiniteOptimizer(
        keras.optimizers.Adam(learning_rate=1e-3)
    ),
    "signsgd": lambda: SignSGD(learning_rate=1e-3),
    "signum": lambda: SignSGD(learning_rate=1e-3, momentum=0.9),
    "signum_nesterov": lambda: SignSGD(
        learning_rate=1e-3, momentum=0.9, nesterov=True
    ),
    "signsgd_error_feedback": lambda: SignSGD(
        learning_rate=1e-3, error_feedback=True
    ),
    "signsgd_majority_vote": lambda: SignSGD(
        learning_rate=1e-3, majority_vote=True
    ),
    "signum_weight_decay": lambda: SignSGD(
        learning_rate=1e-3, momentum=0.9, weight_decay=0.01
    ),
    "signsgd_before": lambda: _SignSGDBefore(1e-3, name="signsgd_before"),
    "signum_before": lambda: _SignSGDBefore(
        1e-3, momentum=0.9, name="signum_before"
    ),
}


def _make_step(make_optimizer, init_values, grads):
    """Returns a zero-argument function doing one steady-state update."""
    variables = [
        keras.Variable(v, name=f"w{i}") for i, v in enumerate(init_values)
    ]
    optimizer = make_optimizer()
    optimizer.build(variables)
    backend = keras.config.backend()

    if backend == "tensorflow":
        import tensorflow as tf

        tf_grads = [tf.constant(g) for g in grads]

        @tf.function
        def update():
            optimizer.apply(tf_grads, variables)
            return variables[-1].value[0]

        return lambda: update().numpy()

    if backend == "jax":
        import jax

        jax_grads = [jax.numpy.asarray(g) for g in grads]
        state = {
            "trainable": [v.value for v in variables],
            "optimizer": [v.value for v in optimizer.variables],
        }

        def stateless(trainable, optimizer_values, g):
            return optimizer.stateless_apply(optimizer_values, g, trainable)

        update = jax.jit(stateless, donate_argnums=(0, 1))

        def step():
            trainable, optimizer_values = update(
                state["trainable"], state["optimizer"], jax_grads
            )
            jax.block_until_ready((trainable, optimizer_values))
            state["trainable"] = trainable
            state["optimizer"] = optimizer_values

        return step

    torch_grads = [keras.ops.convert_to_tensor(g) for g in grads]
    return lambda: optimizer.apply(torch_grads, variables)


def run(quick=False, repeats=None, warmup=None, names=None):
    """Times every variant, writes and returns the results payload.

    Args:
        quick: bool. A small model and few repeats (a smoke run for CI; its
            ratios mean little).
        repeats: int or None. Timed rounds (default 3 quick, 20 full).
        warmup: int or None. Untimed rounds first (default 1 quick, 3 full).
        names: list of variant names, or None for all.

    Returns:
        The dict written to `benchmarks/results/sign_sgd-<backend>.json`.
    """
    repeats = repeats or (3 if quick else 20)
    warmup = warmup or (1 if quick else 3)
    names = list(names or VARIANTS)
    shapes = QUICK_SHAPES if quick else SHAPES

    rng = np.random.default_rng(0)
    init_values = [
        rng.standard_normal(s).astype("float32") * 0.02 for s in shapes
    ]
    grads = [rng.standard_normal(s).astype("float32") for s in shapes]
    parameters = int(sum(np.prod(s) for s in shapes))
    print(f"backend {keras.config.backend()}, {parameters:,} parameters")

    steps = {
        name: _make_step(VARIANTS[name], init_values, grads) for name in names
    }
    load_before = os.getloadavg()
    times = timing.interleaved(steps, repeats=repeats, warmup=warmup)
    load_after = os.getloadavg()
    results = {name: timing.summary(t) for name, t in times.items()}

    bases = [b for b in ("sgd", "sgd_momentum", "adam") if b in results]
    for base in bases:
        for name in names:
            results[name][f"median_ratio_vs_{base}"] = (
                results[name]["median_s"] / results[base]["median_s"]
            )
    goals = {}
    for goal, (name, base, limit) in GOALS.items():
        if name in results and base in results:
            ratio = results[name]["median_s"] / results[base]["median_s"]
            goals[goal] = {
                "ratio": ratio,
                "limit": limit,
                "met": ratio <= limit,
            }

    header = f"{'variant':<24}{'median ms':>10}{'min ms':>9}{'max ms':>9}"
    header += "".join(f"{'/' + b:>14}" for b in bases)
    print(header)
    for name in names:
        r = results[name]
        line = (
            f"{name:<24}{r['median_s'] * 1e3:>10.2f}{r['min_s'] * 1e3:>9.2f}"
            f"{r['max_s'] * 1e3:>9.2f}"
        )
        for base in bases:
            line += f"{r[f'median_ratio_vs_{base}']:>14.2f}"
        print(line)
    for goal, g in goals.items():
        print(
            f"goal {goal}: ratio {g['ratio']:.2f} <= {g['limit']}: "
            f"{'met' if g['met'] else 'NOT met'}"
        )
    print(
        f"load average (1, 5, 15 min) before {load_before}, after {load_after}"
    )

    payload = {
        "what": "one optimizer update from precomputed gradients",
        "quick": bool(quick),
        "parameters": parameters,
        "variable_shapes": [list(s) for s in shapes],
        "repeats": repeats,
        "warmup": warmup,
        "method": {
            "tensorflow": "optimizer.apply inside one tf.function, no XLA",
            "jax": "jax.jit(optimizer.stateless_apply), variables donated",
            "torch": "eager optimizer.apply",
        }[keras.config.backend()],
        "load_average_before": list(load_before),
        "load_average_after": list(load_after),
        "goals": goals,
        "results": results,
    }
    path = timing.write_results("sign_sgd", payload)
    print(f"wrote {path}")
    return payload


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="comma-separated subset of: " + ", ".join(VARIANTS),
    )
    args = parser.parse_args()
    run(
        quick=args.quick,
        repeats=args.repeats,
        warmup=args.warmup,
        names=args.variants.split(","),
    )


if __name__ == "__main__":
    main()
