"""PyTorch's fused update for `SignSGD` (private).

The torch backend runs the generic per-variable `update_step` as a chain of
eager kernels per variable; Keras' own torch optimizers update all variables
at once with `torch._foreach_*` kernels instead. `ForeachSignUpdate` writes
the SignSGD, Signum and majority-vote rules that way (EF-SignSGD, which needs
a norm per variable, keeps the generic update). `SignSGD` mixes this class
in on the torch backend.
"""

import keras
import torch
from keras import ops


class ForeachSignUpdate(keras.optimizers.Optimizer):
    """Updates all variables of a `SignSGD` step with `torch._foreach_*`."""

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Scratch for the step's signs, reused between steps (allocating
        # them every step costs page faults): plain tensors, not optimizer
        # variables, so never saved.
        self._sign_buffers = []
        if not self.error_feedback:
            self._sign_buffers = [torch.empty_like(v.value) for v in var_list]

    @torch.no_grad()
    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # The hook of `BaseOptimizer.apply` that Keras' torch optimizers
        # override the same way (keras/src/backend/torch/optimizers/
        # torch_parallel_optimizer.py); Keras has no public one.
        if self.error_feedback:
            return super()._backend_update_step(
                grads, trainable_variables, learning_rate
            )
        indices = [self._get_variable_index(v) for v in trainable_variables]
        values = [v.value for v in trainable_variables]
        grads = [
            ops.cast(g, v.dtype) for g, v in zip(grads, trainable_variables)
        ]
        buffers = [self._sign_buffers[i] for i in indices]
        if self.majority_vote:
            grads = torch._foreach_sign(grads)
        if self.momentum > 0:
            momentums = [self._momentums[i].value for i in indices]
            # m <- beta * m + (1 - beta) * g in one pass: lerp from m to g.
            torch._foreach_lerp_(momentums, grads, 1.0 - self.momentum)
            if self.nesterov:
                torch._foreach_copy_(buffers, momentums)
                torch._foreach_lerp_(buffers, grads, 1.0 - self.momentum)
                torch._foreach_sign_(buffers)
            else:
                for m, out in zip(momentums, buffers):
                    torch.sign(m, out=out)
        else:
            for g, out in zip(grads, buffers):
                torch.sign(g, out=out)
        lr = float(ops.convert_to_numpy(learning_rate))
        torch._foreach_add_(values, buffers, alpha=-lr)
