"""Command line: `python -m web serve | migrate | demo | create-commander | sign-ins`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from web import db
from web.settings import get_settings


async def _with_db(work):
    engine = db.current_or_default()
    await db.start(engine)
    try:
        await db.migrate()
        return await work()
    finally:
        await db.stop(engine)


async def _is_empty() -> bool:
    from web.places.tables import Place

    return await Place.count() == 0


def cmd_migrate(_: argparse.Namespace) -> None:
    asyncio.run(_with_db(lambda: asyncio.sleep(0)))
    print("migrated")


def cmd_demo(args: argparse.Namespace) -> None:
    from web import demo

    async def work():
        if not await _is_empty():
            if args.if_empty:
                return None
            sys.exit("The database already holds data; the demo loads only into an empty one.")
        return await demo.generate(args.size, get_settings().data_dir)

    result = asyncio.run(_with_db(work))
    if result:
        print(f"demo sub-district loaded ({args.size}): {result['communities']} communities, {result['grids']} grids, "
              f"{result['microgrids']} micro-grids, {result['households']} households, {result['persons']} persons "
              f"in {result['seconds']} s")


def cmd_sign_ins(_: argparse.Namespace) -> None:
    from web import demo

    settings = get_settings()
    link_file = settings.data_dir / demo.RESIDENT_LINK_FILE
    print("\nDemo sign-ins (password for all: %s)" % demo.DEMO_PASSWORD)
    for username, display, role, _level in demo.DEMO_USERS:
        print(f"  {username:<13} {role:<14} {display}")
    if link_file.exists():
        print(f"  resident link: http://{settings.host}:{settings.port}/h/{link_file.read_text().strip()}")
    print(f"\nGridline: http://{settings.host}:{settings.port}\n")


def cmd_create_commander(args: argparse.Namespace) -> None:
    """A real deployment's first account: the command centre of a new, empty sub-district."""
    from web.accounts.logic import create_user
    from web.accounts.tables import User
    from web.places.logic import create_place
    from web.places.tables import Place

    password = args.password or getpass.getpass("Password (at least 10 characters): ")
    if len(password) < 10:
        sys.exit("The password needs at least 10 characters.")

    async def work():
        if await User.exists().where(User.username == args.username.lower()):
            sys.exit(f"The username {args.username} is taken.")
        top = await Place.select().where(Place.kind == "subdistrict").first()
        if top is None:
            place_id = await create_place(args.subdistrict, "subdistrict", None)
        else:
            place_id = top["id"]
        await create_user(args.username, args.name or args.username, password, "", "commander", place_id)
        return place_id

    asyncio.run(_with_db(work))
    print(f"commander {args.username} created; sign in at http://{get_settings().host}:{get_settings().port}/signin")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = get_settings()
    if args.workers > 1 and settings.engine_kind == "sqlite":
        sys.exit("SQLite means one process: --workers above 1 needs DATABASE_URL=postgresql://… "
                 "(see docs/deploy.md).")
    # An import string and a factory: uvicorn starts `workers` processes, each builds its own
    # app (its own connection pool); migrations run once, under a database lock.
    uvicorn.run("web.asgi:serve", factory=True, workers=args.workers, host=settings.host, port=settings.port,
                log_level="warning", access_log=False, proxy_headers=False, server_header=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m web", description="Gridline (网格通)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the app")
    serve.add_argument("--workers", type=int, default=1, help="processes (PostgreSQL only; SQLite means one)")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    demo = sub.add_parser("demo", help="load the demo sub-district into an empty database")
    demo.add_argument("--size", choices=("small", "full"), default="small")
    demo.add_argument("--if-empty", action="store_true", help="do nothing when the database holds data")
    demo.set_defaults(func=cmd_demo)
    sub.add_parser("sign-ins", help="print the demo sign-ins").set_defaults(func=cmd_sign_ins)
    first = sub.add_parser("create-commander", help="create the first command-centre account")
    first.add_argument("--username", required=True)
    first.add_argument("--name", default="")
    first.add_argument("--password", default="", help="asked for when not given")
    first.add_argument("--subdistrict", default="街道", help="name of the sub-district, if none exists yet")
    first.set_defaults(func=cmd_create_commander)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
