"""One checker that every public keras_memnets object goes through.

A public object is described once by a `Case` (see `tests/cases.py`); the
parametrized tests in `tests/test_harness.py` then run every check that
applies to its kind:

- `config`: `get_config()` is JSON-able, names every constructor argument,
  and `from_config` gives an object with the same config.
- `serialize`: the object (a class) is registered as `keras_memnets>Name`,
  and
  `keras.saving.serialize_keras_object` survives a JSON round trip.
- `save_load`: a model using the object, trained one epoch, is saved to
  `.keras` and loaded with `safe_mode=True` in a fresh Python process that
  only ran `import keras_memnets`; weights, optimizer variables and
  predictions are identical and `evaluate` gives the same numbers.
- `shapes`: symbolic (KerasTensor) output shapes equal eager output shapes
  and `compute_output_shape`.
- `weights`: a built layer or model holds the numbers of trainable and
  non-trainable weights its case states.
- `dtypes`: under each dtype policy of `POLICIES` the float outputs have
  the policy's compute dtype and the trainable weights its variable dtype.
- `output`: on the case's fixed input, the output equals the case's numpy
  reference (only for cases that give one).
- `train`: `fit` gives finite losses and changes the trainable weights.
- `mixed_precision`: under `mixed_float16` every float variable stays
  float32 and a training step's losses are finite.

These are the checks of keras-hub's `run_layer_test` (serialization, weight
counts, output shapes and dtypes, expected output, a training step,
precision), written for this library.

This module is deliberately independent of `keras.src.testing`, which is
private to Keras.
"""

import contextlib
import copy
import dataclasses
import functools
import inspect
import json
import os
import subprocess
import sys
import tempfile
from typing import Any
from typing import Callable
from typing import Optional

import keras
import numpy as np

# The dtype policies the `dtypes` check runs under (`float32` is the
# `shapes` check's).
POLICIES = ("mixed_float16", "mixed_bfloat16", "bfloat16")
KINDS = (
    "layer",
    "model",
    "loss",
    "regularizer",
    "metric",
    "optimizer",
    "callback",
)
_ALL_CHECKS = (
    "config",
    "serialize",
    "save_load",
    "shapes",
    "weights",
    "dtypes",
    "train",
    "mixed_precision",
)
CHECKS = {
    "layer": _ALL_CHECKS,
    # Builders are plain functions, not registered: the Functional model they
    # return is checked through its config and a .keras round trip.
    "model": (
        "config",
        "save_load",
        "shapes",
        "weights",
        "dtypes",
        "train",
        "mixed_precision",
    ),
    "loss": ("config", "serialize", "save_load", "train", "mixed_precision"),
    "regularizer": (
        "config",
        "serialize",
        "save_load",
        "train",
        "mixed_precision",
    ),
    "metric": ("config", "serialize", "save_load", "train", "mixed_precision"),
    "optimizer": (
        "config",
        "serialize",
        "save_load",
        "train",
        "mixed_precision",
    ),
    "callback": ("config", "serialize", "train"),
}


