"""Built-in dataset plugins: the embedded default data, CSV files, class folders and the defect layouts.

Every plugin decodes each split once through :func:`harness.load_stack` (a memory-mapped uint8
cache keyed by a fingerprint of the files), so later cells and runs map the arrays
instead of decoding. Common options: ``image_size``, ``seed`` (splits), ``on_corrupt``
(``"fail"`` or ``"skip"``), ``resize`` (Pillow filter) and ``workers`` (decoding threads).
"""

from __future__ import annotations

from harness import hookimpl


@hookimpl
def harness_register_datasets(registry) -> None:  # noqa: ANN001 - harness.registry.Registry
    from harness_datasets import anomaly, custom, defect_folder, embedded, folder, mvtec, table, visa

    registry.register("synthetic-defects", embedded.synthetic_defects, check=embedded.check, default=True,
                      fingerprint=embedded.fingerprint,
                      description="embedded default: CC0 scikit-image textures with synthesised defects and exact masks")

    registry.register("csv", table.table, check=table.check,
                      description="image paths and labels in CSV files (one with a split column, or one per split)")
    registry.register("folder", folder.folder, check=folder.check,
                      description="one sub-folder per class, optionally under train/val/test folders")
    registry.register("defect-folder", defect_folder.defect_folder, check=defect_folder.check,
                      description="images/{train,test}/{normal,defective} with masks/defective pixel masks")
    registry.register("mvtec", mvtec.mvtec, check=anomaly.make_check("mvtec"),
                      description="MVTec AD category (train/good, test/<type>, ground_truth); normal vs defect")
    registry.register("visa", visa.visa, check=anomaly.make_check("visa"),
                      description="VisA object from split_csv/1cls.csv; normal vs defect")
    registry.register("btad", mvtec.btad, check=anomaly.make_check("btad"),
                      description="BTAD category (train/ok, test/{ok,ko}, ground_truth/ko); normal vs defect")
    registry.register("custom-metadata", custom.custom_metadata, check=custom.check,
                      description="label folders of '{category} {freq} {dimming}[_{extra}].png' files + data_info.csv")
