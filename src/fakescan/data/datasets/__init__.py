"""Public data sets in their official layouts, users' own folders, and leak-proof splits.

One adapter per data set turns a folder into a video index (a list of :class:`VideoRecord`), by the
data set's official split where it has one and by a seeded split otherwise; :func:`build_index`
picks the adapter by name (see :data:`DATASETS`). Every adapter runs the leakage guard
:func:`check_disjoint` before it returns. :func:`crop_table` joins an index with the manifest of
``fakescan extract``. The modules import only the standard library (and numpy, lazily).
"""

from fakescan.data.datasets._common import DatasetWarning
from fakescan.data.datasets.celebdf import index_celebdf_v1, index_celebdf_v2
from fakescan.data.datasets.crops import (
    CropJoin,
    crop_table,
    find_manifests,
    join_crops,
    media_items,
    read_manifest,
)
from fakescan.data.datasets.dfd import index_dfd
from fakescan.data.datasets.dfdc import index_dfdc
from fakescan.data.datasets.dfdcp import index_dfdcp
from fakescan.data.datasets.ffpp import index_ffpp
from fakescan.data.datasets.folders import index_folders
from fakescan.data.datasets.index import (
    REAL,
    SPLITS,
    CropRecord,
    Split,
    VideoRecord,
    read_crop_table,
    read_video_index,
    video_digest,
    write_crop_table,
    write_video_index,
)
from fakescan.data.datasets.labels import (
    METHOD_ORDER,
    balance,
    class_index,
    class_names,
    class_weights,
    split_counts,
)
from fakescan.data.datasets.leakage import check_disjoint, overlap
from fakescan.data.datasets.registry import DATASETS, DatasetSpec, adapter_options, build_index
from fakescan.data.datasets.splits import Fractions, split_by_group, split_groups

__all__ = [
    "DATASETS",
    "METHOD_ORDER",
    "REAL",
    "SPLITS",
    "CropJoin",
    "CropRecord",
    "DatasetSpec",
    "DatasetWarning",
    "Fractions",
    "Split",
    "VideoRecord",
    "adapter_options",
    "balance",
    "build_index",
    "check_disjoint",
    "class_index",
    "class_names",
    "class_weights",
    "crop_table",
    "find_manifests",
    "index_celebdf_v1",
    "index_celebdf_v2",
    "index_dfd",
    "index_dfdc",
    "index_dfdcp",
    "index_ffpp",
    "index_folders",
    "join_crops",
    "media_items",
    "overlap",
    "read_crop_table",
    "read_manifest",
    "read_video_index",
    "split_by_group",
    "split_counts",
    "split_groups",
    "video_digest",
    "write_crop_table",
    "write_video_index",
]
