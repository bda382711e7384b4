"""Listening data and recommendations: ``import-events``, ``import-playlists``, ``users``,
``recommend`` and ``evaluate-recs`` (see docs/recommend.md)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from songscape.cli import render
from songscape.cli.errors import EXIT_OK, error_text
from songscape.cli.options import AddCommand, open_library, positive_int, require_extra
from songscape.cli.playlist_cmds import add_save_flag, save_if_asked
from songscape.errors import CommandError, UsageError
from songscape.extras import require

#: songscape.recommend.recommenders.MODELS (spelled out: the parser must not import scipy).
RECOMMEND_MODELS = ("popularity", "als", "bpr", "bpr-pop", "item2vec", "hybrid")


def service_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a recommend-service call; the built-in errors of its data and files (a
    ``ValueError`` of the model fit, an unreadable file) exit 1 with their message."""
    try:
        return fn(*args, **kwargs)
    except LookupError as err:
        raise CommandError(error_text(err)) from err
    except (ValueError, RuntimeError, OSError) as err:
        raise CommandError(str(err)) from err


def import_file(args: argparse.Namespace, kind: str) -> int:
    """``import-events`` (kind ``events``) and ``import-playlists`` (``playlists``)."""
    from songscape.recommend import importer

    if not os.path.isfile(os.path.expanduser(args.file)):
        raise UsageError(f"no such file: {args.file}")
    fmt = args.format
    if fmt is None:
        ext = os.path.splitext(args.file)[1].lower().lstrip(".")
        fmt = {"tsv": "tsv", "jsonl": "jsonl", "json": "jsonl", "dat": "hetrec"}.get(ext, "csv")
        if kind == "playlists" and fmt == "hetrec":
            fmt = "tsv"
    with open_library(args, create=True) as lib:
        store = lib.store
        service_call(store.acquire_write_lock)
        fn = importer.import_events if kind == "events" else importer.import_playlists
        report = service_call(fn, store, args.file, fmt, skip_bad=args.skip_bad)
    if args.json:
        render.print_json(report)
        return EXIT_OK
    what = f"{report['rows']} events of {report['users']} users" if kind == "events" else (
        f"{report['playlists']} playlists ({report['rows']} entries)")  # fmt: skip
    print(f"imported {what}: {report['items']} distinct items, {report['matched']} linked to "
          f"library tracks, {report['unmatched']} unmatched (kept)")  # fmt: skip
    if report["replaced"]:
        print(f"replaced {report['replaced']} rows of this file's previous import")
    if report["skipped"]:
        print(f"skipped {report['skipped']} bad rows:", file=sys.stderr)
        for line in report["errors"]:
            print(f"  {line}", file=sys.stderr)
    return EXIT_OK


def cmd_import_events(args: argparse.Namespace) -> int:
    """Import listening events into the library."""
    return import_file(args, "events")


def cmd_import_playlists(args: argparse.Namespace) -> int:
    """Import playlists into the library."""
    return import_file(args, "playlists")


def cmd_users(args: argparse.Namespace) -> int:
    """Users with listening events."""
    from songscape.recommend.service import users_summary

    with open_library(args) as lib:
        users = users_summary(lib.store)
    if args.json:
        render.print_json(users)
        return EXIT_OK
    if not users:
        print("no users (import listening events with `songscape import-events`)")
    for u in users:
        print(f"{u['id']}\t{u['events']} events\t{u['items']} items\t{u['plays']:g} plays")
    return EXIT_OK


def cmd_recommend(args: argparse.Namespace) -> int:
    """Recommendations for a user, seed tracks or words, or precomputed for every user."""
    modes = sum((args.user is not None, bool(args.seed), args.precompute,
                 args.words is not None))  # fmt: skip
    if modes != 1:
        raise UsageError("give exactly one of --user U, --seed TRACK (repeatable), --words TEXT, "
                         "--precompute")  # fmt: skip
    require_extra("recommend", "songscape recommend")
    redis_errors: tuple[type[Exception], ...] = ()
    if args.redis:
        redis_errors = (require("redis", "scale", "songscape recommend --redis").RedisError,)
    from songscape.recommend import service

    k = args.k or (50 if args.precompute else 20)
    try:
        with open_library(args) as lib:
            store = lib.store
            if args.precompute:
                result = service_call(service.precompute, store, args.model, k,
                                      redis_url=args.redis)  # fmt: skip
            elif args.words is not None:
                result = service_call(service.recommend_words, store, args.words, k)
            elif args.seed:
                result = service_call(service.recommend_seed, store, args.seed, k)
            else:
                result = service_call(service.recommend_user, store, args.user, k, args.model,
                                      explain=args.explain, redis_url=args.redis)  # fmt: skip
            if not args.precompute:
                save_if_asked(args, lib, [r.get("track_id") for r in result["results"]],
                              f"recommend:{args.user or args.words or 'seed'}")  # fmt: skip
    except redis_errors as err:  # a Redis server that is down or refuses: say it is Redis
        raise CommandError(f"redis: {err}") from err
    if args.json:
        render.print_json(result)
        return EXIT_OK
    if args.precompute:
        print(f"precomputed top-{result['k']} {result['model']} lists of {result['users']} "
              f"users into {result['target']} in {result['seconds']:.1f} s")  # fmt: skip
        return EXIT_OK
    print_recommendations(result)
    return EXIT_OK


