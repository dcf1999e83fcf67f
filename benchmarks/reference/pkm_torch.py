"""The product-key memory layer written directly in PyTorch, from the paper.

Not part of the package: `benchmarks/pkm_scale.py` times its training step
beside keras_memnets' `ProductKeyMemory` in one interleaved run. It follows
Lample et al., "Large Memory Layers with Product Keys" (NeurIPS 2019), and
the sparse route of their reference code (facebookresearch/XLM, `--mem_sparse`):
the values are an `nn.EmbeddingBag(mode="sum", sparse=True)` read with
`per_sample_weights` (the softmax of the scores), trained by
`torch.optim.SparseAdam`; the query projection, its batch normalisation and
the sub-keys by `torch.optim.Adam`.
"""

import math

import torch


class ProductKeyMemory(torch.nn.Module):
    """`num_keys**2` values of size `value_dim`, read by `heads` heads of
    `top_k` slots each, found with product keys; the heads' reads summed.

    Args:
        input_dim: int. Size of an input vector.
        num_keys: int. Sub-keys per half.
        value_dim: int. Size of a value (and of the output).
        heads: int. Reading heads.
        top_k: int. Slots read per head.
        key_dim: int. Size of a query (even).
    """

    def __init__(self, input_dim, num_keys, value_dim, heads, top_k, key_dim):
        super().__init__()
        self.num_keys = num_keys
        self.heads = heads
        self.top_k = top_k
        self.half = key_dim // 2
        self.query = torch.nn.Linear(input_dim, heads * key_dim, bias=False)
        self.query_norm = torch.nn.BatchNorm1d(heads * key_dim, eps=1e-3)
        bound = 1.0 / math.sqrt(self.half)
        self.keys = torch.nn.Parameter(
            torch.empty(heads, 2, num_keys, self.half).uniform_(-bound, bound)
        )
        self.values = torch.nn.EmbeddingBag(
            num_keys**2, value_dim, mode="sum", sparse=True
        )
        torch.nn.init.normal_(self.values.weight, std=value_dim**-0.5)

    def forward(self, x):
        n, k = x.shape[0], self.top_k
        query = self.query_norm(self.query(x))
        query = query.view(n, self.heads, 2, self.half)
        # Each half against its own sub-keys; the best `top_k` of each.
        first = torch.einsum("nhd,hkd->nhk", query[:, :, 0], self.keys[:, 0])
        second = torch.einsum("nhd,hkd->nhk", query[:, :, 1], self.keys[:, 1])
        best_first, ids_first = first.topk(k, dim=-1)
        best_second, ids_second = second.topk(k, dim=-1)
        # The best `top_k` of the `top_k**2` candidate pairs.
        scores = best_first[..., :, None] + best_second[..., None, :]
        slots = ids_first[..., :, None] * self.num_keys
        slots = slots + ids_second[..., None, :]
        scores, best = scores.view(n, self.heads, k * k).topk(k, dim=-1)
        slots = slots.view(n, self.heads, k * k).gather(-1, best)
        weights = torch.softmax(scores, dim=-1)
        return self.values(
            slots.view(n, self.heads * k),
            per_sample_weights=weights.view(n, self.heads * k),
        )


def training_step(x, y, num_keys, value_dim, heads, top_k, key_dim, lr=1e-3):
    """A zero-argument function running one training step (forward, MSE,
    backward, both optimizers) on the batch `(x, y)` (numpy arrays), and
    returning the loss as a float (so that the step has finished).

    Returns:
        `(step, model)`.
    """
    model = ProductKeyMemory(
        x.shape[-1], num_keys, value_dim, heads, top_k, key_dim
    )
    sparse = list(model.values.parameters())
    dense = [p for p in model.parameters() if all(p is not s for s in sparse)]
    optimizers = (
        torch.optim.Adam(dense, lr=lr),
        torch.optim.SparseAdam(sparse, lr=lr),
    )
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        return loss.item()

    return step, model


def high_water_mib():
    """This process's peak resident memory in MiB (Linux's `VmHWM`, of
    the program now running only), or `None` where it is not known."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:  # pragma: no cover (not Linux)
        return None
    return None


def main(argv=None):
    """Runs `--steps` training steps on a random batch and prints the peak
    RSS (a child of `benchmarks/pkm_scale.py`, which imports no Keras
    backend)."""
    import argparse

    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, default in (
        ("num-keys", 64),
        ("input-dim", 128),
        ("value-dim", 64),
        ("heads", 4),
        ("top-k", 32),
        ("key-dim", 128),
        ("batch-size", 1024),
        ("steps", 3),
    ):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch_size, args.input_dim))
    y = rng.standard_normal((args.batch_size, args.value_dim))
    step, _ = training_step(
        x.astype("float32"),
        y.astype("float32"),
        args.num_keys,
        args.value_dim,
        args.heads,
        args.top_k,
        args.key_dim,
    )
    for _ in range(args.steps):
        step()
    print(f"peak_rss_mib {high_water_mib()}")


if __name__ == "__main__":
    main()
