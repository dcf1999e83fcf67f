"""Training-step time of `memory_decoder` against plain Keras and PyTorch.

Three implementations of the research notes' network (input 6, output 784,
10 memory slots, 512 hidden units; both outputs trained with MSE, Adam):

- `keras_memnets`: `keras_memnets.models.memory_decoder` with
  `memory_scale=1.0` (the notes' network);
- `plain_keras`: the same math written inline with `keras.layers.Dense`,
  `Reshape`, `Activation` and two minimal layers (the memory array read and
  the einsum mix), on the same backend, in the same run;
- `torch_eager`: a plain PyTorch `nn.Module`, eager, `torch.optim.Adam`.

Steps are timed one at a time inside the training loop (`train_on_batch`
for Keras, one forward/backward/step for PyTorch), interleaved so a slow
period of the machine hits all variants alike (half the rounds in reversed
order). The target is a median
step-time ratio keras_memnets / plain Keras <= 1.03 on each backend and a
speed-up >= 1.15 over PyTorch eager on the best backend. The same run times
numpy's and PyTorch's matmuls of the step's shapes (`step_gemms`) and
reports each variant's fraction of that limit, and measures the peak RSS of
`reproductions/memory_decoder.py` in a child process.

    KERAS_BACKEND=jax python benchmarks/memory_decoder.py [--quick]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
from keras import ops  # noqa: E402

import keras_memnets  # noqa: E402
from benchmarks import machine  # noqa: E402
from benchmarks import timing  # noqa: E402

INPUT_DIM, OUTPUT_DIM, MEMORY_SIZE, HIDDEN = 6, 784, 10, 512
TARGET_RATIO = 1.03
TARGET_TORCH_SPEEDUP = 1.15


class _MemoryRead(keras.layers.Layer):
    """`selection @ sigmoid(M)`: the plain version of NetArrayLayer."""

    def build(self, input_shape):
        self.memory = self.add_weight(
            name="memory",
            shape=(MEMORY_SIZE, OUTPUT_DIM),
            initializer="random_normal",
        )

    def call(self, selection):
        return ops.matmul(selection, ops.sigmoid(self.memory))


class _Mix(keras.layers.Layer):
    """`Σ_k selection_k · candidates_k` as one einsum."""

    def call(self, inputs):
        selection, candidates = inputs
        return ops.einsum("bk,bko->bo", selection, candidates)


def plain_keras_model():
    x = keras.Input((INPUT_DIM,))
    h = keras.layers.Dense(HIDDEN, activation="relu")(x)
    selection = keras.layers.Dense(MEMORY_SIZE, activation="softmax")(h)
    memory = keras.layers.Identity(name="memory")(_MemoryRead()(selection))
    g = keras.layers.Dense(HIDDEN, activation="relu")(x)
    candidates = keras.layers.Dense(MEMORY_SIZE * OUTPUT_DIM)(g)
    candidates = keras.layers.Reshape((MEMORY_SIZE, OUTPUT_DIM))(candidates)
    candidates = keras.layers.Activation("sigmoid")(candidates)
    informed = keras.layers.Identity(name="informed")(
        _Mix()([selection, candidates])
    )
    return keras.Model(x, {"memory": memory, "informed": informed})


def torch_step_fn(x, y, threads):
    import torch

    torch.set_num_threads(threads)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.selector = torch.nn.Sequential(
                torch.nn.Linear(INPUT_DIM, HIDDEN),
                torch.nn.ReLU(),
                torch.nn.Linear(HIDDEN, MEMORY_SIZE),
                torch.nn.Softmax(dim=-1),
            )
            self.memory = torch.nn.Parameter(
                0.05 * torch.randn(MEMORY_SIZE, OUTPUT_DIM)
            )
            self.candidates = torch.nn.Sequential(
                torch.nn.Linear(INPUT_DIM, HIDDEN),
                torch.nn.ReLU(),
                torch.nn.Linear(HIDDEN, MEMORY_SIZE * OUTPUT_DIM),
            )

        def forward(self, x):
            f = self.selector(x)
            memory = f @ torch.sigmoid(self.memory)
            c = torch.sigmoid(
                self.candidates(x).view(-1, MEMORY_SIZE, OUTPUT_DIM)
            )
            return memory, torch.einsum("bk,bko->bo", f, c)

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    mse = torch.nn.functional.mse_loss

    def step():
        optimizer.zero_grad(set_to_none=True)
        memory, informed = net(xt)
        loss = mse(memory, yt) + mse(informed, yt)
        loss.backward()
        optimizer.step()
        return loss.item()  # waits for the step, like train_on_batch

    return step, sum(p.numel() for p in net.parameters())


def step_gemms(batch_size):
    """The `(m, k, n)` matrix products of one training step of the network.

    Forward: the two hidden layers, the selector's output layer, the memory
    read, the candidates' output layer and the mix (a batched product with
    the flops of `(batch, memory) @ (memory, output)`). Backward: for every
    layer the kernel gradient and, except for the layers fed by the input,
    the input gradient; both operands of the read and of the mix.
    """
    b, i, h, m, o = batch_size, INPUT_DIM, HIDDEN, MEMORY_SIZE, OUTPUT_DIM
    forward = [
        (b, i, h),
        (b, i, h),
        (b, h, m),
        (b, m, o),
        (b, h, m * o),
        (b, m, o),
    ]
    backward = [
        (i, b, h),
        (i, b, h),  # the two hidden kernels
        (h, b, m),
        (b, m, h),  # selector output: kernel, input
        (m, b, o),
        (b, o, m),  # memory read: memory, selection
        (h, b, m * o),
        (b, m * o, h),  # candidates output: kernel, input
        (b, o, m),
        (b, m, o),  # mix: selection, candidates
    ]
    return forward + backward


def example_peak_rss():
    """Peak RSS (MiB) of `reproductions/memory_decoder.py` in a child process.

    Runs the reproduction's `--quick` configuration (what CI runs). Raises if
    the reproduction fails or its memory cannot be read, so that a broken run is
    never recorded as a memory figure.
    """
    import tempfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = ["--quick", "--quiet"]
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable,
            os.path.join(root, "reproductions", "memory_decoder.py"),
            *args,
            "--out",
            out,
        ]
        returncode, rss = machine.peak_rss_mib(command, env=env)
    if returncode != 0 or rss is None:
        raise RuntimeError(
            f"reproductions/memory_decoder.py {' '.join(args)} exited with "
            f"status {returncode} (peak memory {rss}); nothing recorded."
        )
    return {"args": args, "returncode": returncode, "peak_rss_mib": rss}


def run(
    quick=False,
    batch_size=None,
    repeats=None,
    warmup=None,
    torch_baseline=True,
    example_rss=None,
):
    """Runs the benchmark and returns (and writes) its payload.

    Args:
        quick: bool. A smoke run for CI: batch 64, 4 timed rounds, no
            reproduction run (CI runs the reproduction itself).
        batch_size: int or None. Samples per step (default 64 / 256).
        repeats: int or None. Timed steps per variant (default 4 / 30).
        warmup: int or None. Untimed rounds first (default 1 / 3).
        torch_baseline: bool. Also time the plain PyTorch network.
        example_rss: bool or None. Also measure the example's peak RSS
            (default: not in quick mode).
    """
    batch_size = batch_size or (64 if quick else 256)
    repeats = repeats or (4 if quick else 30)
    warmup = warmup or (1 if quick else 3)
    if example_rss is None:
        example_rss = not quick
    load_before = machine.loadavg()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size, INPUT_DIM)).astype("float32")
    y = rng.random((batch_size, OUTPUT_DIM)).astype("float32")
    targets = {"memory": y, "informed": y}

    models = {
        # The notes' network (memory_scale=1.0: no scale, no selection
        # term), the math that `plain_keras` writes inline.
        "keras_memnets": keras_memnets.models.memory_decoder(
            INPUT_DIM, OUTPUT_DIM, MEMORY_SIZE, HIDDEN, memory_scale=1.0
        ),
        "plain_keras": plain_keras_model(),
    }
    params = {}
    variants = {}
    for name, model in models.items():
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss={"memory": "mse", "informed": "mse"},
        )
        params[name] = model.count_params()
        variants[name] = (lambda m: lambda: m.train_on_batch(x, targets))(model)
    if params["keras_memnets"] != params["plain_keras"]:
        raise AssertionError(f"different parameter counts: {params}")
    if torch_baseline:
        threads = os.cpu_count() or 1
        variants["torch_eager"], params["torch_eager"] = torch_step_fn(
            x, y, threads
        )

    # The machine's matmul limit: the step's products in numpy and PyTorch,
    # timed in the same interleaved rounds.
    gemms = step_gemms(batch_size)
    variants.update(machine.matmul_variants(gemms))

    # Half the rounds in one order, half reversed, so that no variant always
    # runs right after the same other one (e.g. after PyTorch's threads).
    names = list(variants)
    first = timing.interleaved(
        {n: variants[n] for n in names}, repeats=repeats // 2, warmup=warmup
    )
    second = timing.interleaved(
        {n: variants[n] for n in reversed(names)},
        repeats=repeats - repeats // 2,
        warmup=1,
    )
    times = {n: first[n] + second[n] for n in names}
    results = {name: timing.summary(t) for name, t in times.items()}
    limit = machine.matmul_limit(gemms, results)
    results = {n: r for n, r in results.items() if not n.startswith("matmul_")}
    for name, r in results.items():
        r["samples_per_s"] = batch_size / r["median_s"]
        r["fraction_of_matmul_limit"] = limit["limit_s"] / r["median_s"]
    ratio = (
        results["keras_memnets"]["median_s"]
        / results["plain_keras"]["median_s"]
    )
    payload = {
        "benchmark": "memory_decoder train step",
        "quick": quick,
        "sizes": dict(
            input_dim=INPUT_DIM,
            output_dim=OUTPUT_DIM,
            memory_size=MEMORY_SIZE,
            hidden_units=HIDDEN,
            batch_size=batch_size,
        ),
        "count_params": params,
        "results": results,
        "matmul_limit": limit,
        "ratio_keras_memnets_over_plain_keras": ratio,
        # The ratio of the fastest steps is less sensitive to other load on a
        # shared machine than the ratio of medians.
        "ratio_of_min_keras_memnets_over_plain_keras": (
            results["keras_memnets"]["min_s"] / results["plain_keras"]["min_s"]
        ),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
        "fraction_of_matmul_limit": results["keras_memnets"][
            "fraction_of_matmul_limit"
        ],
    }
    if "torch_eager" in results:
        payload["speedup_keras_memnets_over_torch_eager"] = (
            results["torch_eager"]["median_s"]
            / results["keras_memnets"]["median_s"]
        )
        payload["target_speedup_over_torch_eager"] = TARGET_TORCH_SPEEDUP
    if example_rss:
        payload["example"] = example_peak_rss()
        payload["example_peak_rss_mib"] = payload["example"]["peak_rss_mib"]
    payload["loadavg"] = {"before": load_before, "after": machine.loadavg()}
    path = timing.write_results("memory_decoder", payload)
    print(
        f"memory_decoder: backend {keras.backend.backend()}, batch "
        f"{batch_size}, {repeats} interleaved steps per variant "
        f"(load {load_before}):"
    )
    for name, r in results.items():
        print(
            f"  {name:14s} median {r['median_s'] * 1e3:7.1f} ms "
            f"(min {r['min_s'] * 1e3:.1f}, max {r['max_s'] * 1e3:.1f}), "
            f"{r['samples_per_s']:8.0f} samples/s, "
            f"{r['fraction_of_matmul_limit']:.2f} of the matmul limit"
        )
    print(
        f"  matmul limit {limit['limit_s'] * 1e3:.1f} ms "
        f"({limit['flops'] / 1e9:.2f} GFLOP)"
    )
    print(
        f"  ratio keras_memnets / plain keras: {ratio:.3f} "
        f"(target <= {TARGET_RATIO}: "
        f"{'met' if ratio <= TARGET_RATIO else 'NOT met'})"
    )
    if "example" in payload:
        print(f"  example peak RSS: {payload['example_peak_rss_mib']} MiB")
    print(f"wrote {path}")
    return payload


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument(
        "--example",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure the example's peak RSS (default: on, off with --quick)",
    )
    args = parser.parse_args(argv)
    run(
        quick=args.quick,
        batch_size=args.batch_size,
        repeats=args.repeats,
        warmup=args.warmup,
        torch_baseline=not args.no_torch,
        example_rss=args.example,
    )


if __name__ == "__main__":
    main()
