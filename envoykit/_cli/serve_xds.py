"""``envoykit serve-xds CONFIG --listen HOST:PORT``: a control plane serving CONFIG.

CONFIG is what every other command takes (Envoy YAML/JSON, ``file.py[:attr]``,
``module:attr``). When the file changes (mtime or size, polled) and then stays unchanged for
one more interval (an editor may still be writing it), it is re-read and pushed;
a config that fails our checks, or that Envoys NACK, is reported and the previous one keeps
serving (with ``--rollback``, nodes that NACKed are sent back to it). SIGHUP re-reads too.
Members are started with ``fleet_member("HOST:PORT", node_id=...)``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any

from envoykit._cli.args import SubParsers, add_config, seconds
from envoykit.errors import EnvoykitError

__all__ = ["register", "run"]

log = logging.getLogger("envoykit.cli")


def register(subparsers: SubParsers) -> argparse.ArgumentParser:
    """Add ``serve-xds`` to the ``envoykit`` command."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve-xds", help="serve CONFIG to a fleet of Envoys over ADS (gRPC)",
        description="Run an xDS control plane (ADS, state of the world and delta) serving "
        "CONFIG to every Envoy that connects; re-push when CONFIG changes.")
    add_config(p)
    p.add_argument("--listen", default="127.0.0.1:18000", metavar="HOST:PORT",
                   help="where to listen (default 127.0.0.1:18000)")
    p.add_argument("--interval", type=seconds, default=1.0, metavar="SECONDS",
                   help="how often CONFIG is checked for changes (default 1)")
    p.add_argument("--push-timeout", type=seconds, default=30.0, metavar="SECONDS",
                   help="how long a push waits for every node's ACK (default 30)")
    p.add_argument("--rollback", action="store_true",
                   help="send nodes that NACK a change back to their last ACKed config")
    p.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate")
    p.add_argument("--tls-key", metavar="PEM", help="... and this key")
    p.add_argument("--client-ca", metavar="PEM", help="require client certificates (mTLS)")
    p.set_defaults(cli_logging=logging.INFO)  # nodes connecting, NACKs: news here
    return p


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; exit 0 on Ctrl-C or SIGTERM."""
    from envoykit._cli.source import parse_source

    source = parse_source(args.config)
    first = source.load()                    # a bad CONFIG fails before we listen
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args, source, first))
    return 0


async def _serve(args: argparse.Namespace, source: Any, first: Any) -> None:
    from envoykit.fleet import AsyncControlPlane, ServerTLS

    tls = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise EnvoykitError("--tls-cert and --tls-key go together")
        tls = ServerTLS(args.tls_cert, args.tls_key, args.client_ca)
    plane = AsyncControlPlane(args.listen, tls=tls, push_timeout=args.push_timeout)
    stop, reload = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload.set)
    async with plane:
        snapshot = await plane.push(first)
        log.info("serving %s on %s (snapshot %s)", args.config, plane.address, snapshot.version)
        print(f"serving {args.config} on {plane.address} snapshot {snapshot.version}",
              flush=True)
        watched = source.watched_path()
        pushed = seen = _stamp(watched)
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(_either(stop, reload), max(args.interval, 0.05))
            if stop.is_set():
                break
            now = _stamp(watched)
            if not reload.is_set() and (now != seen or now == pushed):
                seen = now              # changed since the last look: read it once it is still
                continue
            pushed = seen = now
            reload.clear()
            await _push(plane, source, args)


async def _either(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


async def _push(plane: Any, source: Any, args: argparse.Namespace) -> None:
    try:
        config = source.load()
        snapshot = await plane.push(config, rollback=args.rollback)
    except EnvoykitError as exc:
        log.error("not pushed: %s", exc)
        print(f"push failed: {exc}", flush=True)
        return
    except Exception as exc:  # the user's config code raised
        log.error("CONFIG could not be loaded: %s", exc)
        print(f"push failed: {exc}", flush=True)
        return
    print(f"pushed snapshot {snapshot.version} to {len(plane.status())} node(s)", flush=True)


def _stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
