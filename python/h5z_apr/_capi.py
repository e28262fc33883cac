"""ctypes bindings to the C API of the packaged libh5z_apr.so (include/h5z_apr.h).

Every call that can fail returns a status; a non-zero status is turned into an
:class:`APRError` (a ``ValueError``) carrying the library's own message from
``h5z_apr_last_error()``. Nothing here re-implements a check of the codec.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

LIB_NAME = "libh5z_apr.so"
#: Directory holding the packaged plugin library (usable as HDF5_PLUGIN_PATH for h5repack etc.).
PLUGIN_PATH = str(Path(__file__).resolve().parent)
LIB_PATH = os.path.join(PLUGIN_PATH, LIB_NAME)

FILTER_ID = 47815
MAX_RANK = 32
CD_NELMTS_MAX = 4

# H5Z_APR_MODE_* codes (include/h5z_apr.h): 3 = H5Z_APR_MODE_NOISE (format version 3).
MODES = {"lossless": 0, "abs": 1, "apr": 2, "noise": 3, "apr-particles": 4}
MODE_NAMES = {v: k for k, v in MODES.items()}

# H5Z_APR_DTYPE_* codes <-> little-endian numpy type strings.
DTYPES = {"|u1": 1, "|i1": 2, "<u2": 3, "<i2": 4, "<u4": 5, "<i4": 6, "<f4": 7, "<f8": 8}
DTYPE_OF_CODE = {v: k for k, v in DTYPES.items()}

ERR_INVALID_ARGUMENT = 1
ERR_HDF5 = 8


class APRError(ValueError):
    """A call into libh5z_apr failed; ``status`` is the C status name, the message is the
    library's description of the failure."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.status_name = _status_name(status)
        super().__init__(message or self.status_name)


class Params(ctypes.Structure):
    _fields_ = [("mode", ctypes.c_int), ("value", ctypes.c_double), ("effort", ctypes.c_int)]


class Info(ctypes.Structure):
    _fields_ = [
        ("format_version", ctypes.c_int),
        ("dtype", ctypes.c_int),
        ("mode", ctypes.c_int),
        ("value", ctypes.c_double),
        ("elem_size", ctypes.c_size_t),
        ("rank", ctypes.c_size_t),
        ("shape", ctypes.c_size_t * MAX_RANK),
        ("nelems", ctypes.c_size_t),
        ("nbytes", ctypes.c_size_t),
    ]


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(LIB_PATH)
    P = ctypes.POINTER
    sz = ctypes.c_size_t
    vp = ctypes.c_void_p
    lib.h5z_apr_version.restype = ctypes.c_char_p
    lib.h5z_apr_version.argtypes = []
    lib.h5z_apr_format_version.restype = ctypes.c_int
    lib.h5z_apr_format_version.argtypes = []
    lib.h5z_apr_last_error.restype = ctypes.c_char_p
    lib.h5z_apr_last_error.argtypes = []
    lib.h5z_apr_status_name.restype = ctypes.c_char_p
    lib.h5z_apr_status_name.argtypes = [ctypes.c_int]
    lib.h5z_apr_max_compressed_size.restype = sz
    lib.h5z_apr_max_compressed_size.argtypes = [ctypes.c_int, P(sz), sz]
    lib.h5z_apr_compress.restype = ctypes.c_int32
    lib.h5z_apr_compress.argtypes = [P(Params), ctypes.c_int, P(sz), sz, vp, sz, vp, sz, P(sz)]
    lib.h5z_apr_read_header.restype = ctypes.c_int32
    lib.h5z_apr_read_header.argtypes = [vp, sz, P(Info)]
    lib.h5z_apr_decompress.restype = ctypes.c_int32
    lib.h5z_apr_decompress.argtypes = [vp, sz, vp, sz, P(sz)]
    lib.h5z_apr_register.restype = ctypes.c_int32
    lib.h5z_apr_register.argtypes = []
    lib.h5z_apr_cd_values.restype = ctypes.c_int32
    lib.h5z_apr_cd_values.argtypes = [P(Params), P(ctypes.c_uint), P(sz)]
    return lib


lib = _load()


def _status_name(status: int) -> str:
    return lib.h5z_apr_status_name(status).decode()


def last_error() -> str:
    return lib.h5z_apr_last_error().decode("utf-8", "replace")


def check(status: int) -> None:
    """Raises APRError with the library's message for a non-zero status.

    The message is read on the calling thread right after the call (it is thread-local)."""
    if status != 0:
        raise APRError(status, last_error())


def version() -> str:
    return lib.h5z_apr_version().decode()


def format_version() -> int:
    return lib.h5z_apr_format_version()


def shape_array(shape):
    return (ctypes.c_size_t * max(1, len(shape)))(*shape)
