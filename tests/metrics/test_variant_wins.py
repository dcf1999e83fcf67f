"""VariantWins against numpy."""

import keras
import numpy as np
import pytest

from keras_memnets.losses import SetMinLoss
from keras_memnets.metrics import VariantWins


def numpy_winners(y_true, y_pred):
    return ((y_pred - y_true[:, None]) ** 2).mean(axis=-1).argmin(axis=1)


def test_wins_accumulate_with_weights_and_reset():
    rng = np.random.default_rng(1)
    metric = VariantWins(num_variants=4, variant=3)
    counts = np.zeros(4)
    for _ in range(3):
        y_true = rng.random((10, 3)).astype("float32")
        y_pred = rng.random((10, 4, 3)).astype("float32")
        # Variant 3 never wins: it is far from every target.
        y_pred[:, 3] = 10.0
        weights = rng.random(10).astype("float32")
        metric.update_state(y_true, y_pred, sample_weight=weights)
        counts += np.bincount(
            numpy_winners(y_true, y_pred), weights=weights, minlength=4
        )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(metric.wins), counts, rtol=1e-5
    )
    assert metric.name == "variant_wins_3"
    assert float(metric.result()) == 0.0  # the dead variant is visible
    for k in range(3):
        other = VariantWins(4, k)
        other.wins.assign(metric.wins)
        np.testing.assert_allclose(
            float(other.result()), counts[k] / counts.sum(), rtol=1e-5
        )
    metric.reset_state()
    assert np.all(keras.ops.convert_to_numpy(metric.wins) == 0)


def test_in_fit_logs_shares_that_sum_to_one():
    rng = np.random.default_rng(2)
    inputs = keras.Input((3,))
    outputs = keras.layers.Reshape((2, 4))(keras.layers.Dense(8)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(
        "adam", loss=SetMinLoss(), metrics=[VariantWins(2, k) for k in range(2)]
    )
    history = model.fit(
        rng.random((16, 3)),
        rng.random((16, 4)),
        epochs=2,
        batch_size=8,
        verbose=0,
    )
    shares = np.array([history.history[f"variant_wins_{k}"] for k in range(2)])
    np.testing.assert_allclose(shares.sum(axis=0), 1.0, rtol=1e-6)


def test_two_outputs_keep_their_own_keys():
    # Output "left": variant 0 always wins; output "right": variant 1 does.
    inputs = keras.Input((3,))
    fixed = keras.initializers.Constant
    left = keras.layers.Dense(
        2, kernel_initializer="zeros", bias_initializer=fixed([0.0, 5.0])
    )(inputs)
    right = keras.layers.Dense(
        2, kernel_initializer="zeros", bias_initializer=fixed([5.0, 0.0])
    )(inputs)
    model = keras.Model(
        inputs,
        {
            "left": keras.layers.Reshape((2, 1), name="left")(left),
            "right": keras.layers.Reshape((2, 1), name="right")(right),
        },
    )
    wins = {o: [VariantWins(2, k) for k in range(2)] for o in ("left", "right")}
    model.compile(
        keras.optimizers.SGD(0.0),
        loss={"left": SetMinLoss(), "right": SetMinLoss()},
        metrics=wins,
    )
    x = np.zeros((8, 3), "float32")
    y = {"left": np.zeros((8, 1)), "right": np.zeros((8, 1))}
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["left_variant_wins_0"] == 1.0
    assert logs["left_variant_wins_1"] == 0.0
    assert logs["right_variant_wins_0"] == 0.0
    assert logs["right_variant_wins_1"] == 1.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="VariantWins.*num_variants.*>= 2"):
        VariantWins(num_variants=1, variant=0)
    with pytest.raises(TypeError, match="VariantWins.*num_variants"):
        VariantWins(num_variants=2.0, variant=0)
    with pytest.raises(
        ValueError, match="VariantWins: `variant` must be an int in \\[0, 1\\]"
    ):
        VariantWins(num_variants=2, variant=2)
    with pytest.raises(TypeError, match="VariantWins.*variant"):
        VariantWins(num_variants=2, variant="0")
    with pytest.raises(ValueError, match="VariantWins.*base_loss"):
        VariantWins(num_variants=2, variant=0, base_loss="nonsense")
    metric = VariantWins(num_variants=3, variant=0)
    with pytest.raises(ValueError, match="VariantWins.*num_variants=3"):
        metric.update_state(np.zeros((2, 4)), np.zeros((2, 2, 4)))


def test_samples_with_non_finite_losses_win_nothing():
    # Before, argmin over a NaN row counted a win for variant 0.
    y_true = np.zeros((3, 2), "float32")
    y_pred = np.stack([np.ones((3, 2)), np.zeros((3, 2))], axis=1).astype(
        "float32"
    )
    y_pred[0, 0, 0] = np.nan
    y_true[1, 1] = np.inf
    metric = VariantWins(num_variants=2, variant=1)
    metric.update_state(y_true, y_pred)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(metric.wins), [0.0, 1.0]
    )
    assert float(metric.result()) == 1.0


def test_batch_of_zero_rows_adds_nothing():
    metric = VariantWins(num_variants=2, variant=0)
    metric.update_state(np.zeros((0, 3)), np.zeros((0, 2, 3)))
    assert float(metric.result()) == 0.0
    metric.update_state(np.zeros((1, 3)), np.stack([np.zeros((1, 3))] * 2, 1))
    assert float(metric.result()) == 1.0
