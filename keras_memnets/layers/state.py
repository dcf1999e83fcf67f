"""Layer state that a bad batch leaves as it was, saved with its seed.

A layer that updates state in `call` (running statistics, the position in
its random stream) must leave that state unchanged for a batch with
non-finite values, so that training which skips such a step (as
`keras_memnets.optimizers.SignSGD` does) continues exactly as if the batch
had never come. The updates are selected with `keras.ops` (no Python
branch), so this holds inside compiled train steps on every backend.
"""

from keras import ops


def seed_state(seed_generator):
    """A copy of the generator's state, for `rewind_seed_unless`."""
    return ops.convert_to_tensor(seed_generator.state) * 1


def rewind_seed_unless(ok, seed_generator, state):
    """Sets the generator back to `state` unless the scalar bool `ok` holds.

    Args:
        ok: scalar bool tensor, whether the batch was good.
        seed_generator: the `keras.random.SeedGenerator` drawn from.
        state: its state before the draws, from `seed_state`.
    """
    seed_generator.state.assign(
        ops.where(ok, ops.convert_to_tensor(seed_generator.state), state)
    )


def save_with_seed(store, variables, seed_generator):
    """Saves `variables`, then the seed generator's state, into `store`.

    Keras does not save a layer's `SeedGenerator` (a reloaded `Dropout`
    restarts its stream); a layer saving it with this continues, after
    loading, the random stream it would have drawn.
    """
    for i, variable in enumerate(variables):
        store[str(i)] = variable
    store[str(len(variables))] = seed_generator.state


def load_with_seed(store, variables, seed_generator):
    """Loads what `save_with_seed` saved (files without a seed load too)."""
    for i, variable in enumerate(variables):
        variable.assign(store[str(i)])
    key = str(len(variables))
    if key in store:
        seed_generator.state.assign(store[key])