def print_recommendations(result: dict) -> None:
    """The numbered list of a recommend result, with why each item came (``--explain``)."""
    if "user" in result:
        who = f"user {result['user']}"
    elif "words" in result:
        who = "words " + ", ".join(repr(w) for w in result["words"])
    else:
        who = "seeds " + ", ".join(result["seeds"])
    print(f"{result['model']} recommendations for {who} ({result['source']}):")
    for n, r in enumerate(result["results"], start=1):
        print(f"{n:3d}. {item_name(r)}  [{r['score']:.3f}]")
        why = r.get("why")
        if why:
            parts = why.get("parts")
            near = ", ".join(item_name(x) for x in why.get("because_you_listened", [])[:3])
            detail = (f"parts {parts}; " if parts else "") + (
                f"near {near}" if near else why.get("reason", "")
            )
            print(f"       {detail}")  # fmt: skip


def item_name(r: dict) -> str:
    """A result's display name: "artist - title" of a library track (with ? for a missing
    part), else the imported name ("artist - title", or the one known), else the item."""
    artist, title = r.get("artist"), r.get("title")
    if r.get("track_id"):
        return f"{artist or '?'} - {title or '?'}"
    if artist and title:
        return f"{artist} - {title}"
    return artist or title or r["item"]


def hygiene_options(args: argparse.Namespace) -> dict | None:
    """clean() thresholds from evaluate-recs flags; None when no filter was asked for."""
    from songscape.recommend import data

    flags = (args.min_items, args.max_plays_quantile, args.top_n_only)
    if not args.clean and all(f is None for f in flags):
        return None
    quantile = data.DEFAULT_MAX_PLAYS_QUANTILE if flags[1] is None else flags[1]
    return {
        "min_interactions": data.DEFAULT_MIN_INTERACTIONS if flags[0] is None else flags[0],
        "max_plays_quantile": None if quantile >= 1 else quantile,
        "top_n_only": data.DEFAULT_TOP_N_ONLY if flags[2] is None else (flags[2] or None),
    }


def cmd_evaluate_recs(args: argparse.Namespace) -> int:
    """Offline evaluation of recommenders on an events file (per-user holdout)."""
    from songscape.recommend.recommenders import MODELS

    if not os.path.isfile(args.events):
        raise UsageError(f"no such file: {args.events}")
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown or not names:
        raise UsageError(f"unknown model(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(MODELS)}")  # fmt: skip
    require_extra("recommend", "songscape evaluate-recs")
    from songscape.recommend.data import clean, read_events
    from songscape.recommend.holdout import evaluate

    try:
        events = read_events(args.events, args.format)
        hygiene = hygiene_options(args)
        report = None
        if hygiene is not None:
            events, report = clean(events, **hygiene)
        results = evaluate(events, names, k=args.k, seed=args.seed, protocol=args.holdout,
                           test_fraction=args.test_fraction)  # fmt: skip
        if report is not None:
            for r in results:
                r["hygiene"] = report
    except ValueError as err:  # a malformed file or options the data cannot satisfy
        raise UsageError(str(err)) from err
    if args.json:
        render.print_json(results)
        return EXIT_OK
    print_evaluation(results, args.k, args.test_fraction, args.seed)
    return EXIT_OK


def print_evaluation(results: list[dict], k: int, test_fraction: float, seed: int) -> None:
    """The table of evaluate-recs: one row per model."""
    from rich.table import Table

    first = results[0]
    table = Table(box=None, pad_edge=False)
    cols = ["model", f"P@{k}", f"R@{k}", f"NDCG@{k}", f"MAP@{k}", "coverage", "novelty", "fit s"]
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in results:
        table.add_row(
            r["model"],
            *(f"{r[key]:.4f}" for key in (f"precision_at_{k}", f"recall_at_{k}",
                                          f"ndcg_at_{k}", f"map_at_{k}", "coverage")),
            f"{r['novelty']:.2f}",
            f"{r['fit_s']:.2f}",
        )  # fmt: skip
    console = render.console()
    console.print(
        f"{first['n_users']} users x {first['n_items']} items, {first['n_test_users']} test users, "
        f"{first['protocol']} holdout ({test_fraction:.0%}), seed {seed}"
    )
    console.print(table)


