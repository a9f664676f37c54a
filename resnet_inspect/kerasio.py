"""Moved: Keras' layer order to :mod:`resnet_inspect.model.keras`, Keras 3's files to
:mod:`resnet_inspect.io.keras3`; this path keeps working for one release (see CHANGELOG 0.3.0)."""

from .io.keras3 import (ARCHIVE_MEMBERS, ARCHIVE_WEIGHTS, archive_bound, describe_keras3, describe_keras3_file,
                        describe_keras_archive, save_keras3)
from .io.h5 import describe_h5_any_names
from .model.keras import DEFAULT_LAYOUT, LAYOUTS, KerasLayout, check_layout, keras_groups, keras_order

__all__ = ["ARCHIVE_MEMBERS", "ARCHIVE_WEIGHTS", "DEFAULT_LAYOUT", "LAYOUTS", "KerasLayout", "archive_bound",
           "check_layout", "describe_h5_any_names", "describe_keras3", "describe_keras3_file",
           "describe_keras_archive", "keras_groups", "keras_order", "save_keras3"]
