"""``mix``: plan and render a DJ mix (issue 13)."""

from __future__ import annotations

import argparse
import sys

from songscape.cli import render
from songscape.cli.errors import EXIT_OK
from songscape.cli.options import AddCommand, number, open_library
from songscape.errors import UsageError
from songscape.mix.order import ARCS
from songscape.mix.plan import STYLES, MixOptions
from songscape.mix.segments import SEGMENT_MODES

positive_float = number(float, 1e-9, "must be a positive number")
non_negative_float = number(float, 0.0, "must be 0 or more")
count_type = number(int, 2, "must be 2 or more")


def mix_options(args: argparse.Namespace) -> MixOptions:
    """The :class:`MixOptions` the flags ask for (a bad combination is a usage error)."""
    from songscape.audio.stretch import default_warp_method

    try:
        return MixOptions(
            segments=args.segments,
            bars=args.bars,
            fade_s=args.fade,
            max_stretch=args.max_stretch,
            style=args.style,
            arc=args.arc,
            reorder=args.reorder or not args.tracks,
            target_lufs=args.lufs,
            warp=args.warp or default_warp_method(),
        )
    except ValueError as err:
        raise UsageError(str(err)) from err


def cmd_mix(args: argparse.Namespace) -> int:
    """Plan a mix, print it, and render it to ``--out`` (``--plan-only``: just the plan)."""
    if args.out is None and not args.plan_only:
        raise UsageError("give --out FILE (.flac, .ogg, .wav or .mp3), or --plan-only")
    options = mix_options(args)
    source = {
        "seed": args.seed,
        "start": args.start,
        "end": args.end,
        "query": args.query,
        "user": args.user,
        "count": args.count,
        "minutes": args.minutes,
    }
    with open_library(args) as lib:
        plan = lib.plan_mix(args.tracks, options=options, **source)
        if not args.json:
            print_plan(plan.to_json())
        if args.plan_only:
            if args.json:
                render.print_json(plan.to_json())
            return EXIT_OK
        if sys.stderr.isatty() and not args.json:
            with render.RichProgress() as bar:
                bar.phase("render", len(plan.segments))
                result = lib.render_mix(
                    plan, args.out, lambda done, total: bar.advance(1), args.plot
                )
        else:
            result = lib.render_mix(plan, args.out, None, args.plot)
    if args.json:
        render.print_json(result)
    else:
        r = result["render"]
        print(
            f"wrote {result['files']['audio']} ({render.duration(r['duration_s'])}, rendered at "
            f"{r['realtime_factor']}x real time); plan {result['files']['plan']}, "
            f"cue {result['files']['cue']}, sources {result['files']['m3u8']}"
            + (f", plot {result['files']['plot']}" if "plot" in result["files"] else "")
        )
    return EXIT_OK


def print_plan(plan: dict) -> None:
    """The tracklist with mix times, then each transition with its cost parts."""
    tempo = plan["master_tempo_bpm"]
    order = plan["order"]
    mc = order["mean_cost"]
    print(
        f"mix of {len(plan['segments'])} tracks, {render.duration(plan['duration_s'])}"
        + (f", master tempo {tempo:.1f} BPM" if tempo else "")
        + f"; order: {order['method']}, mean transition cost {mc['plan']:.3f} "
        f"(given order {mc['given']:.3f}, random {mc['random']:.3f})"
    )
    for s, t in zip(plan["segments"], plan["transitions"] + [None], strict=True):
        name = (
            f"{s['artist']} – {s['title']}"
            if s["artist"]
            else (s["title"] or s["path"].rsplit("/", 1)[-1])
        )
        grid = "" if s["on_grid"] else f"  [no beat-matching: {s['grid_note']}]"
        print(
            f"{render.duration(s['mix_start_s']):>7}  {name}  ({s['part']}, "
            f"{render.duration(s['source_start_s'])}–{render.duration(s['source_end_s'])}, "
            f"{s['tempo_bpm'] or 0:.0f} BPM ×{s['stretch']:.3f}, {s['key'] or 'key ?'}){grid}"
        )
        if t is not None:
            parts = ", ".join(f"{k} {v:.2f}" for k, v in t["parts"].items())
            bars = f"{t['bars']} bars " if t["bars"] else ""
            why = f" — {t['reason']}" if t["reason"] else ""
            print(
                f"         ↳ {t['kind']} {bars}{t['style']} "
                f"at {render.duration(t['mix_start_s'])}: "
                f"cost {t['cost']:.2f} ({parts}; {t['key_relation']}){why}"
            )


def add_parsers(add: AddCommand) -> None:
    """mix."""
    p = add(
        "mix",
        cmd_mix,
        "plan and render a beat-matched DJ mix: of TRACKs, from a --seed, "
        "a path --from A --to B, a --query or a --user's recommendations",
    )
    p.add_argument(
        "tracks",
        metavar="TRACK",
        nargs="*",
        help="tracks to mix in this order (ids, id prefixes or paths)",
    )
    p.add_argument(
        "--reorder", action="store_true", help="reorder the TRACKs for the smoothest mix"
    )
    p.add_argument("--seed", metavar="TRACK", help="grow a mix from this track")
    p.add_argument("--count", type=count_type, metavar="N", help="tracks to choose (default 8)")
    p.add_argument(
        "--minutes", type=positive_float, metavar="M", help="grow a --seed mix to M minutes"
    )
    p.add_argument("--from", dest="start", metavar="TRACK", help="a mixable path from this track…")
    p.add_argument("--to", dest="end", metavar="TRACK", help="…to this one")
    p.add_argument("--query", metavar="WORDS", help="tracks found by words ('calm piano')")
    p.add_argument("--user", metavar="USER", help="a listener's recommendations")
    p.add_argument(
        "--segments",
        choices=SEGMENT_MODES,
        default="auto",
        help="play highlights or full songs (auto: highlights for more than 5 tracks)",
    )
    p.add_argument(
        "--bars",
        type=number(int, 1, "must be 1 or more"),
        metavar="N",
        help="bars per beat-matched transition (default 8 for full songs, 4 for highlights)",
    )
    p.add_argument(
        "--style",
        choices=STYLES,
        default="bass-swap",
        help="beat-matched transitions: bass swap (default) or plain crossfade",
    )
    p.add_argument("--arc", choices=ARCS, default="none", help="energy arc of the order")
    p.add_argument(
        "--fade",
        type=positive_float,
        default=6.0,
        metavar="S",
        help="length of fades where beat-matching is impossible (default 6 s)",
    )
    p.add_argument(
        "--max-stretch",
        type=non_negative_float,
        default=0.1,
        metavar="F",
        help="largest tempo change for beat-matching, as a fraction (default 0.1)",
    )
    p.add_argument("--lufs", type=float, default=-14.0, help="loudness target (default -14 LUFS)")
    p.add_argument(
        "--warp",
        choices=("rubberband", "varispeed"),
        help="time-stretching: Rubber Band (default when installed) or varispeed",
    )
    p.add_argument("--out", metavar="FILE", help="the mix: .flac, .ogg, .wav or .mp3")
    p.add_argument(
        "--plot", metavar="PNG", help="draw the mix's loudness, transitions and spectrograms"
    )
    p.add_argument("--plan-only", action="store_true", help="plan and print, render nothing")