def add_parsers(add: AddCommand) -> None:
    """import-events, import-playlists, users, recommend, evaluate-recs."""
    p = add(
        "import-events",
        cmd_import_events,
        "import listening events into the library (re-importing a file replaces it)",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("hetrec", "csv", "tsv", "jsonl"),
                   help="hetrec: user_artists.dat; csv/tsv: header user,item[,count]"
                   "[,timestamp][,artist,title]; jsonl: one object per line (default: from "
                   "the extension, else csv)")  # fmt: skip
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip malformed rows (reported) instead of importing nothing",
    )

    p = add(
        "import-playlists",
        cmd_import_playlists,
        "import playlists (playlist, item, [position], [title], [tags])",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--format", choices=("csv", "tsv", "jsonl"), help="default: from the extension, else csv"
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip malformed rows (reported) instead of importing nothing",
    )

    add("users", cmd_users, "users with listening events in the library")

    p = add("recommend", cmd_recommend,
            "recommendations from listening history: for a user, for seed tracks, for "
            "words (playlist titles/tags), or precomputed for everyone")  # fmt: skip
    p.add_argument("--user", metavar="U", help="a user of the imported events")
    p.add_argument(
        "--seed",
        action="append",
        metavar="TRACK",
        help="a new user's liked track (id, id prefix, path) or item; repeatable",
    )
    p.add_argument(
        "--words",
        metavar="TEXT",
        help="items nearest to words of the playlists' titles and tags, e.g. "
        '"autumn rain" (item2vec over playlists, sessions and users\' items)',
    )
    p.add_argument(
        "--precompute",
        action="store_true",
        help="store every user's top-k (SQLite table, or Redis with --redis)",
    )
    p.add_argument("--k", type=positive_int, help="results (default 20; 50 for --precompute)")
    add_save_flag(p)
    p.add_argument("--model", choices=RECOMMEND_MODELS, default="als",
                   help="default als (--seed always folds in with ALS; --words uses "
                   "its own item2vec-words model)")  # fmt: skip
    p.add_argument("--explain", action="store_true", help="why each item is recommended")
    p.add_argument(
        "--redis",
        metavar="URL",
        help="precompute into / read from Redis, e.g. redis://localhost:6379/0",
    )

    p = add(
        "evaluate-recs", cmd_evaluate_recs,
        "offline evaluation of recommenders on listening events (per-user holdout)",
    )  # fmt: skip
    p.add_argument("--events", required=True, metavar="FILE", help="listening events file")
    p.add_argument("--format", required=True, choices=("hetrec", "csv", "jsonl"),
                   help="hetrec: HetRec 2011 user_artists.dat; csv: user,item[,count]"
                   "[,timestamp] with a header; jsonl: one {user, item, ...} per line")  # fmt: skip
    p.add_argument("--k", type=positive_int, default=10, help="list length (default 10)")
    p.add_argument("--models", default="popularity,als,bpr,item2vec,hybrid",
                   help="comma-separated, from popularity, als, bpr, bpr-pop, item2vec, "
                   "hybrid (default popularity,als,bpr,item2vec,hybrid; popularity is always "
                   "included)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="holdout and model seed (default 0)")
    p.add_argument("--holdout", choices=("auto", "random", "time"), default="auto",
                   help="per-user holdout: random (seeded) or the latest items (time; needs "
                   "timestamps); auto = time when timestamps exist (default)")  # fmt: skip
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="share of each user's items held out (default 0.2)")  # fmt: skip
    p.add_argument("--clean", action="store_true",
                   help="apply the hygiene filters with their defaults (any of the three "
                   "flags below implies it)")  # fmt: skip
    p.add_argument(
        "--min-items",
        type=int,
        metavar="N",
        help="drop users with fewer distinct items (default with --clean: 5)",
    )
    p.add_argument("--max-plays-quantile", type=float, metavar="Q",
                   help="drop users whose total plays are above this quantile (default with "
                   "--clean: 0.999; 1 keeps everyone)")  # fmt: skip
    p.add_argument("--top-n-only", type=int, metavar="N",
                   help="drop users whose items are all among the N most popular (default "
                   "with --clean: 100; 0 disables)")  # fmt: skip
