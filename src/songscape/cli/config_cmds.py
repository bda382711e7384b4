"""``songscape config``: the library's settings (vector-index backend, Milvus URI, the
Redis server of the HTTP API); see :mod:`songscape.catalog.settings`."""

from __future__ import annotations

import argparse

from songscape.cli import render
from songscape.cli.errors import EXIT_OK
from songscape.cli.options import AddCommand, open_library


def cmd_config(args: argparse.Namespace) -> int:
    """Show, set or unset library settings."""
    with open_library(args) as lib:
        if args.action == "set":
            lib.set_config(args.key, args.value)
        elif args.action == "unset":
            lib.set_config(args.key, None)
        if args.action == "get":
            value = lib.config(args.key)
            if args.json:
                render.print_json({args.key: value})
            else:
                print("" if value is None else value)
            return EXIT_OK
        settings = lib.configuration()
    if args.json:
        render.print_json(settings)
        return EXIT_OK
    for key, s in settings.items():
        mark = "" if s["set"] else "  (default)"
        print(f"{key} = {'' if s['value'] is None else s['value']}{mark}")
    return EXIT_OK


def add_parsers(add: AddCommand) -> None:
    """config."""
    p = add("config", cmd_config, "library settings: index.backend, index.uri, serve.redis, ...")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = False
    sub.add_parser("list", help="every setting and its value (the default action)")
    g = sub.add_parser("get", help="one setting's value")
    g.add_argument("key", metavar="KEY")
    s = sub.add_parser("set", help="set a setting, e.g. `config set index.backend milvus`")
    s.add_argument("key", metavar="KEY")
    s.add_argument("value", metavar="VALUE")
    u = sub.add_parser("unset", help="back to the default")
    u.add_argument("key", metavar="KEY")