@dataclasses.dataclass
class Case:
    """How the harness exercises one public object.

    Attributes:
        obj: the public class, or the builder function for kind `"model"`.
        kind: one of `KINDS`.
        kwargs: constructor (or builder) keyword arguments, or a function
            returning them (called for each instance: e.g. the fresh
            `inputs` and `outputs` of a model class).
        input_shape: per-sample input shape (a tuple, or a list of tuples for
            several inputs). For losses, metrics, regularizers and optimizers,
            the input of the small model that produces the prediction.
        make_inputs: optional `(rng, batch) -> array or list of arrays`, for
            inputs that must satisfy a constraint (e.g. a softmax selection).
        y_pred_shape: losses, metrics, regularizers: per-sample prediction
            shape.
        y_true_shape: per-sample target shape; defaults to `y_pred_shape`.
        pred_activation: activation applied to the prediction (e.g.
            `"softmax"`).
        make_targets: optional `(rng, batch) -> y`.
        setup: optional `(obj, x) -> None` run before first use (e.g. `adapt`).
        build: optional `(obj, x, rng) -> (model, x, y)` replacing the default
            model that wraps `obj`; the model must be compiled.
        compare_evaluate: whether `evaluate` after loading must match (off for
            objects whose loss draws fresh random numbers).
        id: a suffix telling several cases of one object apart.
        batch_size: rows of the sample batch.
        trainable_weights: layers and models: the number of trainable
            weights once built (required for these kinds).
        non_trainable_weights: layers and models: the number of
            non-trainable weights once built (required for these kinds).
        expected_output: optional `(obj, x) -> array or list of arrays`, a
            numpy reference of the output of the built layer `obj` (whose
            weights it may read) on the case's fixed input `x`.
    """

    obj: Any
    kind: str
    kwargs: dict = dataclasses.field(default_factory=dict)
    input_shape: Any = (6,)
    make_inputs: Optional[Callable] = None
    y_pred_shape: tuple = (4,)
    y_true_shape: Optional[tuple] = None
    pred_activation: Optional[str] = None
    make_targets: Optional[Callable] = None
    setup: Optional[Callable] = None
    build: Optional[Callable] = None
    compare_evaluate: bool = True
    id: Optional[str] = None
    batch_size: int = 8
    trainable_weights: Optional[int] = None
    non_trainable_weights: Optional[int] = None
    expected_output: Optional[Callable] = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(
                f"Case.kind must be one of {KINDS}, got {self.kind!r}"
            )
        if self.kind in ("layer", "model") and (
            self.trainable_weights is None or self.non_trainable_weights is None
        ):
            raise ValueError(
                f"Case {self.name}: a {self.kind} case must state "
                "`trainable_weights` and `non_trainable_weights`."
            )
        if self.expected_output is not None and self.kind != "layer":
            raise ValueError(
                f"Case {self.name}: `expected_output` is for layers only."
            )

    @property
    def name(self):
        base = getattr(self.obj, "__name__", repr(self.obj))
        return f"{base}-{self.id}" if self.id else base

    @property
    def checks(self):
        checks = CHECKS[self.kind]
        if self.kind == "model" and inspect.isclass(self.obj):
            # A model class (not a builder) is registered too.
            checks = checks[:1] + ("serialize",) + checks[1:]
        if self.expected_output is not None:
            checks = checks + ("output",)
        return checks


# ---------------------------------------------------------------------------
# Building what a check needs.


@contextlib.contextmanager
def dtype_policy(name):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def make_instance(case, dtype=None):
    kwargs = dict(case.kwargs() if callable(case.kwargs) else case.kwargs)
    if dtype is not None and case.kind == "layer":
        kwargs["dtype"] = dtype
    return case.obj(**kwargs)


def sample_inputs(case, rng, batch=None):
    batch = batch or case.batch_size
    if case.make_inputs is not None:
        return case.make_inputs(rng, batch)
    if isinstance(case.input_shape, list):
        return [
            rng.standard_normal((batch, *s)).astype("float32")
            for s in case.input_shape
        ]
    return rng.standard_normal((batch, *case.input_shape)).astype("float32")


def _symbolic_inputs(x):
    if isinstance(x, (list, tuple)):
        return [keras.Input(shape=a.shape[1:], dtype=str(a.dtype)) for a in x]
    return keras.Input(shape=x.shape[1:], dtype=str(x.dtype))


def _random_like(structure, rng):
    return keras.tree.map_structure(
        lambda t: rng.random(tuple(t.shape)).astype("float32"), structure
    )


def _targets(case, rng, batch):
    if case.make_targets is not None:
        return case.make_targets(rng, batch)
    shape = case.y_true_shape or case.y_pred_shape
    return rng.random((batch, *shape)).astype("float32")


def _prediction_head(case, inputs, **dense_kwargs):
    units = int(np.prod(case.y_pred_shape))
    h = keras.layers.Dense(units, **dense_kwargs)(inputs)
    h = keras.layers.Reshape(case.y_pred_shape)(h)
    if case.pred_activation:
        h = keras.layers.Activation(case.pred_activation)(h)
    return h


