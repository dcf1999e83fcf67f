"""What the machine can do, measured in the same run as a benchmark.

- `matmul_variants` / `matmul_limit`: the time numpy (and PyTorch, when
  installed) take for the matrix products of a training step, given as
  `(m, k, n)` shapes, timed interleaved with the steps. A step cannot be
  faster than its matmuls, so `limit / step time` is the achieved fraction of
  the machine's matmul limit.
- `peak_rss_mib`: the peak resident memory of a command run in a child
  process.
- `loadavg`: the 1/5/15-minute load averages, recorded with every number
  (the development machine is shared).
"""

import os
import subprocess

import numpy as np


def loadavg():
    """`os.getloadavg()` as a list, or `None` where it does not exist."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover (Windows)
        return None


def gemm_flops(gemms):
    """Floating-point operations of `(m, k, n)` products: `Σ 2·m·k·n`."""
    return int(sum(2 * m * k * n for m, k, n in gemms))


def _numpy_step(gemms):
    rng = np.random.default_rng(0)
    pairs = [
        (
            rng.random((m, k), dtype=np.float32),
            rng.random((k, n), dtype=np.float32),
        )
        for m, k, n in gemms
    ]

    def step():
        for a, b in pairs:
            np.matmul(a, b)

    return step


def _torch_step(gemms):
    import torch

    pairs = [(torch.rand(m, k), torch.rand(k, n)) for m, k, n in gemms]

    def step():
        with torch.no_grad():
            for a, b in pairs:
                torch.matmul(a, b)

    return step


def _backend_step(gemms):
    import keras

    rng = np.random.default_rng(0)
    pairs = [
        (
            keras.ops.convert_to_tensor(rng.random((m, k), dtype=np.float32)),
            keras.ops.convert_to_tensor(rng.random((k, n), dtype=np.float32)),
        )
        for m, k, n in gemms
    ]
    if keras.backend.backend() == "jax":
        import jax

        products = jax.jit(lambda ps: [a @ b for a, b in ps])
        return lambda: jax.block_until_ready(products(pairs))

    def step():
        return [
            keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[0, 0])
            for a, b in pairs
        ]

    return step


def matmul_variants(gemms, backend=True):
    """Zero-argument functions running the products `gemms` in each library.

    Returns `{"matmul_numpy": fn, "matmul_torch": fn, "matmul_backend": fn}`
    (PyTorch only when installed; the last one is `keras.ops.matmul` on the
    current Keras backend, jitted on JAX, when `backend`), to be timed
    interleaved with the steps they bound, so that a busy period of a shared
    machine slows both alike.
    """
    variants = {"matmul_numpy": _numpy_step(gemms)}
    try:
        variants["matmul_torch"] = _torch_step(gemms)
    except ImportError:  # pragma: no cover
        pass
    if backend:
        variants["matmul_backend"] = _backend_step(gemms)
    return variants


def matmul_limit(gemms, results):
    """The matmul limit from the timed `matmul_variants` in `results`.

    Args:
        gemms: list of `(m, k, n)` shapes, float32.
        results: name -> `timing.summary` dict, including the entries of
            `matmul_variants(gemms)` (others are ignored).

    Returns:
        A dict with the shapes, the total `flops`, GFLOP/s per library and
        `limit_s`: the faster median, the best time this machine gives those
        products. A step's `limit_s / median_s` is its achieved fraction.
    """
    flops = gemm_flops(gemms)
    libraries = {
        name: dict(
            results[name], gflop_per_s=flops / results[name]["median_s"] / 1e9
        )
        for name in results
        if name.startswith("matmul_")
    }
    return {
        "gemms": [list(g) for g in gemms],
        "flops": flops,
        "results": libraries,
        "limit_s": min(r["median_s"] for r in libraries.values()),
    }


def peak_rss_mib(command, env=None, timeout=None):
    """Runs `command` (a list) and returns `(returncode, peak RSS in MiB)`.

    The peak is the child's own `ru_maxrss` from `os.wait4` (Linux reports
    kilobytes).
    """
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except ChildProcessError:  # pragma: no cover
        process.wait(timeout)
        return process.returncode, None
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(process.stderr.read().decode(errors="replace")[-2000:])
    process.stderr.close()
    return process.returncode, usage.ru_maxrss / 1024
