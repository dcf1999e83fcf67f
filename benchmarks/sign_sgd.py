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
  CPU). Each timed call ends with a read of one updated value, so the time
  includes the work and not only the dispatch.
- JAX: `optimizer.stateless_apply` under `jax.jit` with the model and
  optimizer variables donated, exactly the call Keras' JAX trainer makes
  inside its compiled train step; compiled in the warm-up rounds, and each
  timed call blocks until its outputs are ready.
- PyTorch: eager `optimizer.apply`, as Keras' torch trainer runs it. Keras
  routes its own SGD and Adam to fused `torch._foreach_*` kernels; SignSGD
  runs the generic per-variable `update_step`.

Run: `KERAS_BACKEND=jax python benchmarks/sign_sgd.py [--repeats 20]`.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import timing  # noqa: E402
from keras_memnets.optimizers import SignSGD  # noqa: E402

SHAPES = [(2048, 2048), (2048,), (2048, 2048), (2048,), (2048, 768), (768,)]

VARIANTS = {
    "sgd": lambda: keras.optimizers.SGD(learning_rate=0.01),
    "sgd_momentum": lambda: keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
    "adam": lambda: keras.optimizers.Adam(learning_rate=1e-3),
    "signsgd": lambda: SignSGD(learning_rate=1e-3),
    "signum": lambda: SignSGD(learning_rate=1e-3, momentum=0.9),
    "signum_nesterov": lambda: SignSGD(learning_rate=1e-3, momentum=0.9, nesterov=True),
    "signsgd_error_feedback": lambda: SignSGD(learning_rate=1e-3, error_feedback=True),
    "signsgd_majority_vote": lambda: SignSGD(learning_rate=1e-3, majority_vote=True),
    "signum_weight_decay": lambda: SignSGD(
        learning_rate=1e-3, momentum=0.9, weight_decay=0.01
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
            state["trainable"], state["optimizer"] = trainable, optimizer_values

        return step

    torch_grads = [keras.ops.convert_to_tensor(g) for g in grads]
    return lambda: optimizer.apply(torch_grads, variables)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="comma-separated subset of: " + ", ".join(VARIANTS),
    )
    args = parser.parse_args()
    names = args.variants.split(",")

    rng = np.random.default_rng(0)
    init_values = [rng.standard_normal(s).astype("float32") * 0.02 for s in SHAPES]
    grads = [rng.standard_normal(s).astype("float32") for s in SHAPES]
    parameters = int(sum(np.prod(s) for s in SHAPES))
    print(f"backend {keras.config.backend()}, {parameters:,} parameters")

    steps = {name: _make_step(VARIANTS[name], init_values, grads) for name in names}
    times = timing.interleaved(steps, repeats=args.repeats, warmup=args.warmup)
    results = {name: timing.summary(t) for name, t in times.items()}

    for base in ("sgd", "sgd_momentum", "adam"):
        if base not in results:
            continue
        for name in names:
            results[name][f"median_ratio_vs_{base}"] = (
                results[name]["median_s"] / results[base]["median_s"]
            )

    header = f"{'variant':<24}{'median ms':>10}{'min ms':>9}{'max ms':>9}"
    header += "".join(f"{'/' + b:>14}" for b in ("sgd", "sgd_momentum", "adam"))
    print(header)
    for name in names:
        r = results[name]
        line = (
            f"{name:<24}{r['median_s'] * 1e3:>10.2f}{r['min_s'] * 1e3:>9.2f}"
            f"{r['max_s'] * 1e3:>9.2f}"
        )
        for base in ("sgd", "sgd_momentum", "adam"):
            key = f"median_ratio_vs_{base}"
            line += f"{r[key]:>14.2f}" if key in r else f"{'-':>14}"
        print(line)

    path = timing.write_results(
        "sign_sgd",
        {
            "what": "one optimizer update from precomputed gradients",
            "parameters": parameters,
            "variable_shapes": [list(s) for s in SHAPES],
            "repeats": args.repeats,
            "warmup": args.warmup,
            "method": {
                "tensorflow": "optimizer.apply inside one tf.function, no XLA",
                "jax": "jax.jit(optimizer.stateless_apply), variables donated",
                "torch": "eager optimizer.apply",
            }[keras.config.backend()],
            "results": results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
