"""``manage.py import_catalog SOURCE``: import a folder of category sub-folders or a CSV."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from catalog.selectors import product_image_status_counts
from catalog.services.catalog_import import (
    CLOTHING_DATASET_URL,
    IMAGE_SUFFIXES,
    catalog_import,
    csv_rows,
    dataset_download,
    dataset_extract,
    dataset_split_folder,
    folder_rows,
)


class Command(BaseCommand):
    help = (
        "Import products and photos from a folder with one sub-folder per category (e.g. the clothing "
        "dataset's train/) or from a CSV (sku,title,category,brand,price,currency,sizes,seasons,colour,image). "
        "Re-runs skip what exists (same SKU or same photo). New images are sent to the workers in batches."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", nargs="?", help="a folder of category folders, or a .csv file")
        parser.add_argument("--seed", type=int, default=7, help="seed of the generated attributes (folders)")
        parser.add_argument("--limit", type=int, default=None, help="import at most N rows")
        parser.add_argument(
            "--from-url",
            nargs="?",
            const=CLOTHING_DATASET_URL,
            default=None,
            metavar="URL",
            help=f"download and extract the clothing dataset zip first (default {CLOTHING_DATASET_URL})",
        )
        parser.add_argument("--split", default="train", help="with --from-url: which split to import")
        parser.add_argument("--batch-size", type=int, default=None, help="images per worker task")
        parser.add_argument(
            "--no-process",
            action="store_true",
            help="store only and send nothing now (the periodic catch-up task sends pending images later)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        source = self._source(options)
        if source.is_dir():
            total = sum(1 for path in source.glob("*/*") if path.suffix.lower() in IMAGE_SUFFIXES)
            rows = folder_rows(source, seed=options["seed"])
        elif source.suffix.lower() == ".csv":
            with source.open(encoding="utf-8-sig") as handle:
                total = max(sum(1 for _ in handle) - 1, 0)
            try:
                rows = csv_rows(source)
            except ValueError as error:
                raise CommandError(str(error)) from error
        else:
            raise CommandError(f"{source} is neither a folder nor a .csv file")
        if options["limit"] is not None:
            total = min(total, options["limit"])

        started = time.perf_counter()
        # One bar, with any log line printed above it rather than through it. Off a terminal (a
        # log file, CI) every redraw is kept on the same line, so it is redrawn rarely there.
        on_terminal = sys.stderr.isatty()
        bar = tqdm(
            total=total,
            unit="img",
            desc="import",
            disable=options["no_progress"],
            mininterval=0.1 if on_terminal else 10,
            **(_unsized_terminal_shape() if on_terminal else {}),
        )
        with logging_redirect_tqdm(), bar:
            try:
                summary = catalog_import(
                    rows,
                    limit=options["limit"],
                    enqueue=not options["no_process"],
                    batch_size=options["batch_size"],
                    progress=lambda row: bar.update(1),
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
        elapsed = time.perf_counter() - started

        failed = len(summary.failed)
        line = f"created {summary.created}, skipped {summary.skipped_total}, failed {failed} in {elapsed:.1f}s"
        if summary.batches_sent:
            # Without a broker the batches ran in this process: say how they ended (a model that
            # cannot load leaves them pending). With one, most are still pending for the workers.
            statuses = product_image_status_counts(summary.image_ids)
            line += (
                f"; images {statuses['ready']} ready, {statuses['failed']} failed, {statuses['pending']} pending "
                f"({summary.batches_sent} processing batches sent)"
            )
        self.stdout.write(line)
        for reason, count in summary.skipped.most_common():
            self.stdout.write(f"  skipped {count}: {reason}")
        for where, reason in summary.failed[:50]:
            self.stdout.write(f"  failed {where}: {reason}")
        if len(summary.failed) > 50:
            self.stdout.write(f"  … and {len(summary.failed) - 50} more failures")

    def _source(self, options) -> Path:
        if options["from_url"]:
            datasets = Path(settings.DATA_DIR) / "datasets"
            archive = datasets / "clothing-dataset-small.zip"
            if not archive.exists():
                self.stdout.write(f"downloading {options['from_url']} …")
                try:
                    dataset_download(options["from_url"], archive)
                except OSError as error:
                    raise CommandError(f"download failed ({error}); are we online?") from error
            extracted = dataset_extract(archive, datasets / "clothing-dataset-small")
            return dataset_split_folder(extracted, options["split"])
        if not options["source"]:
            raise CommandError("give a SOURCE folder or CSV, or --from-url")
        source = Path(options["source"]).expanduser()
        if not source.exists():
            raise CommandError(f"{source} does not exist")
        return source


def _unsized_terminal_shape() -> dict[str, int]:
    """A shape for tqdm where stderr is a terminal that reports 0 columns or rows, else nothing.

    A pseudo-terminal nobody sized (``script``, some CI runners) reports 0x0, and tqdm then draws
    nothing at all: the import would look silent for minutes.
    """
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):
        return {}
    return {} if size.columns and size.lines else {"ncols": size.columns or 80, "nrows": size.lines or 24}
