"""numcodecs codec ``h5z_apr`` (registered through the ``numcodecs.codecs`` entry point).

Zarr v2 (``compressor=APR(...)``) hands the codec each chunk as an n-d array, so the bound is
checked on the array's values. For zarr-python 3 arrays (``zarr_format=3``) use
:class:`h5z_apr.zarr3.APR` as the ``serializer=`` (array -> bytes codec): as a bytes -> bytes
``compressor`` the chunk would arrive as raw bytes and the bound would apply to bytes.
"""
from __future__ import annotations

from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray_like, ensure_ndarray_like, ndarray_copy
from numcodecs.registry import register_codec

import h5z_apr as _h5z


class APR(Codec):
    """``APR(mode="lossless"|"abs"|"apr"|"noise", bound=None, rel_error=None, effort=None,
    k=None)``: each chunk becomes one h5z-apr stream (the bytes the HDF5 filter stores for that
    chunk). Settings are validated by the library when the codec is created. The config holds
    ``k`` only in noise mode (configs of the other modes are unchanged)."""

    codec_id = "h5z_apr"

    def __init__(self, mode="lossless", bound=None, rel_error=None, effort=None, k=None):
        s = _h5z.APR(mode=mode, bound=bound, rel_error=rel_error, effort=effort, k=k)
        self._settings = s
        self.mode = s.mode
        self.bound = s.bound
        self.rel_error = s.rel_error
        if s.k is not None:
            self.k = s.k  # get_config reports public attributes: only noise configs have k
        self.effort = None if s.effort is None else int(s.effort)

    def encode(self, buf):
        a = ensure_ndarray_like(buf)
        return _h5z.compress(a, settings=self._settings)

    def decode(self, buf, out=None):
        a = _h5z.decompress(ensure_contiguous_ndarray_like(buf))
        if out is not None:
            return ndarray_copy(a, out)
        return a

    def __repr__(self):
        return repr(self._settings)


register_codec(APR)