def build_model(case, rng, dtype=None):
    """Returns `(model, obj, x, y)`: a compiled model that uses the object."""

    def scope():
        # Builders and the wrapping model take the global policy; layers get
        # theirs as the `dtype` argument of `make_instance`.
        return (
            dtype_policy(dtype)
            if dtype is not None
            else contextlib.nullcontext()
        )

    with scope():
        obj = make_instance(case, dtype=dtype)
    x = sample_inputs(case, rng)
    if case.setup is not None:
        case.setup(obj, x)
    if case.build is not None:
        with scope():
            model, x, y = case.build(obj, x, rng)
        return model, obj, x, y

    with scope():
        if case.kind == "layer":
            inputs = _symbolic_inputs(x)
            outputs = obj(inputs)
            if not obj.trainable_weights:
                # Give the optimizer something to train downstream of the layer.
                outputs = keras.tree.map_structure(
                    lambda o: keras.layers.Dense(o.shape[-1])(o), outputs
                )
            model = keras.Model(inputs, outputs)
        elif case.kind == "model":
            model = obj
        else:
            inputs = _symbolic_inputs(x)
            if case.kind == "regularizer":
                outputs = _prediction_head(
                    case, inputs, activity_regularizer=obj
                )
            else:
                outputs = _prediction_head(case, inputs)
            model = keras.Model(inputs, outputs)

        if case.kind in ("layer", "model"):
            y = _random_like(model(x), rng)
            loss = keras.tree.map_structure(lambda _: "mse", y)
        else:
            y = _targets(case, rng, case.batch_size)
            loss = obj if case.kind == "loss" else "mse"
        model.compile(
            optimizer=obj if case.kind == "optimizer" else "adam",
            loss=loss,
            metrics=[obj] if case.kind == "metric" else None,
        )
    return model, obj, x, y


# ---------------------------------------------------------------------------
# A fresh process for loading.

_WORKER = r"""
import json, sys, traceback
import numpy as np
import keras
import keras_memnets  # registration must happen on import

def unpack(data, meta, prefix):
    arrays = [data[f"{prefix}{i}"] for i in range(meta["n"])]
    if meta["type"] == "array":
        return arrays[0]
    if meta["type"] == "dict":
        return dict(zip(meta["keys"], arrays))
    return arrays

for line in sys.stdin:
    request = json.loads(line)
    try:
        model = keras.saving.load_model(request["model"], safe_mode=True)
        with np.load(request["data"], allow_pickle=False) as data:
            x = unpack(data, request["x"], "x")
            y = unpack(data, request["y"], "y")
        out = {}
        preds = keras.tree.flatten(model.predict(x, verbose=0))
        for i, p in enumerate(preds):
            out[f"pred{i}"] = np.asarray(p)
        for i, w in enumerate(model.get_weights()):
            out[f"w{i}"] = w
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            for i, v in enumerate(optimizer.variables):
                out[f"opt{i}"] = keras.ops.convert_to_numpy(v)
        if request["evaluate"]:
            result = model.evaluate(x, y, verbose=0, return_dict=True)
            out["eval_names"] = np.array(sorted(result))
            out["eval_values"] = np.array(
                [float(result[k]) for k in sorted(result)]
            )
        np.savez(request["out"], **out)
        reply = {"ok": True}
    except Exception:
        reply = {"ok": False, "error": traceback.format_exc()}
    sys.stdout.write("@@RESULT " + json.dumps(reply) + "\n")
    sys.stdout.flush()
"""


def _pack(structure, prefix, out):
    if isinstance(structure, dict):
        keys = sorted(structure)
        for i, k in enumerate(keys):
            out[f"{prefix}{i}"] = np.asarray(structure[k])
        return {"type": "dict", "keys": keys, "n": len(keys)}
    if isinstance(structure, (list, tuple)):
        for i, a in enumerate(structure):
            out[f"{prefix}{i}"] = np.asarray(a)
        return {"type": "list", "n": len(structure)}
    out[f"{prefix}0"] = np.asarray(structure)
    return {"type": "array", "n": 1}


class FreshProcessLoader:
    """Loads `.keras` files in one long-lived, separate Python process.

    The process imports only `keras` and `keras_memnets`, so a load succeeds
    only if registration happens on `import keras_memnets`. One process
    serves the whole test session to keep backend start-up cost paid once.
    """

    def __init__(self):
        self._proc = None

    def _start(self):
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )

    def load(self, path, x, y, evaluate):
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        folder = os.path.dirname(path)
        data = {}
        request = {
            "model": path,
            "x": _pack(x, "x", data),
            "y": _pack(y, "y", data),
            "data": os.path.join(folder, "data.npz"),
            "out": os.path.join(folder, "result.npz"),
            "evaluate": bool(evaluate),
        }
        np.savez(request["data"], **data)
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        while True:
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError("The fresh loading process died.")
            if line.startswith("@@RESULT "):
                reply = json.loads(line[len("@@RESULT ") :])
                break
        if not reply["ok"]:
            raise AssertionError(
                "Loading in a fresh process failed:\n" + reply["error"]
            )
        with np.load(request["out"], allow_pickle=False) as result:
            return {k: result[k] for k in result.files}

    def close(self):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=60)


