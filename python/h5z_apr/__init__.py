"""h5z-apr for Python: HDF5 filter 47815 (Adaptive Particle Representation) for h5py,
standalone ``compress``/``decompress`` and a numcodecs codec, on the packaged libh5z_apr.so.

``import h5z_apr`` registers the filter with the HDF5 library that h5py loaded (if h5py is
installed), so no ``HDF5_PLUGIN_PATH`` is needed::

    import h5py, h5z_apr
    with h5py.File("a.h5", "w") as f:
        f.create_dataset("d", data=a, chunks=(16, 256, 256), **h5z_apr.APR(mode="abs", bound=4))

Settings are validated by the library itself (``h5z_apr_cd_values``); a bad setting raises
:class:`APRError` (a ``ValueError``) with the library's message.
"""
from __future__ import annotations

import importlib.util
import numbers
import warnings
from collections.abc import Mapping

import numpy as np

from . import _capi
from ._capi import (
    CD_NELMTS_MAX,
    DTYPE_OF_CODE,
    DTYPES,
    FILTER_ID,
    LIB_PATH,
    MODE_NAMES,
    MODES,
    PLUGIN_PATH,
    APRError,
    Info,
    Params,
    check,
    lib,
    shape_array,
)

__all__ = [
    "APR",
    "APRError",
    "FILTER_ID",
    "LIB_PATH",
    "PLUGIN_PATH",
    "compress",
    "decompress",
    "header",
    "register",
    "registered",
    "version",
    "format_version",
]

__version__ = _capi.version()
version = _capi.version
format_version = _capi.format_version


