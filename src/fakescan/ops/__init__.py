"""Pure tensor operations shared by the data pipeline and the models (no I/O, no state).

``ops`` imports only torch and :mod:`fakescan.errors`, so both ``data`` and ``models`` may use it
without importing each other.
"""

from fakescan.ops.spectrum import (
    SpectrumStats,
    dct2,
    dct_matrix,
    luminance,
    spectrum,
    spectrum_stats,
)

__all__ = ["SpectrumStats", "dct2", "dct_matrix", "luminance", "spectrum", "spectrum_stats"]
