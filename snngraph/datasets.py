"""MNIST loading with numpy only.

:func:`load_mnist` looks for the four MNIST IDX files (``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``,
each either raw or gzipped with a ``.gz`` suffix) in this order:

1. the ``path`` argument: the directory holding the files, or its parent with a
   ``mnist/`` folder inside. If ``path`` is given and the files are not there, a
   :class:`DatasetError` is raised; nothing else is tried.
2. ``$SNNGRAPH_DATA``, with the same rule (the directory itself or ``$SNNGRAPH_DATA/mnist``).
3. the user cache, ``$XDG_CACHE_HOME/snngraph/mnist`` (default ``~/.cache/snngraph/mnist``).
4. a download from public mirrors into that cache, each file checked against its known
   MD5, but only when ``allow_download=True`` or ``$SNNGRAPH_ALLOW_DOWNLOAD=1``.

When all of these come up empty, the small subset of MNIST bundled with the package
(``snngraph/data/mnist_subset.npz``) is returned instead and one line saying so is
printed to stderr. ``load_mnist(subset="bundled")`` returns that subset directly.

:func:`read_idx` and :func:`write_idx` read and write single IDX files of any of the
dtypes the format allows.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import os
import sys
import zlib
from pathlib import Path

import numpy as np

__all__ = ["MNIST_ATTRIBUTION", "DatasetError", "load_mnist", "read_idx", "write_idx"]

MNIST_ATTRIBUTION = (
    "MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges, "
    "THE MNIST DATABASE of handwritten digits, http://yann.lecun.com/exdb/mnist/. "
    "Licensed under CC BY-SA 3.0, as stated by the dataset's later distributions."
)

# IDX type codes and the big-endian dtypes they stand for.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"

# Keys are the base names; each file may also be stored as <name>.gz.
_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# MD5 of the *decompressed* IDX files. The .gz files differ between distributions
# (some copies are recompressed), while their contents are identical, so checking the
# decompressed bytes accepts every faithful copy. For reference, the .gz files on the
# mirrors below have MD5s f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d... (train
# images, train labels, test images, test labels).
_MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_DOWNLOAD_TIMEOUT_S = 60


class DatasetError(ValueError):
    """A data file is missing, malformed or inconsistent with its partner files."""


# --------------------------------------------------------------------------- IDX files


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file.

    Parameters
    ----------
    path : str or os.PathLike
        The file. It is decompressed when its name ends in ``.gz`` or when it starts
        with the gzip magic bytes; otherwise it is read raw.

    Returns
    -------
    numpy.ndarray
        The array, with the shape from the header and the header's dtype in native
        byte order (``uint8`` for MNIST).

    Raises
    ------
    DatasetError
        If the file is missing or a directory, the gzip stream is corrupt, the magic
        bytes are wrong, the type code is unknown, or the data is shorter or longer than
        the header says.
    OSError
        If the file cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        why = "is a directory" if path.is_dir() else "no such file"
        raise DatasetError(f"{path}: {why}, expected one IDX file (e.g. "
                           "train-images-idx3-ubyte or its .gz)\n  fix: pass the file; for "
                           "a folder of MNIST files use load_mnist(path=folder)")
    data = _read_maybe_gzipped(path)
    dtype, shape, offset = _parse_idx_header(path, data)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - offset
    if found < expected:
        raise DatasetError(
            f"{path}: truncated IDX data: expected {expected} data bytes for shape "
            f"{shape} of {dtype.name}, found {found}"
        )
    if found > expected:
        raise DatasetError(
            f"{path}: trailing bytes after IDX data: expected {expected} data bytes for "
            f"shape {shape} of {dtype.name}, found {found}"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=offset)
    # astype copies, which also makes the result writable (frombuffer of bytes is not).
    return array.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _read_maybe_gzipped(path: Path) -> bytes:
    data = path.read_bytes()
    if not (path.name.endswith(".gz") or data[:2] == _GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        # Name the file: gzip's own messages do not.
        raise DatasetError(f"{path}: expected a valid gzip stream, found: {exc}") from exc


def _parse_idx_header(path: Path, data: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    """Return (dtype, shape, offset of the first data byte) from an IDX header."""
    if len(data) < 4:
        raise DatasetError(
            f"{path}: truncated IDX header: expected at least 4 bytes, found {len(data)}"
        )
    if data[:2] != b"\x00\x00":
        raise DatasetError(
            f"{path}: bad IDX magic: expected first two bytes 0x0000, found 0x{data[:2].hex()}"
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise DatasetError(
            f"{path}: unknown IDX type code: expected one of {known}, found 0x{code:02X}"
        )
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DatasetError(
            f"{path}: truncated IDX header: expected {offset} bytes for {ndim} dimensions, "
            f"found {len(data)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return _IDX_DTYPES[code], shape, offset


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an array as an IDX file, the inverse of :func:`read_idx`.

    Parameters
    ----------
    path : str or os.PathLike
        Destination. The file is gzipped when the name ends in ``.gz``.
    array : array_like
        Data of dtype uint8, int8, int16, int32, float32 or float64, with at most 255
        dimensions, each below 2**32.

    Raises
    ------
    DatasetError
        If the dtype or shape cannot be stored in IDX.
    """
    path = Path(path)
    array = np.asarray(array)
    code = _idx_code(path, array.dtype)
    if array.ndim > 255 or any(d >= 2**32 for d in array.shape):
        raise DatasetError(
            f"{path}: IDX allows at most 255 dimensions each below 2**32, found {array.shape}"
        )
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(_IDX_DTYPES[code], copy=False).tobytes()
    if path.name.endswith(".gz"):
        # mtime=0 keeps the output byte-identical for identical input.
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)


