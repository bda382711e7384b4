"""``songscape tags write``: BPM, key, ReplayGain, mood and genre written into the files'
tags (mutagen; the audio data stays byte-identical), only when asked. The ``tags`` command
of :mod:`songscape.cli.models_cmds` hands ``tags write …`` here."""

from __future__ import annotations

import argparse
import sys

from songscape.cli import render
from songscape.cli.errors import EXIT_FAILED, EXIT_OK
from songscape.cli.options import open_library
from songscape.errors import UsageError
from songscape.writeback.service import FIELDS, check_fields


def add_write_flags(p: argparse.ArgumentParser) -> None:
    """The flags of ``tags write`` (on the ``tags`` parser)."""
    p.add_argument("--fields", metavar="LIST",
                   help=f"with `write`: comma-separated, of {','.join(FIELDS)} (default all)")
    p.add_argument("--dry-run", action="store_true",
                   help="with `write`: show what would be written, write nothing")
    p.add_argument("--overwrite", action="store_true",
                   help="with `write`: replace values the files already have")


def cmd_tags_write(args: argparse.Namespace) -> int:
    """``tags write [TRACK…|--all]``: exit 1 when a file could not be written."""
    refs = args.track[1:]
    if bool(refs) == bool(args.all):
        raise UsageError("tags write: give TRACK… or --all (not both)")
    fields = check_fields(args.fields.split(",")) if args.fields else None
    with open_library(args) as lib:
        from tqdm import tqdm

        def progress(rows):  # noqa: ANN001, ANN202
            quiet = len(rows) < 2 or args.json or not sys.stderr.isatty()
            return tqdm(rows, desc="tags", unit="file", disable=quiet, file=sys.stderr)

        out = lib.write_tags(None if args.all else refs, fields, dry_run=args.dry_run,
                             overwrite=args.overwrite, progress=progress)  # fmt: skip
    if args.json:
        render.print_json(out)
    else:
        verb = "would write" if out["dry_run"] else "wrote"
        for w in out["written"]:
            fields_text = ", ".join(f"{k}={v}" for k, v in w["fields"].items())
            print(f"{verb} {w['path']}: {fields_text}")
        for f in out["failed"]:
            print(f"skipped {f['path']}: {f['error']}", file=sys.stderr)
        done = "would be written (dry run)" if out["dry_run"] else "written"
        print(f"{len(out['written'])} file(s) {done}, {len(out['unchanged'])} already "
              f"tagged or without values, {len(out['failed'])} failed")  # fmt: skip
    return EXIT_FAILED if out["failed"] else EXIT_OK
