"""Built-in dataset plugins."""

from __future__ import annotations

from harness import hookimpl
from harness_data.embedded import check, synthetic_defects


@hookimpl
def harness_register_datasets(registry) -> None:
    registry.register("synthetic-defects", synthetic_defects, check=check,
                      description="embedded default: CC0 scikit-image textures with synthesised defects and exact masks")