# ---------------------------------------------------------------------------
# The checks.


def _normalized(config):
    return json.loads(json.dumps(config, sort_keys=True))


def _constructor_arguments(cls):
    if not inspect.isclass(cls):
        return []
    params = inspect.signature(cls.__init__).parameters.values()
    return [
        p.name
        for p in params
        if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]


def check_config(case, rng):
    if case.kind == "model":
        model = make_instance(case)
        config = model.get_config()
        json.dumps(config)
        # Functional.from_config consumes the dict it is given.
        clone = model.__class__.from_config(copy.deepcopy(config))
        assert _normalized(clone.get_config()) == _normalized(config)
        assert [w.shape for w in clone.weights] == [
            w.shape for w in model.weights
        ]
        return
    obj = make_instance(case)
    config = obj.get_config()
    json.dumps(config)  # must be JSON-able as it is
    missing = [a for a in _constructor_arguments(case.obj) if a not in config]
    assert not missing, f"get_config() of {case.name} lacks {missing}"
    clone = type(obj).from_config(copy.deepcopy(config))
    assert type(clone) is type(obj)
    assert _normalized(clone.get_config()) == _normalized(config)


def check_serialize(case, rng):
    expected = f"keras_memnets>{case.obj.__name__}"
    assert keras.saving.get_registered_name(case.obj) == expected
    assert keras.saving.get_registered_object(expected) is case.obj
    obj = make_instance(case)
    serialized = keras.saving.serialize_keras_object(obj)
    restored = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(serialized))
    )
    assert type(restored) is type(obj)
    assert _normalized(restored.get_config()) == _normalized(obj.get_config())


def _numpy_structure(structure):
    return [
        keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(structure)
    ]


def check_save_load(case, rng, loader):
    model, _, x, y = build_model(case, rng)
    model.fit(x, y, epochs=1, batch_size=case.batch_size, verbose=0)
    expected_pred = _numpy_structure(model.predict(x, verbose=0))
    expected_eval = (
        model.evaluate(x, y, verbose=0, return_dict=True)
        if case.compare_evaluate
        else None
    )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.keras")
        model.save(path)
        result = loader.load(path, x, y, evaluate=case.compare_evaluate)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(result[f"w{i}"], w, err_msg=f"weight {i}")
    if model.optimizer is not None:
        for i, v in enumerate(model.optimizer.variables):
            np.testing.assert_array_equal(
                result[f"opt{i}"],
                keras.ops.convert_to_numpy(v),
                err_msg=f"optimizer variable {v.path}",
            )
    for i, p in enumerate(expected_pred):
        np.testing.assert_allclose(
            result[f"pred{i}"], p, rtol=1e-6, atol=1e-6, err_msg=f"output {i}"
        )
    if expected_eval is not None:
        names = [str(n) for n in result["eval_names"]]
        assert names == sorted(expected_eval)
        np.testing.assert_allclose(
            result["eval_values"],
            [expected_eval[k] for k in names],
            rtol=1e-5,
            atol=1e-6,
        )


def _flat_shapes(shape):
    if isinstance(shape, dict):
        return [s for k in sorted(shape) for s in _flat_shapes(shape[k])]
    if all(isinstance(d, (int, type(None))) for d in shape):
        return [tuple(shape)]
    return [s for item in shape for s in _flat_shapes(item)]


def _shapes(structure):
    return [tuple(t.shape) for t in keras.tree.flatten(structure)]


def check_shapes(case, rng):
    obj = make_instance(case)
    x = sample_inputs(case, rng)
    if case.setup is not None:
        case.setup(obj, x)
    symbolic = obj(_symbolic_inputs(x))
    eager = obj(x)
    eager_shapes = [(None,) + s[1:] for s in _shapes(eager)]
    assert _shapes(symbolic) == eager_shapes
    if isinstance(x, (list, tuple)):
        input_shape = [(None,) + a.shape[1:] for a in x]
    else:
        input_shape = (None,) + x.shape[1:]
    computed = _flat_shapes(obj.compute_output_shape(input_shape))
    assert computed == eager_shapes
    for outputs in (symbolic, eager):
        assert set(_float_dtypes(outputs)) == {"float32"}


def _assert_finite_history(history):
    for name, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{name} is not finite: {values}"