def _idx_code(path: Path, dtype: np.dtype) -> int:
    for code, idx_dtype in _IDX_DTYPES.items():
        if dtype.kind == idx_dtype.kind and dtype.itemsize == idx_dtype.itemsize:
            return code
    allowed = ", ".join(d.newbyteorder("=").name for d in _IDX_DTYPES.values())
    raise DatasetError(f"{path}: IDX cannot store dtype: expected one of {allowed}, found {dtype}")


# --------------------------------------------------------------------------- MNIST


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    allow_download: bool = False,
    subset: str | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as uint8 arrays.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Directory holding the four MNIST files, or its parent with a ``mnist/`` folder.
        When given, only this place is searched.
    allow_download : bool, default False
        Download the files into the user cache when they are not found locally.
        ``$SNNGRAPH_ALLOW_DOWNLOAD=1`` has the same effect.
    subset : {None, "bundled"}, default None
        ``"bundled"`` returns the small subset shipped with the package without
        searching. ``None`` searches as described in the module docstring and falls
        back to the bundled subset when the full set is not available.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of tuples of numpy.ndarray
        Images of shape ``[n, 28, 28]`` and labels of shape ``[n]``, all uint8.

    Raises
    ------
    DatasetError
        If ``path`` is given and the files are not there, or if the files found are
        malformed or their image and label counts disagree.
    """
    if subset == "bundled":
        return _load_bundled()
    if subset is not None:
        raise ValueError(f"subset: expected None or 'bundled', found {subset!r}")
    if path is not None:
        return _load_explicit(Path(path).expanduser())

    candidates = _default_candidates()
    found = _find_mnist_dir(candidates)
    if found is not None:
        return _load_dir(found)
    looked = ", ".join(str(c) for c in candidates)
    reason = f"looked in: {looked}"
    if allow_download or os.environ.get("SNNGRAPH_ALLOW_DOWNLOAD") == "1":
        try:
            return _load_dir(_download(_cache_dir()))
        except (OSError, DatasetError) as exc:
            reason += f"; download failed: {exc}"
    return _fallback_to_bundled(reason)


def _load_explicit(path: Path):
    candidates = [path, path / "mnist"]
    found = _find_mnist_dir(candidates)
    if found is None and path.is_file():
        raise DatasetError(f"load_mnist: path={str(path)!r} is a file, expected the folder "
                           "holding the four MNIST files\n  fix: pass its folder, "
                           f"load_mnist(path={str(path.parent)!r}), or read one file with "
                           "read_idx")
    if found is None:
        names = ", ".join(_MNIST_FILES.values())
        places = "; ".join(f"{c} (missing: {', '.join(_missing(c))})" for c in candidates)
        raise DatasetError(
            f"MNIST not found at path={str(path)!r}: expected {names} (each optionally .gz) "
            f"in one directory; looked in: {places}"
        )
    return _load_dir(found)


def _default_candidates() -> list[Path]:
    candidates = []
    env = os.environ.get("SNNGRAPH_DATA")
    if env:
        root = Path(env).expanduser()
        candidates += [root, root / "mnist"]
    candidates.append(_cache_dir())
    return candidates


def _cache_dir() -> Path:
    # XDG says a relative $XDG_CACHE_HOME is invalid and must be ignored.
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "snngraph" / "mnist"


def _find_file(directory: Path, name: str) -> Path | None:
    # Prefer the raw file: it needs no decompression.
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _missing(directory: Path) -> list[str]:
    return [n for n in _MNIST_FILES.values() if _find_file(directory, n) is None]


def _find_mnist_dir(candidates: list[Path]) -> Path | None:
    """Return the first candidate directory that holds all four files."""
    for directory in candidates:
        if directory.is_dir() and not _missing(directory):
            return directory
    return None


def _load_dir(directory: Path):
    files = {key: _find_file(directory, name) for key, name in _MNIST_FILES.items()}
    train = _load_pair(files["train_images"], files["train_labels"])
    test = _load_pair(files["test_images"], files["test_labels"])
    return train, test


def _load_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        images, labels = read_idx(images_path), read_idx(labels_path)
    except DatasetError as exc:  # a damaged file among the four: say how to replace it
        raise DatasetError(f"{exc}\n  fix: replace the file with a good copy (delete it and "
                           "call load_mnist(allow_download=True), or point SNNGRAPH_DATA at "
                           "another copy)") from exc
    _check_pair(images, labels, f"{images_path} and {labels_path}")
    return images, labels


def _check_pair(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    """Check the MNIST shapes, dtypes and that both counts agree."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetError(
            f"{where}: expected uint8 images of shape [n, 28, 28], "
            f"found {images.dtype} of shape {list(images.shape)}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(
            f"{where}: expected uint8 labels of shape [n], "
            f"found {labels.dtype} of shape {list(labels.shape)}"
        )
    if len(images) != len(labels):
        raise DatasetError(
            f"{where}: expected as many labels as images, "
            f"found {len(images)} images and {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{where}: expected labels 0-9, found {int(labels.max())}")


