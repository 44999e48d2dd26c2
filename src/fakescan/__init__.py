"""fakescan: find out whether a face in a video or image is forged, and where.

``import fakescan`` stays light: heavy libraries (PyAV, OpenCV, dlib, torch) load inside the
functions that use them.
"""

from fakescan.errors import FakescanError, InputError

__version__ = "0.1.0"

__all__ = ["FakescanError", "InputError", "__version__"]
