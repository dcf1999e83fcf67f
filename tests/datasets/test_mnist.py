"""The MNIST loader: bundled sample, split, options, source choice, damage."""

import hashlib
import logging
import os
import shutil

import numpy as np
import pytest

from keras_memnets.datasets import BUNDLED_SHA256
from keras_memnets.datasets import load_mnist
from keras_memnets.datasets import mnist
from keras_memnets.datasets import resolve_mnist_source

# Class counts of the whole file, from shared/data/README.md (independent of
# the loader), and of the test split produced by the documented permutation.
FILE_CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
TEST_CLASS_COUNTS = [224, 209, 200, 208, 189, 175, 207, 184, 216, 188]


@pytest.fixture
def offline_home(tmp_path, monkeypatch):
    """No tfds or keras MNIST on disk."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / ".keras"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    return tmp_path


def test_bundled_file_checksum():
    with open(mnist._bundled_path(), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == BUNDLED_SHA256


def test_bundled_layout_and_split():
    (x_train, y_train), (x_test, y_test) = load_mnist(source="bundled")
    assert x_train.shape == (8000, 28, 28) and x_test.shape == (2000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_train.max() == 255 and x_train.min() == 0
    counts = np.bincount(y_train, minlength=10) + np.bincount(
        y_test, minlength=10
    )
    assert counts.tolist() == FILE_CLASS_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == TEST_CLASS_COUNTS
    # The split is a permutation of the file: no digit is in both halves.
    with np.load(mnist._bundled_path()) as data:
        raw = data["x"].reshape(10000, -1)
    keys = {row.tobytes() for row in x_train.reshape(8000, -1)}
    assert not any(row.tobytes() in keys for row in x_test.reshape(2000, -1))
    assert len(keys | {r.tobytes() for r in x_test.reshape(2000, -1)}) == len(
        {r.tobytes() for r in raw}
    )


def test_first_5000_training_digits_cover_every_class():
    (_, y_train), _ = load_mnist(source="bundled")
    assert np.bincount(y_train[:5000], minlength=10).min() > 400


def test_split_is_stable_across_calls():
    (a, ya), _ = load_mnist(source="bundled")
    (b, yb), _ = load_mnist(source="bundled")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)


def test_normalize_and_flatten():
    (x, _), (xt, _) = load_mnist(source="bundled", normalize=True, flatten=True)
    (raw, _), _ = load_mnist(source="bundled")
    assert x.shape == (8000, 784) and xt.shape == (2000, 784)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x[3], raw[3].reshape(-1) / 255.0, rtol=1e-6)
    (x64, _), _ = load_mnist(source="bundled", normalize=True, dtype="float64")
    assert x64.dtype == np.float64 and x64.shape == (8000, 28, 28)


def test_auto_uses_bundled_offline_and_logs_it(offline_home, caplog):
    assert resolve_mnist_source("auto") == "bundled"
    with caplog.at_level(logging.INFO, logger="keras_memnets.datasets"):
        (x, _), _ = load_mnist()
    assert x.shape == (8000, 28, 28)
    assert "resolved to 'bundled'" in caplog.text


def test_auto_prefers_keras_cache_when_present(offline_home, monkeypatch):
    cache = offline_home / ".keras" / "datasets"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"placeholder")
    assert resolve_mnist_source("auto") == "keras"
    calls = []
    fake = ((np.zeros((2, 28, 28), "uint8"), np.zeros(2, "uint8")),) * 2
    monkeypatch.setattr(mnist, "_load_keras", lambda: calls.append(1) or fake)
    (x, _), _ = load_mnist()
    assert calls == [1] and x.shape == (2, 28, 28)


def test_auto_prefers_tfds_only_when_installed_and_on_disk(
    offline_home, monkeypatch
):
    info = offline_home / "tfds" / "mnist" / "3.0.1"
    info.mkdir(parents=True)
    (info / "dataset_info.json").write_text("{}")
    monkeypatch.setattr(mnist.importlib.util, "find_spec", lambda name: None)
    assert resolve_mnist_source("auto") == "bundled"
    monkeypatch.setattr(
        mnist.importlib.util, "find_spec", lambda name: object()
    )
    assert resolve_mnist_source("auto") == "tfds"
    seen = {}

    def fake_tfds(data_dir, download):
        seen["download"] = download
        return ((np.zeros((1, 28, 28), "uint8"), np.zeros(1, "uint8")),) * 2

    monkeypatch.setattr(mnist, "_load_tfds", fake_tfds)
    load_mnist()
    # "auto" must never start a download.
    assert seen["download"] is False


def test_unknown_source():
    with pytest.raises(ValueError, match="`source` must be one of"):
        load_mnist(source="internet")


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", None, "nope"])
def test_normalize_needs_a_float_dtype(dtype):
    # Before: int8 overflowed (255 -> -1) and int32 rounded every pixel to 0.
    with pytest.raises(ValueError, match="load_mnist: `dtype` must be a"):
        load_mnist(source="bundled", normalize=True, dtype=dtype)


def test_flags_must_be_bools():
    with pytest.raises(TypeError, match="load_mnist: `normalize`"):
        load_mnist(source="bundled", normalize="yes")
    with pytest.raises(TypeError, match="load_mnist: `flatten`"):
        load_mnist(source="bundled", flatten=1)


def test_damaged_file_names_file_and_checksum(tmp_path, monkeypatch):
    damaged = tmp_path / "mnist10k.npz"
    shutil.copy(mnist._bundled_path(), damaged)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(mnist, "_bundled_path", lambda: str(damaged))
    with pytest.raises(ValueError) as info:
        load_mnist(source="bundled")
    assert str(damaged) in str(info.value) and BUNDLED_SHA256 in str(info.value)


def test_missing_file_names_file_and_checksum(tmp_path, monkeypatch):
    missing = os.path.join(str(tmp_path), "nothing.npz")
    monkeypatch.setattr(mnist, "_bundled_path", lambda: missing)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(source="bundled")
    assert missing in str(info.value) and BUNDLED_SHA256 in str(info.value)
