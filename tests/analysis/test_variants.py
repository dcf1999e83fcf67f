"""best_variant and class_winner_distribution against numpy."""

import keras
import numpy as np
import pytest

from keras_memnets.analysis import best_variant
from keras_memnets.analysis import class_winner_distribution


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


def test_best_variant_gives_minus_one_for_non_finite_samples():
    y_true = np.zeros((2, 3), "float32")
    y_pred = np.stack([np.ones((2, 3)), np.zeros((2, 3))], 1).astype("float32")
    y_pred[0, 1, 2] = np.nan
    winners = keras.ops.convert_to_numpy(best_variant(y_true, y_pred))
    np.testing.assert_array_equal(winners, [-1, 1])


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
    with pytest.raises(TypeError, match="class_winner_distribution: `num_"):
        class_winner_distribution(np.array([0]), np.array([0]), 2.0)


def test_no_winner_is_left_out_and_counted():
    table = class_winner_distribution(
        np.array([0, -1, 1]), np.array([0, 0, 1]), num_variants=2
    )
    np.testing.assert_array_equal(table["counts"], [[1, 0], [0, 1]])
    assert table["no_winner"] == 1
