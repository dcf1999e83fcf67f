"""The torch backend's fused path for `SignSGD` (private).

Keras' own torch SGD and Adam update all variables at once with
`torch._foreach_*` kernels; the generic per-variable `update_step` runs a
chain of separate eager kernels per variable instead. `sign_update` is
the same update rules written with `torch._foreach_*` kernels. `SignSGD`
uses it only on the torch backend; JAX keeps the `keras.ops` code, which
its compiler fuses, and TensorFlow has `_sign_sgd_tf`.
"""

import torch


@torch.no_grad()
def sign_update(
    values,
    grads,
    momentums,
    buffers,
    learning_rate,
    momentum,
    nesterov,
    vote,
):
    """One SignSGD / Signum step on torch tensors, in place.

    Args:
        values: list of the variables' torch tensors, updated in place.
        grads: list of the gradients, in the variables' dtypes.
        momentums: list of the momentum tensors (updated in place), or an
            empty list when `momentum == 0`.
        buffers: list of scratch tensors shaped like `values`, overwritten
            with the step's signs (reused between steps: allocating fresh
            ones costs page faults every step).
        learning_rate: float.
        momentum: float. `beta`; `0` for SignSGD.
        nesterov: bool.
        vote: bool. Whether the gradients are summed replica signs, whose
            sign is the vote (`majority_vote=True`).
    """
    if vote:
        grads = torch._foreach_sign(grads)
    if momentum > 0:
        # m <- beta * m + (1 - beta) * g in one pass: lerp from m to g.
        torch._foreach_lerp_(momentums, grads, 1.0 - momentum)
        if nesterov:
            torch._foreach_copy_(buffers, momentums)
            torch._foreach_lerp_(buffers, grads, 1.0 - momentum)
            torch._foreach_sign_(buffers)
        else:
            for m, out in zip(momentums, buffers):
                torch.sign(m, out=out)
    else:
        for g, out in zip(grads, buffers):
            torch.sign(g, out=out)
    torch._foreach_add_(values, buffers, alpha=-learning_rate)
