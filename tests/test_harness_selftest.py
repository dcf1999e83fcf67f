"""The harness itself: it passes a correct layer and catches broken ones."""

import keras
import numpy as np
import pytest

from tests import harness


class _Scale(keras.layers.Layer):
    """Multiplies by a learned per-feature scale. Example: none (test only)."""

    def __init__(self, initial=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = initial

    def build(self, input_shape):
        self.scale = self.add_weight(
            name="scale",
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.initial),
        )

    def call(self, x):
        return x * keras.ops.cast(self.scale, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "initial": self.initial}


class _ForgetfulScale(_Scale):
    """Forgets `initial` in its config."""

    def get_config(self):
        config = super().get_config()
        del config["initial"]
        return config


class _WrongShape(_Scale):
    """Claims a wrong output shape."""

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (input_shape[-1] + 1,)


# Registered in this test process only: a fresh process that imports
# keras_memnets cannot find it, which is what check_save_load must notice.
keras.saving.register_keras_serializable(package="keras_memnets_selftest")(
    _Scale
)


class _Float32Output(_Scale):
    """Returns float32 whatever its dtype policy."""

    def call(self, x):
        return keras.ops.cast(super().call(x), "float32")


def _case(cls, trainable_weights=1, expected_output=None, **kwargs):
    return harness.Case(
        obj=cls,
        kind="layer",
        kwargs=kwargs,
        input_shape=(3,),
        trainable_weights=trainable_weights,
        non_trainable_weights=0,
        expected_output=expected_output,
    )


@pytest.mark.parametrize(
    "check",
    ["config", "shapes", "weights", "dtypes", "output", "train"]
    + ["mixed_precision"],
)
def test_correct_layer_passes(check):
    case = _case(_Scale, initial=2.0, expected_output=lambda layer, x: 2.0 * x)
    assert check in case.checks
    getattr(harness, f"check_{check}")(case, np.random.default_rng(0))


def test_wrong_weight_count_is_caught():
    match = "1 trainable weights, the case states 2"
    with pytest.raises(AssertionError, match=match):
        harness.check_weights(
            _case(_Scale, trainable_weights=2), np.random.default_rng(0)
        )


def test_a_layer_case_must_state_its_weight_counts():
    with pytest.raises(ValueError, match="trainable_weights"):
        harness.Case(obj=_Scale, kind="layer")


def test_output_ignoring_the_dtype_policy_is_caught():
    with pytest.raises(AssertionError, match="under mixed_float16"):
        harness.check_dtypes(_case(_Float32Output), np.random.default_rng(0))


def test_wrong_expected_output_is_caught():
    case = _case(_Scale, initial=2.0, expected_output=lambda layer, x: 3 * x)
    with pytest.raises(AssertionError, match="output 0"):
        harness.check_output(case, np.random.default_rng(0))


def test_incomplete_config_is_caught():
    with pytest.raises(AssertionError, match="lacks"):
        harness.check_config(_case(_ForgetfulScale), np.random.default_rng(0))


def test_wrong_compute_output_shape_is_caught():
    with pytest.raises(AssertionError):
        harness.check_shapes(_case(_WrongShape), np.random.default_rng(0))


def test_unregistered_package_is_caught():
    with pytest.raises(AssertionError):
        harness.check_serialize(_case(_Scale), np.random.default_rng(0))


def test_object_not_registered_on_import_fails_fresh_load(fresh_loader):
    with pytest.raises(AssertionError, match="fresh process failed"):
        harness.check_save_load(
            _case(_Scale), np.random.default_rng(0), fresh_loader
        )


class _NoGradient(_Scale):
    """Its scale gets an exactly zero gradient, so training cannot change it."""

    def call(self, x):
        return x + 0.0 * keras.ops.cast(self.scale, x.dtype)


def test_untrained_weights_are_caught():
    case = _case(_NoGradient)
    with pytest.raises(AssertionError):
        harness.check_train(case, np.random.default_rng(0))
