"""VariantWins, best_variant and class_winner_distribution against numpy."""

import keras
import numpy as np
import pytest

from keras_memnets.losses import SetMinLoss
from keras_memnets.metrics import VariantWins
from keras_memnets.metrics import best_variant
from keras_memnets.metrics import class_winner_distribution


def numpy_winners(y_true, y_pred):
    return ((y_pred - y_true[:, None]) ** 2).mean(axis=-1).argmin(axis=1)


def test_best_variant_matches_numpy():
    rng = np.random.default_rng(0)
    y_true = rng.random((20, 5)).astype("float32")
    y_pred = rng.random((20, 4, 5)).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(best_variant(y_true, y_pred)),
        numpy_winners(y_true, y_pred),
    )
    mae = np.abs(y_pred - y_true[:, None]).mean(axis=-1).argmin(axis=1)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(
            best_variant(y_true, y_pred, base_loss="mae")
        ),
        mae,
    )
    with pytest.raises(ValueError, match="best_variant.*variant axis"):
        best_variant(y_true, y_true)


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
        ValueError, match="VariantWins.*variant.*\\[0, num_variants=2\\)"
    ):
        VariantWins(num_variants=2, variant=2)
    with pytest.raises(TypeError, match="VariantWins.*variant"):
        VariantWins(num_variants=2, variant="0")
    with pytest.raises(ValueError, match="VariantWins.*base_loss"):
        VariantWins(num_variants=2, variant=0, base_loss="nonsense")
    metric = VariantWins(num_variants=3, variant=0)
    with pytest.raises(ValueError, match="VariantWins.*num_variants=3"):
        metric.update_state(np.zeros((2, 4)), np.zeros((2, 2, 4)))


def test_class_winner_distribution_by_hand():
    winners = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    table = class_winner_distribution(winners, labels, num_variants=4)
    np.testing.assert_array_equal(table["counts"], [[3, 1, 0, 0], [0, 1, 3, 0]])
    np.testing.assert_allclose(
        table["distribution"], [[0.75, 0.25, 0, 0], [0, 0.25, 0.75, 0]]
    )
    h_row = -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25))  # 0.811 bits
    np.testing.assert_allclose(table["class_entropy_bits"], [h_row, h_row])
    np.testing.assert_allclose(table["conditional_entropy_bits"], h_row)
    h_w = -(3 / 8 * np.log2(3 / 8) * 2 + 2 / 8 * np.log2(2 / 8))
    np.testing.assert_allclose(table["winner_entropy_bits"], h_w)
    np.testing.assert_allclose(table["mutual_information_bits"], h_w - h_row)
    # An absent class gives a zero row and does not count.
    table = class_winner_distribution(
        winners, labels, num_variants=4, num_classes=3
    )
    np.testing.assert_array_equal(table["distribution"][2], 0)
    np.testing.assert_allclose(table["conditional_entropy_bits"], h_row)


def test_class_winner_distribution_bad_input():
    with pytest.raises(
        ValueError, match="class_winner_distribution.*equal length"
    ):
        class_winner_distribution(np.zeros(3), np.zeros(4), num_variants=2)
    with pytest.raises(ValueError, match="class_winner_distribution.*winners"):
        class_winner_distribution(
            np.array([0, 2]), np.array([0, 1]), num_variants=2
        )
    with pytest.raises(ValueError, match="class_winner_distribution.*labels"):
        class_winner_distribution(
            np.array([0, 1]), np.array([0, 5]), num_variants=2, num_classes=3
        )