def _number(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (numbers.Real, str, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {v!r}")
    try:
        return float(v)
    except ValueError:
        raise TypeError(f"{name} must be a number, got {v!r}") from None


def _params(mode="lossless", bound=None, rel_error=None, effort=None, k=None) -> Params:
    """Maps the keyword arguments to the C API's h5z_apr_params (names only; the values are
    checked by the library when cd_values are built)."""
    if mode not in MODES:
        raise APRError(
            _capi.ERR_INVALID_ARGUMENT,
            f"unknown mode {mode!r} (expected one of {', '.join(repr(m) for m in MODES)})",
        )
    if k is not None and mode != "noise":
        raise APRError(_capi.ERR_INVALID_ARGUMENT, "k is only used with mode 'noise'")
    if mode == "lossless":
        if bound is not None or rel_error is not None:
            raise APRError(_capi.ERR_INVALID_ARGUMENT, "mode 'lossless' takes no bound/rel_error")
        value = 0.0
    elif mode == "abs":
        if bound is None:
            raise APRError(_capi.ERR_INVALID_ARGUMENT, "mode 'abs' needs bound=B")
        if rel_error is not None:
            raise APRError(_capi.ERR_INVALID_ARGUMENT, "rel_error is only used with mode 'apr'")
        value = _number("bound", bound)
    elif mode == "noise":
        if k is None:
            raise APRError(_capi.ERR_INVALID_ARGUMENT, "mode 'noise' needs k=K (e.g. k=0.5)")
        if bound is not None or rel_error is not None:
            raise APRError(_capi.ERR_INVALID_ARGUMENT, "mode 'noise' takes k, not bound/rel_error")
        value = _number("k", k)
    else:
        if rel_error is None:
            raise APRError(_capi.ERR_INVALID_ARGUMENT, f"mode {mode!r} needs rel_error=E")
        if bound is not None:
            raise APRError(_capi.ERR_INVALID_ARGUMENT, "bound is only used with mode 'abs'")
        value = _number("rel_error", rel_error)
    if effort is None:
        eff = 0
    else:
        if isinstance(effort, bool) or not isinstance(effort, (numbers.Integral, np.integer)):
            raise TypeError(f"effort must be an integer, got {effort!r}")
        if int(effort) == 0:
            # 0 means "default" in the C API; here the default is spelt effort=None.
            raise APRError(_capi.ERR_INVALID_ARGUMENT, "effort must be 1..22 (None for the default)")
        eff = int(effort)
        if not -(2**31) <= eff < 2**31:
            raise APRError(_capi.ERR_INVALID_ARGUMENT, f"effort {eff} is out of range 1..22")
    return Params(MODES[mode], value, eff)


def _cd_values(p: Params) -> tuple:
    cd = (_capi.ctypes.c_uint * CD_NELMTS_MAX)()
    n = _capi.ctypes.c_size_t(CD_NELMTS_MAX)
    check(lib.h5z_apr_cd_values(_capi.ctypes.byref(p), cd, _capi.ctypes.byref(n)))
    return tuple(int(c) for c in cd[: n.value])


try:  # h5py's base class makes `compression=APR(...)` work too, not only `**APR(...)`.
    if importlib.util.find_spec("h5py") is None:
        raise ImportError
    import h5py as _h5py

    _Base = _h5py.filters.FilterRefBase  # h5py.filters is an attribute, not an importable module
except ImportError:  # pragma: no cover - h5py absent

    class _Base(Mapping):
        filter_id = None
        filter_options = ()

        @property
        def _kwargs(self):
            return {"compression": self.filter_id, "compression_opts": self.filter_options}

        def __hash__(self):
            return hash((self.filter_id, self.filter_options))

        def __eq__(self, other):
            return (
                isinstance(other, _Base)
                and self.filter_id == other.filter_id
                and self.filter_options == other.filter_options
            )

        def __len__(self):
            return len(self._kwargs)

        def __iter__(self):
            return iter(self._kwargs)

        def __getitem__(self, item):
            return self._kwargs[item]


class APR(_Base):
    """hdf5plugin-style settings of filter 47815 for h5py's ``create_dataset``.

    ``APR(mode="lossless")``, ``APR(mode="abs", bound=4)``, ``APR(mode="apr", rel_error=0.1)``,
    ``APR(mode="noise", k=0.5)`` (|x - x'| <= k·sigma(x), sigma(I)² = a·I + b fitted per tile;
    integer dtypes, format version 3); optional ``effort=1..22`` (entropy-coder effort,
    default 3). Use as
    ``f.create_dataset(..., **APR(...))`` or ``compression=APR(...)``. ``filter_options`` are
    the filter's cd_values, built and validated by ``h5z_apr_cd_values``.
    """

    filter_name = "apr"
    filter_id = FILTER_ID

    def __init__(self, mode="lossless", bound=None, rel_error=None, effort=None, k=None):
        self.params = _params(mode, bound, rel_error, effort, k)
        self.filter_options = _cd_values(self.params)
        self.mode = mode
        self.bound = None if bound is None else self.params.value
        self.rel_error = None if rel_error is None else self.params.value
        self.k = None if k is None else self.params.value
        self.effort = effort

    def __repr__(self):
        args = [f"mode={self.mode!r}"]
        if self.bound is not None:
            args.append(f"bound={self.bound!r}")
        if self.rel_error is not None:
            args.append(f"rel_error={self.rel_error!r}")
        if self.k is not None:
            args.append(f"k={self.k!r}")
        if self.effort is not None:
            args.append(f"effort={self.effort!r}")
        return f"APR({', '.join(args)})"


def _settings(settings, kwargs) -> APR:
    if settings is not None:
        if kwargs:
            raise TypeError("give either settings=APR(...) or mode/bound/rel_error/k/effort, not both")
        if not isinstance(settings, APR):
            raise TypeError(f"settings must be an h5z_apr.APR, got {settings!r}")
        return settings
    return APR(**kwargs)


def _as_le_contiguous(array) -> np.ndarray:
    a = np.asarray(array)
    le = a.dtype.newbyteorder("<")  # a no-op for 1-byte types
    if le.str not in DTYPES:
        raise TypeError(
            f"dtype {a.dtype} is not supported (supported: uint8, int8, uint16, int16, uint32, "
            "int32, float32, float64)"
        )
    return np.ascontiguousarray(a, dtype=le)


def compress(array, settings: APR | None = None, **kwargs) -> bytes:
    """Compresses a whole numpy array as one chunk into an h5z-apr stream (FORMAT.md).

    ``compress(a, mode="abs", bound=4)``, ``compress(a, mode="noise", k=0.5)`` or
    ``compress(a, settings=APR(...))``; default lossless. No HDF5 is involved; the stream is what the filter stores for one chunk.
    """
    s = _settings(settings, kwargs)
    a = _as_le_contiguous(array)
    code = DTYPES[a.dtype.str]
    shape = shape_array(a.shape)
    rank = a.ndim
    cap = lib.h5z_apr_max_compressed_size(code, shape, rank)
    if cap == 0:
        raise APRError(_capi.ERR_INVALID_ARGUMENT, _capi.last_error())
    out = np.empty(cap, dtype=np.uint8)
    n = _capi.ctypes.c_size_t(0)
    check(
        lib.h5z_apr_compress(
            _capi.ctypes.byref(s.params), code, shape, rank,
            a.ctypes.data, a.nbytes, out.ctypes.data, cap, _capi.ctypes.byref(n),
        )
    )
    return out[: n.value].tobytes()


def _as_bytes(data) -> np.ndarray:
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError):
        a = np.ascontiguousarray(np.asarray(data))
        return a.reshape(-1).view(np.uint8)


def _dtype_of(code: int) -> np.dtype:
    if code not in DTYPE_OF_CODE:
        raise APRError(5, f"stream element type code {code} is not known to this h5z_apr package")
    return np.dtype(DTYPE_OF_CODE[code])


def header(data) -> dict:
    """What a stream says about its chunk: dtype, shape, mode, value, format version."""
    src = _as_bytes(data)
    info = Info()
    check(lib.h5z_apr_read_header(src.ctypes.data, src.nbytes, _capi.ctypes.byref(info)))
    return {
        "format_version": info.format_version,
        "dtype": _dtype_of(info.dtype),
        "shape": tuple(info.shape[: info.rank]),
        "mode": MODE_NAMES.get(info.mode, info.mode),
        "value": info.value,
        "nbytes": info.nbytes,
    }


def decompress(data, out: np.ndarray | None = None) -> np.ndarray:
    """Decodes an h5z-apr stream into a numpy array of its dtype (little-endian) and shape.

    With ``out`` (a C-contiguous array of the same number of bytes) the data is decoded into
    it and ``out`` is returned."""
    src = _as_bytes(data)
    info = Info()
    check(lib.h5z_apr_read_header(src.ctypes.data, src.nbytes, _capi.ctypes.byref(info)))
    shape = tuple(info.shape[: info.rank])
    dtype = _dtype_of(info.dtype)
    if out is None:
        dst = np.empty(shape, dtype=dtype)
    else:
        dst = out
        if not (isinstance(out, np.ndarray) and out.flags.c_contiguous and out.flags.writeable):
            raise ValueError("out must be a writeable C-contiguous numpy array")
        if out.nbytes != info.nbytes:
            raise ValueError(f"out has {out.nbytes} bytes, the stream decodes to {info.nbytes}")
    n = _capi.ctypes.c_size_t(0)
    check(lib.h5z_apr_decompress(src.ctypes.data, src.nbytes, dst.ctypes.data, dst.nbytes, _capi.ctypes.byref(n)))
    return dst


registered = False


def register() -> None:
    """Registers filter 47815 with the libhdf5 that h5py loaded (done by ``import h5z_apr``).

    Raises APRError if h5py is not installed or the library cannot register the filter, and
    RuntimeError if h5py's HDF5 still does not see the filter afterwards."""
    global registered
    try:
        import h5py
    except ImportError as e:
        raise APRError(_capi.ERR_HDF5, f"h5py is not installed: {e}") from None
    check(lib.h5z_apr_register())
    if not h5py.h5z.filter_avail(FILTER_ID):
        raise RuntimeError(
            f"h5z_apr_register() succeeded but the HDF5 {h5py.version.hdf5_version} loaded by "
            f"h5py does not see filter {FILTER_ID}: another copy of libhdf5 got it"
        )
    registered = True


if importlib.util.find_spec("h5py") is not None:
    try:
        register()
    except (APRError, RuntimeError) as e:  # keep compress/decompress/numcodecs usable
        warnings.warn(f"h5z_apr: filter {FILTER_ID} not registered with h5py: {e}", RuntimeWarning, stacklevel=2)


def __getattr__(name):
    # Submodules with optional dependencies (numcodecs, zarr), imported on first use.
    if name in ("numcodecs", "zarr3", "reference"):
        import importlib

        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{name}":
                raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
