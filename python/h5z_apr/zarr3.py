"""zarr-python 3 codec ``numcodecs.h5z_apr`` (registered through the ``zarr.codecs`` entry
point): zarr's numcodecs adapter around :class:`h5z_apr.numcodecs.APR`, as an array -> bytes
codec so each chunk is compressed with its shape and dtype::

    zarr.create_array(store, shape=..., chunks=..., dtype="uint16",
                      serializer=h5z_apr.zarr3.APR(mode="abs", bound=4), compressors=None)
"""
from __future__ import annotations

from zarr.codecs.numcodecs import _NumcodecsArrayBytesCodec

import h5z_apr.numcodecs  # noqa: F401  (registers the numcodecs codec the adapter resolves)


class APR(_NumcodecsArrayBytesCodec, codec_name="h5z_apr"):
    def __init__(self, mode="lossless", bound=None, rel_error=None, effort=None, k=None, **config):
        # Validates now (the adapter would otherwise build the codec at the first chunk).
        c = h5z_apr.numcodecs.APR(mode=mode, bound=bound, rel_error=rel_error, effort=effort, k=k)
        cfg = {k: v for k, v in c.get_config().items() if k != "id"}
        super().__init__(**config, **cfg)
