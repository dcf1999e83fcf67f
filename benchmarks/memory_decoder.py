"""Training-step time of `memory_decoder` against plain Keras and PyTorch.

Three implementations of the research notes' network (input 6, output 784,
10 memory slots, 512 hidden units; both outputs trained with MSE, Adam):

- `keras_memnets`: `keras_memnets.models.memory_decoder`;
- `plain_keras`: the same math written inline with `keras.layers.Dense`,
  `Reshape`, `Activation` and two minimal layers (the memory array read and
  the einsum mix), on the same backend, in the same run;
- `torch_eager`: a plain PyTorch `nn.Module`, eager, `torch.optim.Adam`.

Steps are timed one at a time inside the training loop (`train_on_batch`
for Keras, one forward/backward/step for PyTorch), interleaved so a slow
period of the machine hits all variants alike (half the rounds in reversed
order). The target is a median
step-time ratio keras_memnets / plain Keras <= 1.03.

    KERAS_BACKEND=jax python benchmarks/memory_decoder.py [--repeats 30]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
from keras import ops  # noqa: E402

import keras_memnets  # noqa: E402
from benchmarks import timing  # noqa: E402

INPUT_DIM, OUTPUT_DIM, MEMORY_SIZE, HIDDEN = 6, 784, 10, 512
TARGET_RATIO = 1.03


class _MemoryRead(keras.layers.Layer):
    """`selection @ sigmoid(M)`: the plain version of the notes' NetArrayLayer."""

    def build(self, input_shape):
        self.memory = self.add_weight(
            name="memory", shape=(MEMORY_SIZE, OUTPUT_DIM), initializer="random_normal"
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
    informed = keras.layers.Identity(name="informed")(_Mix()([selection, candidates]))
    return keras.Model(x, {"memory": memory, "informed": informed})


def torch_step_fn(x, y, threads):
    import torch

    torch.set_num_threads(threads)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.selector = torch.nn.Sequential(
                torch.nn.Linear(INPUT_DIM, HIDDEN), torch.nn.ReLU(),
                torch.nn.Linear(HIDDEN, MEMORY_SIZE), torch.nn.Softmax(dim=-1),
            )
            self.memory = torch.nn.Parameter(0.05 * torch.randn(MEMORY_SIZE, OUTPUT_DIM))
            self.candidates = torch.nn.Sequential(
                torch.nn.Linear(INPUT_DIM, HIDDEN), torch.nn.ReLU(),
                torch.nn.Linear(HIDDEN, MEMORY_SIZE * OUTPUT_DIM),
            )

        def forward(self, x):
            f = self.selector(x)
            memory = f @ torch.sigmoid(self.memory)
            c = torch.sigmoid(self.candidates(x).view(-1, MEMORY_SIZE, OUTPUT_DIM))
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch_size, INPUT_DIM)).astype("float32")
    y = rng.random((args.batch_size, OUTPUT_DIM)).astype("float32")
    targets = {"memory": y, "informed": y}

    models = {
        "keras_memnets": keras_memnets.models.memory_decoder(
            INPUT_DIM, OUTPUT_DIM, MEMORY_SIZE, HIDDEN
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
    if not args.no_torch:
        threads = os.cpu_count() or 1
        variants["torch_eager"], params["torch_eager"] = torch_step_fn(x, y, threads)

    # Half the rounds in one order, half reversed, so that no variant always
    # runs right after the same other one (e.g. after PyTorch's threads).
    names = list(variants)
    first = timing.interleaved(
        {n: variants[n] for n in names}, repeats=args.repeats // 2, warmup=args.warmup
    )
    second = timing.interleaved(
        {n: variants[n] for n in reversed(names)},
        repeats=args.repeats - args.repeats // 2,
        warmup=1,
    )
    times = {n: first[n] + second[n] for n in names}
    results = {name: timing.summary(t) for name, t in times.items()}
    for name, r in results.items():
        r["samples_per_s"] = args.batch_size / r["median_s"]
    ratio = results["keras_memnets"]["median_s"] / results["plain_keras"]["median_s"]
    payload = {
        "benchmark": "memory_decoder train step",
        "sizes": dict(input_dim=INPUT_DIM, output_dim=OUTPUT_DIM,
                      memory_size=MEMORY_SIZE, hidden_units=HIDDEN,
                      batch_size=args.batch_size),
        "count_params": params,
        "results": results,
        "ratio_keras_memnets_over_plain_keras": ratio,
        # The ratio of the fastest steps is less sensitive to other load on a
        # shared machine than the ratio of medians.
        "ratio_of_min_keras_memnets_over_plain_keras": (
            results["keras_memnets"]["min_s"] / results["plain_keras"]["min_s"]
        ),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
    }
    if "torch_eager" in results:
        payload["ratio_keras_memnets_over_torch_eager"] = (
            results["keras_memnets"]["median_s"] / results["torch_eager"]["median_s"]
        )
    path = timing.write_results("memory_decoder", payload)
    print(f"backend {keras.backend.backend()}, batch {args.batch_size}, "
          f"{args.repeats} interleaved steps per variant:")
    for name, r in results.items():
        print(f"  {name:14s} median {r['median_s'] * 1e3:7.1f} ms "
              f"(min {r['min_s'] * 1e3:.1f}, max {r['max_s'] * 1e3:.1f}), "
              f"{r['samples_per_s']:8.0f} samples/s")
    print(f"  ratio of fastest steps: "
          f"{payload['ratio_of_min_keras_memnets_over_plain_keras']:.3f}")
    print(f"  ratio keras_memnets / plain keras: {ratio:.3f} "
          f"(target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