def check_train(case, rng):
    if case.kind == "callback":
        model, obj, x, y = build_model(case, rng)
        history = model.fit(
            x,
            y,
            epochs=2,
            batch_size=case.batch_size,
            verbose=0,
            callbacks=[obj],
        )
        _assert_finite_history(history)
        return
    model, _, x, y = build_model(case, rng)
    before = [
        keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights
    ]
    history = model.fit(x, y, epochs=2, batch_size=case.batch_size, verbose=0)
    _assert_finite_history(history)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert before, "the model has no trainable weights"
    assert any(not np.array_equal(b, a) for b, a in zip(before, after)), (
        "a training step changed no trainable weight"
    )


def _input_shapes(x):
    if isinstance(x, (list, tuple)):
        return [(None,) + a.shape[1:] for a in x]
    return (None,) + x.shape[1:]


def check_weights(case, rng):
    obj = make_instance(case)
    if case.kind == "layer":
        x = sample_inputs(case, rng)
        if case.setup is not None:
            case.setup(obj, x)
        if not obj.built:
            obj.build(_input_shapes(x))
    for kind, weights, expected in (
        ("trainable", obj.trainable_weights, case.trainable_weights),
        (
            "non-trainable",
            obj.non_trainable_weights,
            case.non_trainable_weights,
        ),
    ):
        paths = [w.path for w in weights]
        assert len(weights) == expected, (
            f"{case.name} has {len(weights)} {kind} weights, the case states "
            f"{expected}: {paths}"
        )


@functools.lru_cache(maxsize=None)
def _unsupported(policy):
    """Why this backend cannot run `policy` on this machine, or `None`."""
    try:
        layer = keras.layers.Dense(2, dtype=policy)
        keras.ops.convert_to_numpy(layer(np.ones((1, 3), "float32")))
    except Exception as error:  # noqa: BLE001 - any failure means no
        return f"{policy} on {keras.backend.backend()}: {error}"
    return None


def _float_dtypes(structure):
    dtypes = [
        keras.backend.standardize_dtype(t.dtype)
        for t in keras.tree.flatten(structure)
    ]
    return [d for d in dtypes if "float" in d]


def _run_for_dtypes(obj, x):
    """The outputs of `obj(x)`, of which only the dtypes are used.

    On JAX the call is traced with `jax.eval_shape` (the same code as an
    eager call, without compiling every op for each new dtype); elsewhere it
    runs eagerly. A symbolic call is no substitute: a layer that defines
    `compute_output_shape` gets its policy's compute dtype there by
    construction.
    """
    if keras.backend.backend() == "jax":
        import jax

        return jax.eval_shape(obj, x)
    return obj(x)


def check_dtypes(case, rng):
    import pytest

    x = sample_inputs(case, rng)
    for name in POLICIES:
        reason = _unsupported(name)
        if reason is not None:
            pytest.skip(reason)
        policy = keras.dtype_policies.get(name)
        with dtype_policy(name):
            obj = make_instance(case, dtype=name)
            if case.setup is not None:
                case.setup(obj, x)
            symbolic = obj(_symbolic_inputs(x))  # builds the layer
            outputs = _run_for_dtypes(obj, x)
        for where, structure in (("symbolic", symbolic), ("eager", outputs)):
            dtypes = _float_dtypes(structure)
            assert dtypes and set(dtypes) == {policy.compute_dtype}, (
                f"{where} outputs under {name} are {dtypes}"
            )
        for w in obj.trainable_weights:
            dtype = keras.backend.standardize_dtype(w.dtype)
            assert dtype == policy.variable_dtype, f"{w.path} is {dtype}"


def check_output(case, rng):
    obj = make_instance(case)
    x = sample_inputs(case, rng)
    if case.setup is not None:
        case.setup(obj, x)
    got = _numpy_structure(obj(x))
    expected = keras.tree.flatten(case.expected_output(obj, x))
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(
            g, e, rtol=1e-5, atol=1e-6, err_msg=f"output {i}"
        )


def check_mixed_precision(case, rng):
    model, _, x, y = build_model(case, rng, dtype="mixed_float16")
    for v in model.weights:
        if "float" in str(v.dtype):
            assert str(v.dtype) == "float32", f"{v.path} is {v.dtype}"
    history = model.fit(x, y, epochs=1, batch_size=case.batch_size, verbose=0)
    _assert_finite_history(history)