# --------------------------------------------------------------------------- download


def _download(cache: Path) -> Path:
    """Fetch every missing file into ``cache``, verify it, and return ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    for name in _MNIST_FILES.values():
        if _find_file(cache, name) is None:
            _download_file(name, cache / f"{name}.gz")
    return cache


def _download_file(name: str, dest: Path) -> None:
    import urllib.request  # only here: importing it costs every `import snngraph` ~40 ms

    errors = []
    for mirror in _MIRRORS:
        url = f"{mirror}{name}.gz"
        try:
            with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
                payload = response.read()
            _verify_md5(url, name, payload)
        except (OSError, DatasetError) as exc:
            errors.append(f"{url}: {exc}")
            continue
        # Write then rename, so an interrupted download never leaves a half file
        # in the cache that a later search would pick up.
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(payload)
        os.replace(tmp, dest)
        return
    raise DatasetError(f"could not download {name}.gz: " + "; ".join(errors))


def _verify_md5(url: str, name: str, payload: bytes) -> None:
    try:
        content = gzip.decompress(payload)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{url}: expected a gzip file, found: {exc}") from exc
    digest = hashlib.md5(content).hexdigest()
    if digest != _MNIST_MD5[name]:
        raise DatasetError(
            f"{url}: checksum mismatch: expected MD5 {_MNIST_MD5[name]} of the "
            f"decompressed file, found {digest}"
        )


# --------------------------------------------------------------------------- bundled subset


def _load_bundled():
    resource = importlib.resources.files("snngraph") / "data" / "mnist_subset.npz"
    # as_file gives a real path even when the package is installed as a zip.
    with (
        importlib.resources.as_file(resource) as npz_path,
        np.load(npz_path, allow_pickle=False) as npz,
    ):
        arrays = {key: npz[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    where = f"bundled subset {resource}"
    _check_pair(arrays["x_train"], arrays["y_train"], where)
    _check_pair(arrays["x_test"], arrays["y_test"], where)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _fallback_to_bundled(reason: str):
    train, test = _load_bundled()
    reason = " ".join(reason.split())  # the notice must stay on one line
    print(
        f"snngraph: full MNIST not found ({reason}); using the bundled subset "
        f"({len(train[0])} train / {len(test[0])} test images). "
        "Set SNNGRAPH_DATA or pass path= for the full set.",
        file=sys.stderr,
    )
    return train, test
