"""The company edge proxy demo (``make demo`` / ``envoykit demo``).

Two internal web servers (127.0.0.20:8080 and 127.0.0.21:8080) behind one edge:
``a.example.com`` → the first, ``b.example.com`` → the second, HTTPS terminated at the
proxy with one certificate per host (SNI), plain HTTP redirected to HTTPS, a local rate
limit, and an admin page on loopback. ``--check`` runs the tour itself and exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import FrameType

import httpx

from envoykit.builder import EdgeProxy
from envoykit.process import Supervisor
from envoykit.testing.http import resolving_client
from envoykit.testing.tls import TestCA, private_dir
from envoykit.testing.upstream import Upstream
from envoykit.validation import validate

__all__ = ["DESCRIPTION", "DemoSettings", "add_arguments", "company_edge", "main", "run",
           "settings_from"]

DESCRIPTION = __doc__.splitlines()[0]


@dataclass(frozen=True)
class DemoSettings:
    """Where the demo listens and what it limits (flags and ENVOYKIT_DEMO_* override)."""

    address: str = "127.0.0.1"
    https_port: int = 8443
    http_port: int = 8080
    admin_port: int = 9901
    upstream_a: str = "127.0.0.20:8080"
    upstream_b: str = "127.0.0.21:8080"
    rate: int = 20


def company_edge(settings: DemoSettings, ca: TestCA) -> EdgeProxy:
    """The mission, as the sentence that describes it."""
    a_cert = ca.issue("a.example.com").as_cert()
    b_cert = ca.issue("b.example.com").as_cert()
    return (
        EdgeProxy("company-edge")
        .site("a.example.com", settings.upstream_a, cert=a_cert)
        .site("b.example.com", settings.upstream_b, cert=b_cert)
        .https(port=settings.https_port, address=settings.address)
        .redirect_http(port=settings.http_port, address=settings.address)
        .rate_limit(requests=settings.rate, per="1s")
        .admin(port=settings.admin_port)
        .access_log()
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's flags (each defaults to its ``ENVOYKIT_DEMO_*`` variable, then the
    built-in value); used by ``envoykit demo`` and ``python -m envoykit.demo``."""
    env = os.environ.get
    defaults = DemoSettings()
    parser.add_argument("--address", default=env("ENVOYKIT_DEMO_ADDRESS", defaults.address))
    for name in ("https_port", "http_port", "admin_port", "rate"):
        flag = "--" + name.replace("_", "-")
        value = int(env(f"ENVOYKIT_DEMO_{name.upper()}", getattr(defaults, name)))
        parser.add_argument(flag, type=int, default=value)
    for name in ("upstream_a", "upstream_b"):
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, default=env(f"ENVOYKIT_DEMO_{name.upper()}",
                                              getattr(defaults, name)))
    parser.add_argument("--check", action="store_true",
                        help="make the tour's requests, print what they got, stop, exit 0/1")


def settings_from(args: argparse.Namespace) -> tuple[DemoSettings, bool]:
    """The settings and ``--check`` from parsed arguments."""
    fields = {name: getattr(args, name) for name in DemoSettings.__dataclass_fields__}
    return DemoSettings(**fields), bool(args.check)


@contextmanager
def _upstreams(settings: DemoSettings) -> Iterator[tuple[Upstream, Upstream]]:
    def start(name: str, spec: str) -> Upstream:
        host, _, port = spec.rpartition(":")
        return Upstream(name, host=host, port=int(port))

    a = start("A", settings.upstream_a)
    try:
        b = start("B", settings.upstream_b)
        try:
            yield a, b
        finally:
            b.close()
    finally:
        a.close()


def _tour(s: DemoSettings, ca_file: str) -> list[str]:
    """The curl commands a user would type (printed), to try the edge by hand."""
    resolve = f"--resolve a.example.com:{s.https_port}:{s.address} " \
              f"--resolve b.example.com:{s.https_port}:{s.address}"
    return [
        f"curl --cacert {ca_file} {resolve} https://a.example.com:{s.https_port}/",
        f"curl --cacert {ca_file} {resolve} https://b.example.com:{s.https_port}/hello",
        f"curl -i -H 'Host: a.example.com' http://{s.address}:{s.http_port}/",
        f"curl 'http://127.0.0.1:{s.admin_port}/stats?filter=http_local_rate_limit'",
        f"curl 'http://127.0.0.1:{s.admin_port}/config_dump?resource=static_listeners'",
    ]


def run_check(s: DemoSettings, ca_file: str) -> bool:
    """Make the tour's requests with httpx; print what happened; True when all is right."""
    ok = True
    hosts = {"a.example.com": s.address, "b.example.com": s.address}
    with resolving_client(hosts, verify=ca_file, timeout=5) as client:
        for host, upstream in (("a.example.com", "A"), ("b.example.com", "B")):
            got = client.get(f"https://{host}:{s.https_port}/")
            good = got.status_code == 200 and got.headers.get("x-upstream") == upstream
            ok &= good
            print(f"https://{host}:{s.https_port}/ -> {got.status_code} from upstream "
                  f"{got.headers.get('x-upstream')}: {'ok' if good else 'WRONG'}")
    redirect = httpx.get(f"http://{s.address}:{s.http_port}/x", headers={"host": "a.example.com"})
    location = redirect.headers.get("location", "")
    good = redirect.status_code == 301 and location == f"https://a.example.com:{s.https_port}/x"
    ok &= good
    print(f"http://a.example.com:{s.http_port}/x -> {redirect.status_code} {location}: "
          f"{'ok' if good else 'WRONG'}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m envoykit.demo``: parse ``argv``, then :func:`run`."""
    parser = argparse.ArgumentParser(prog="envoykit demo", description=DESCRIPTION)
    add_arguments(parser)
    return run(*settings_from(parser.parse_args(argv)))


def run(settings: DemoSettings, check: bool) -> int:
    """Run the demo until Ctrl-C / SIGTERM (or just the tour with ``--check``)."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the admin calls are not news
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    workdir = private_dir(prefix="envoykit-demo-")
    try:
        with ExitStack() as stack:
            ca = TestCA(workdir / "certs")
            edge = company_edge(settings, ca)
            bootstrap = validate(edge)
            stack.enter_context(_upstreams(settings))
            proxy = stack.enter_context(
                Supervisor(bootstrap, run_dir=workdir / "run", log_level="warning"))
            print(f"company edge is up (envoy pid {proxy.pid}); config "
                  f"{proxy.run_dir}, CA {ca.ca_file}")
            if check:
                return 0 if run_check(settings, ca.ca_file) else 1
            print("try:\n  " + "\n  ".join(_tour(settings, ca.ca_file)))
            print("Ctrl-C to stop.")
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
