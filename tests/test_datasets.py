"""Tests for snngraph.datasets, on tiny IDX files written by the tests themselves."""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.request

import numpy as np
import pytest

from snngraph import datasets
from snngraph.datasets import DatasetError, load_mnist, read_idx, write_idx

BUNDLED_TRAIN, BUNDLED_TEST = 5000, 1000
NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No real data, cache or network: every test starts from an empty world."""
    monkeypatch.delenv("SNNGRAPH_DATA", raising=False)
    monkeypatch.delenv("SNNGRAPH_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))

    def no_network(*args, **kwargs):
        pytest.fail(f"download attempted: urlopen{args}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


def tiny_mnist(n_train=3, n_test=2, seed=0):
    rng = np.random.default_rng(seed)
    return {
        NAMES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        NAMES[1]: rng.integers(0, 10, n_train, dtype=np.uint8),
        NAMES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        NAMES[3]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_mnist(directory, n_train=3, n_test=2, gz=True):
    directory.mkdir(parents=True, exist_ok=True)
    arrays = tiny_mnist(n_train, n_test)
    for name, array in arrays.items():
        write_idx(directory / (name + (".gz" if gz else "")), array)
    return arrays


# --------------------------------------------------------------------------- IDX round trip


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype).newbyteorder("=")
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_header_is_big_endian(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.array([[1, 2, 3]], dtype=np.int16))
    assert path.read_bytes() == bytes.fromhex("0000 0B02 00000001 00000003 0001 0002 0003")


def test_gzip_detected_by_magic_without_suffix(tmp_path):
    raw, disguised = tmp_path / "a.idx", tmp_path / "b.idx"
    write_idx(raw, np.arange(5, dtype=np.uint8))
    disguised.write_bytes(gzip.compress(raw.read_bytes()))
    np.testing.assert_array_equal(read_idx(disguised), np.arange(5))


def test_read_is_writable(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.zeros((2, 2), dtype=np.uint8))
    read_idx(path)[0, 0] = 1


def test_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(DatasetError, match="dtype"):
        write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.uint16))


# --------------------------------------------------------------------------- malformed files


def good_header():
    return bytes.fromhex("0000 0801 00000003")  # uint8, 1-d, 3 items


@pytest.mark.parametrize(
    "content, message",
    [
        (bytes.fromhex("0102 0801 00000003") + b"abc", "magic"),
        (bytes.fromhex("0000 0701 00000003") + b"abc", "type code"),
        (good_header() + b"ab", "truncated"),
        (bytes.fromhex("0000 0802 0000"), "truncated"),
        (b"\x00", "truncated"),
        (good_header() + b"abcd", "trailing"),
    ],
    ids=["bad-magic", "unknown-dtype", "truncated-data", "truncated-dims", "tiny", "trailing"],
)
@pytest.mark.parametrize("gz", [False, True])
def test_malformed_file_names_the_file(tmp_path, content, message, gz):
    path = tmp_path / ("bad.idx.gz" if gz else "bad.idx")
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "expected" in str(info.value) and "found" in str(info.value)


def test_corrupt_gzip_names_the_file(tmp_path):
    path = tmp_path / "bad.idx.gz"
    path.write_bytes(gzip.compress(good_header() + b"abc")[:-6])
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_dataset_error_is_value_error():
    assert issubclass(DatasetError, ValueError)


def test_count_mismatch_names_both_files(tmp_path):
    write_mnist(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    write_idx(labels, np.zeros(4, dtype=np.uint8))
    with pytest.raises(DatasetError, match="3 images and 4 labels") as info:
        load_mnist(tmp_path)
    assert str(labels) in str(info.value)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in str(info.value)


def test_wrong_image_shape_is_rejected(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((2, 28, 27), dtype=np.uint8))
    with pytest.raises(DatasetError, match="28, 28"):
        load_mnist(tmp_path)


# --------------------------------------------------------------------------- load_mnist


@pytest.mark.parametrize("gz", [False, True])
def test_load_from_explicit_dir(tmp_path, gz):
    arrays = write_mnist(tmp_path / "mnist", gz=gz)
    (x_train, y_train), (x_test, y_test) = load_mnist(tmp_path / "mnist")
    assert x_train.shape == (3, 28, 28) and y_train.shape == (3,)
    assert x_test.shape == (2, 28, 28) and y_test.shape == (2,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    np.testing.assert_array_equal(x_train, arrays[NAMES[0]])
    np.testing.assert_array_equal(y_test, arrays[NAMES[3]])


def test_explicit_parent_with_mnist_folder(tmp_path):
    write_mnist(tmp_path / "mnist", n_train=4)
    (x_train, _), _ = load_mnist(str(tmp_path))
    assert len(x_train) == 4


def test_explicit_missing_path_lists_places(tmp_path, capsys):
    where = tmp_path / "nowhere"
    with pytest.raises(DatasetError) as info:
        load_mnist(where)
    message = str(info.value)
    assert str(where) in message and str(where / "mnist") in message
    assert "train-images-idx3-ubyte" in message
    assert capsys.readouterr().err == ""


def test_explicit_path_does_not_fall_back_to_env(tmp_path, monkeypatch):
    write_mnist(tmp_path / "env")
    monkeypatch.setenv("SNNGRAPH_DATA", str(tmp_path / "env"))
    with pytest.raises(DatasetError):
        load_mnist(tmp_path / "empty")


def test_partial_dir_is_not_used(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="missing: t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_search_order(tmp_path, monkeypatch, capsys):
    # A different training-set size marks each place.
    write_mnist(tmp_path / "explicit", n_train=1)
    write_mnist(tmp_path / "env" / "mnist", n_train=2)
    write_mnist(tmp_path / "xdg-cache" / "snngraph" / "mnist", n_train=3)
    monkeypatch.setenv("SNNGRAPH_DATA", str(tmp_path / "env"))

    assert len(load_mnist(tmp_path / "explicit")[0][0]) == 1
    assert len(load_mnist()[0][0]) == 2
    monkeypatch.setenv("SNNGRAPH_DATA", str(tmp_path / "env" / "mnist"))
    assert len(load_mnist()[0][0]) == 2
    monkeypatch.setenv("SNNGRAPH_DATA", str(tmp_path / "empty"))
    assert len(load_mnist()[0][0]) == 3
    assert capsys.readouterr().err == ""


def test_cache_defaults_to_home(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    write_mnist(tmp_path / "home" / ".cache" / "snngraph" / "mnist", n_train=5)
    assert len(load_mnist()[0][0]) == 5


def test_fallback_to_bundled_subset(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SNNGRAPH_DATA", str(tmp_path / "empty"))
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert x_train.shape == (BUNDLED_TRAIN, 28, 28) and y_train.shape == (BUNDLED_TRAIN,)
    assert x_test.shape == (BUNDLED_TEST, 28, 28) and y_test.shape == (BUNDLED_TEST,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    assert y_train.max() <= 9 and x_train.max() > 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n")
    assert "bundled subset" in err and f"{BUNDLED_TRAIN} train / {BUNDLED_TEST} test" in err
    assert str(tmp_path / "empty") in err and str(tmp_path / "xdg-cache") in err


def test_subset_bundled_is_forced_and_quiet(tmp_path, monkeypatch, capsys):
    write_mnist(tmp_path / "env")
    monkeypatch.setenv("SNNGRAPH_DATA", str(tmp_path / "env"))
    (x_train, _), (x_test, _) = load_mnist(subset="bundled")
    assert len(x_train) == BUNDLED_TRAIN and len(x_test) == BUNDLED_TEST
    assert capsys.readouterr().err == ""


def test_bad_subset_value():
    with pytest.raises(ValueError, match="subset"):
        load_mnist(subset="full")


# --------------------------------------------------------------------------- download


def fake_server(monkeypatch, files, calls):
    """Serve ``files`` (name -> bytes of the .gz) in place of the network."""

    def urlopen(url, timeout=None):
        calls.append(url)
        name = url.rsplit("/", 1)[1]
        if name not in files:
            raise OSError(f"404 {url}")
        return io.BytesIO(files[name])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def serve_tiny_mnist(monkeypatch, calls, tamper=False):
    arrays = tiny_mnist(n_train=4)
    files, md5 = {}, {}
    for name, array in arrays.items():
        raw = bytes.fromhex(f"0000 08{array.ndim:02x}")
        raw += np.asarray(array.shape, ">u4").tobytes() + array.tobytes()
        md5[name] = hashlib.md5(raw).hexdigest()
        files[name + ".gz"] = gzip.compress(raw + (b"x" if tamper else b""))
    monkeypatch.setattr(datasets, "_MNIST_MD5", md5)
    fake_server(monkeypatch, files, calls)


def test_download_when_allowed(tmp_path, monkeypatch, capsys):
    calls = []
    serve_tiny_mnist(monkeypatch, calls)
    (x_train, _), _ = load_mnist(allow_download=True)
    assert len(x_train) == 4
    assert len(calls) == 4 and all(url.startswith("https://") for url in calls)
    cache = tmp_path / "xdg-cache" / "snngraph" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(n + ".gz" for n in NAMES)
    # Second call is served from the cache, without the network.
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network"))
    assert len(load_mnist()[0][0]) == 4
    assert capsys.readouterr().err == ""


def test_download_allowed_by_env(monkeypatch):
    calls = []
    serve_tiny_mnist(monkeypatch, calls)
    monkeypatch.setenv("SNNGRAPH_ALLOW_DOWNLOAD", "1")
    assert len(load_mnist()[0][0]) == 4
    assert calls


def test_checksum_mismatch_falls_back(tmp_path, monkeypatch, capsys):
    calls = []
    serve_tiny_mnist(monkeypatch, calls, tamper=True)
    (x_train, _), _ = load_mnist(allow_download=True)
    assert len(x_train) == BUNDLED_TRAIN
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checksum mismatch" in err and "bundled subset" in err
    # Every mirror was tried, and nothing unverified was left in the cache.
    assert len(calls) == len(datasets._MIRRORS)
    cache = tmp_path / "xdg-cache" / "snngraph" / "mnist"
    assert not any(cache.iterdir())


def test_no_download_by_default(tmp_path, monkeypatch, capsys):
    # The autouse fixture fails the test if urlopen is called.
    monkeypatch.setenv("SNNGRAPH_ALLOW_DOWNLOAD", "0")
    (x_train, _), _ = load_mnist()
    assert len(x_train) == BUNDLED_TRAIN
    assert "download failed" not in capsys.readouterr().err


def test_attribution_mentions_authors_and_licence():
    for needle in ("LeCun", "Cortes", "Burges", "CC BY-SA 3.0", "yann.lecun.com/exdb/mnist"):
        assert needle in datasets.MNIST_ATTRIBUTION
