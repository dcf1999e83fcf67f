"""WeightHistory: step counting, snapshots, statistics and HDF5 streaming."""

import h5py
import keras
import numpy as np
import pytest

import keras_memnets
from keras_memnets import analysis
from keras_memnets.callbacks import WeightHistory


def _model():
    keras.utils.set_random_seed(0)
    model = keras_memnets.models.relu_mlp([8, 8, 8])
    model.compile("adam", "mse")
    return model


def test_steps_and_weights_shape():
    model = _model()
    x, y = keras_memnets.datasets.piecewise_steps(100, seed=0)
    history = WeightHistory(every=3, keep_weights=True)
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[history])
    # 20 steps: records at 0, 3, ..., 18.
    assert history.steps == list(range(0, 20, 3))
    assert history.weights().shape == (7, 169)
    # The last snapshot is the model's weights at step 18, the first the
    # initial ones (step 0, before any update).
    flat_now = np.concatenate([w.ravel() for w in model.get_weights()])
    assert not np.allclose(history.weights()[-1], flat_now)  # 2 more steps
    model2 = _model()
    flat0 = np.concatenate([w.ravel() for w in model2.get_weights()])
    np.testing.assert_allclose(history.weights()[0], flat0)
    # Statistics per record match analysis on the snapshot.
    w_last = history.weights()[-1]
    np.testing.assert_allclose(
        history.statistic("variance")[-1],
        np.var(w_last.astype("float64")),
        rtol=1e-6,
    )
    kernel = history.statistic("stable_rank", "hidden_2/kernel")
    assert kernel.shape == (7,)
    assert history.statistic("histogram").shape == (7, 40)
    assert np.all(np.isnan(history.statistic("alpha", "hidden_2/kernel")))


def test_steps_per_execution_and_second_fit():
    model = keras_memnets.models.relu_mlp([4])
    # The torch backend runs one step per execution.
    spe = 1 if keras.backend.backend() == "torch" else 5
    model.compile("adam", "mse", steps_per_execution=spe)
    x, y = keras_memnets.datasets.piecewise_steps(50, seed=0)
    history = WeightHistory(every=5)
    model.fit(x, y, batch_size=5, epochs=1, verbose=0, callbacks=[history])
    model.fit(x, y, batch_size=5, epochs=1, verbose=0, callbacks=[history])
    assert history.steps == [0, 5, 10, 15, 20]
    with pytest.raises(ValueError, match="keep_weights"):
        history.weights()


def test_epoch_unit_and_layers():
    model = _model()
    x, y = keras_memnets.datasets.piecewise_steps(40, seed=0)
    history = WeightHistory(
        every=2, unit="epoch", layers=["output"], keep_weights=True
    )
    model.fit(x, y, batch_size=20, epochs=5, verbose=0, callbacks=[history])
    assert history.steps == [0, 2, 4]
    assert history.weights().shape == (3, 9)
    assert sorted(history.statistics) == ["all", "output/bias", "output/kernel"]


def test_hdf5_streaming_keeps_what_an_interrupted_run_wrote(tmp_path):
    path = str(tmp_path / "weights.h5")
    model = _model()
    x, y = keras_memnets.datasets.piecewise_steps(100, seed=0)

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 7:
                raise KeyboardInterrupt

    history = WeightHistory(every=2, path=path)
    with pytest.raises(KeyboardInterrupt):
        model.fit(
            x,
            y,
            batch_size=10,
            epochs=3,
            verbose=0,
            callbacks=[history, Interrupt()],
        )
    # Steps 0, 2, 4, 6, 8 were recorded before the interruption at step 8.
    steps, weights, variables = analysis.load_weight_history(path)
    assert steps.tolist() == [0, 2, 4, 6, 8]
    assert weights.shape == (5, 169)
    assert variables[0] == ("hidden_1/kernel", (1, 8))
    np.testing.assert_array_equal(history.weights(), weights)
    with h5py.File(path, "r") as f:  # the file is closed and readable
        assert f["weights"].maxshape == (None, 169)
    np.testing.assert_allclose(
        weights[-1], np.concatenate([w.ravel() for w in model.get_weights()])
    )


def test_tensorboard(tmp_path):
    pytest.importorskip("tensorflow")
    pytest.importorskip("tensorboard")
    model = _model()
    x, y = keras_memnets.datasets.piecewise_steps(20, seed=0)
    history = WeightHistory(every=1, log_dir=str(tmp_path / "logs"))
    model.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[history])
    assert list((tmp_path / "logs").glob("events.out.tfevents.*"))


def test_bad_arguments():
    with pytest.raises(ValueError, match="`every` must be a positive int"):
        WeightHistory(every=0)
    with pytest.raises(TypeError, match="`every` must be a positive int"):
        WeightHistory(every=2.5)
    assert WeightHistory(every=np.int64(3)).every == 3
    with pytest.raises(ValueError, match="`unit`"):
        WeightHistory(unit="seconds")
    with pytest.raises(ValueError, match="`bins`"):
        WeightHistory(bins=[1.0, 0.0])
    with pytest.raises(ValueError, match="`bins`"):
        WeightHistory(bins=[0.0, np.nan, 1.0])
    with pytest.raises(TypeError, match="`keep_weights`"):
        WeightHistory(keep_weights="yes")
    with pytest.raises(ValueError, match="`tolerance`"):
        WeightHistory(tolerance=-1.0)
    with pytest.raises(TypeError, match="`alpha_min_size`"):
        WeightHistory(alpha_min_size=2.5)
    with pytest.raises(TypeError, match="`layers`"):
        WeightHistory(layers=[0, 1])
    with pytest.raises(TypeError, match="`log_dir`"):
        WeightHistory(log_dir=3)
    model = _model()
    x, y = keras_memnets.datasets.piecewise_steps(20, seed=0)
    with pytest.raises(ValueError, match="`layers` must name.*'nope'"):
        model.fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[WeightHistory(layers=["nope"])],
        )
