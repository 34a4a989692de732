"""Data-plane benchmark: the company edge served three ways, loaded with wrk.

1. **envoykit** — ``EdgeProxy`` with its secure defaults (SNI chains, per-site local rate
   limit raised out of the way, HSTS, path normalisation, timeouts, buffer limits, overload
   manager), envoy ``--concurrency 2``;
2. **handwritten** — the minimal Envoy YAML an expert would write for the same job
   (tls_inspector, one SNI chain per host, the local rate limit the company asked for as
   Envoy's docs write it, router), envoy ``--concurrency 2``; and **handwritten-minimal**,
   the same without the rate limit (the baseline until 2026-11-30: a config that does less
   than the job, so the flood limit's price is read from it);
3. **nginx** — the same two HTTPS server blocks and plain-HTTP servers (no rate limit), 2 workers,
   upstream keepalive on, ``keepalive_requests`` raised like Envoy's (unlimited) default.

Upstreams are a separate nginx (``return 200``) on 127.0.0.20 and 127.0.0.21, so the
upstream is never the bottleneck of one proxy and not the other. wrk runs with fixed
threads/connections over HTTP/1.1 keep-alive, plain and HTTPS (SNI ``a.example.com``:
the wrk script resolves the name to 127.0.0.1, like ``curl --resolve``). Each round runs
the three proxies back to back per scheme (first one rotating); the table shows medians
of requests/s and latency, and the median of the per-round ratios. Loopback only.

    python bench/dataplane.py [--rounds 5] [--duration 3] [--connections 64] [--threads 2]

HTTP/2 over TLS is measured too when ``h2load`` is installed (Debian ``nghttp2-client``;
``--no-h2`` skips it): same connections, one stream in flight each.

Needs ``wrk``, ``nginx`` and ``h2load`` (``make bench-deps`` installs them as root); a
missing tool, a wrk/h2load failure, any non-2xx or socket error, or an upstream that is
itself saturated (its CPU near one full core while a proxy is measured) fails the run
(exit 1) — a bench that cannot measure must not look like a result. The last line is JSON
with the medians of every proxy and scheme (``<proxy>_<scheme>_rps``), the paired
``envoykit_vs_handwritten_<scheme>`` ratios, the error counts, the upstream's peak CPU and
``target_met`` (target: envoykit >= 1.0x the hand-written config on HTTPS, HTTP and h2).

``--paired`` measures differently (bench/_paired.py): envoykit and the hand-written config
are loaded *at the same time*, half the connections each, so the noise of a shared machine
falls on both alike; with ``--ablate`` each variant is paired with envoykit's defaults.
An A/A control is always paired too: envoykit against itself in a second process
(``envoykit-again``), whose ratio is the noise of the method on this machine. Rounds
alternate which of a pair is started first. Its JSON has ``<a>_vs_<b>_<scheme>`` ratios
and ``..._cpu_us_diff`` (µs per request).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from envoykit import EdgeDefaults, EdgeProxy
from envoykit.binary import find_envoy
from envoykit.render import to_yaml
from envoykit.testing.net import free_port
from envoykit.testing.tls import TestCA
from envoykit.validation import validate

HOSTS = ("a.example.com", "b.example.com")
UPSTREAM_IPS = ("127.0.0.20", "127.0.0.21")
PROXIES = ("envoykit", "handwritten", "handwritten-minimal", "nginx")
MINIMAL = "handwritten-minimal"
SCHEMES = ("https", "http")

WRK_SCRIPT = """\
-- Resolve every host to 127.0.0.1 (curl --resolve): SNI and Host stay a.example.com.
wrk.resolve = function(host, service)
  wrk.addrs = wrk.lookup("127.0.0.1", service)
end
"""


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout}s")


@contextlib.contextmanager
def process(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# --- the servers --------------------------------------------------------------------------


def nginx_conf(work: Path, body: str, workers: int) -> Path:
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(f"""
user root;
worker_processes {workers};
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 3600s;
{body}
}}
""")
    return conf


@contextlib.contextmanager
def nginx(work: Path, body: str, workers: int,
          ports: list[tuple[str, int]]) -> Iterator[subprocess.Popen[bytes]]:
    work.mkdir(parents=True, exist_ok=True)
    conf = nginx_conf(work, body, workers)
    argv = [shutil.which("nginx") or "nginx", "-p", str(work), "-c", str(conf)]
    with process(argv, work / "stdout.log") as proc:
        for host, port in ports:
            try:
                wait_port(host, port)
            except RuntimeError:
                raise RuntimeError(f"nginx did not start (exit {proc.poll()}):\n"
                                   + (work / "error.log").read_text(errors="replace")) from None
        yield proc


def upstream_body(ports: tuple[int, int]) -> str:
    return "\n".join(
        f"  server {{ listen {ip}:{port}; location / {{ return 200 \"{name}\\n\"; }} }}"
        for ip, port, name in zip(UPSTREAM_IPS, ports, "AB", strict=True)
    )


def nginx_proxy_body(https: int, http: int, up: tuple[int, int], certs: dict[str, tuple[str, str]]
                     ) -> str:
    lines = []
    for host, ip, port in zip(HOSTS, UPSTREAM_IPS, up, strict=True):
        name = host.replace(".", "_")
        cert, key = certs[host]
        proxy = (f"location / {{ proxy_pass http://{name}; proxy_http_version 1.1; "
                 f"proxy_set_header Connection \"\"; proxy_set_header Host $host; }}")
        lines += [
            f"  upstream {name} {{ server {ip}:{port}; keepalive 64; "
            f"keepalive_requests 1000000; }}",
            f"  server {{ listen 127.0.0.1:{https} ssl http2; server_name {host}; "
            f"ssl_certificate {cert}; ssl_certificate_key {key}; "
            f"ssl_protocols TLSv1.2 TLSv1.3; {proxy} }}",
            f"  server {{ listen 127.0.0.1:{http}; server_name {host}; {proxy} }}",
        ]
    return "\n".join(lines)


HANDWRITTEN = """\
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
  - name: https
    address: {{socket_address: {{address: 127.0.0.1, port_value: {https}}}}}
    listener_filters:
    - name: envoy.filters.listener.tls_inspector
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector
    filter_chains:
{chains}
  - name: http
    address: {{socket_address: {{address: 127.0.0.1, port_value: {http}}}}}
    filter_chains:
    - filters:
{http_hcm}
  clusters:
{clusters}
"""

HCM = """\
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": {hcm_type}
          stat_prefix: {prefix}
          strip_any_host_port: true
          route_config:
            virtual_hosts:
{vhosts}
          http_filters:
{limit}          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"""

# The flood limit the company asked for, as Envoy's local rate limit docs write it (the
# bucket raised out of the way, like envoykit's in this bench).
LIMIT = """\
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": LIMIT_TYPE
              stat_prefix: http_local_rate_limiter
              token_bucket: {max_tokens: 100000000, tokens_per_fill: 100000000, fill_interval: 1s}
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value: {numerator: 100, denominator: HUNDRED}
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value: {numerator: 100, denominator: HUNDRED}
              response_headers_to_add:
              - header: {key: x-local-rate-limit, value: "true"}
""".replace("LIMIT_TYPE", "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3."
                          "LocalRateLimit")

HCM_TYPE = ("type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
            "HttpConnectionManager")
TLS_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"

VHOST = """\
            - name: {name}
              domains: ["{host}"]
              routes:
              - match: {{prefix: "/"}}
                route: {{cluster: {name}}}"""

CHAIN = """\
    - filter_chain_match: {{server_names: ["{host}"]}}
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": {tls_type}
          common_tls_context:
            alpn_protocols: [h2, http/1.1]
            tls_certificates:
            - certificate_chain: {{filename: {cert}}}
              private_key: {{filename: {key}}}
      filters:
{hcm}"""

CLUSTER = """\
  - name: {name}
    type: STATIC
    connect_timeout: 5s
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: {ip}, port_value: {port}}}}}}}"""


def handwritten_yaml(https: int, http: int, up: tuple[int, int],
                     certs: dict[str, tuple[str, str]], *, rate_limit: bool = True) -> str:
    """The expert's config for the same job; ``rate_limit=False``: without the flood limit
    (``handwritten-minimal``, the baseline before 2026-11-30 09:50)."""
    limit = LIMIT if rate_limit else ""
    names = [h.replace(".", "_") for h in HOSTS]
    vhosts = [VHOST.format(name=n, host=h) for n, h in zip(names, HOSTS, strict=True)]
    chains = [
        CHAIN.format(host=h, cert=certs[h][0], key=certs[h][1],
                     hcm=HCM.format(prefix=f"https_{n}", vhosts=v, hcm_type=HCM_TYPE,
                                    limit=limit),
                     tls_type=TLS_TYPE)
        for h, n, v in zip(HOSTS, names, vhosts, strict=True)
    ]
    clusters = [CLUSTER.format(name=n, ip=ip, port=p)
                for n, ip, p in zip(names, UPSTREAM_IPS, up, strict=True)]
    return HANDWRITTEN.format(https=https, http=http, chains="\n".join(chains),
                              http_hcm=HCM.format(prefix="http", vhosts="\n".join(vhosts),
                                                  hcm_type=HCM_TYPE, limit=limit),
                              clusters="\n".join(clusters))


def envoykit_yaml(https: int, http: int, up: tuple[int, int],
                  certs: dict[str, tuple[str, str]], *, rate_limit: bool = True,
                  patch: Callable[[dict[str, Any]], None] | None = None,
                  **defaults: Any) -> str:
    """The company edge with the builder's defaults (``defaults`` replaces some, to price
    them); the rate limit is raised out of the way, not removed, unless ``rate_limit=False``.
    ``patch`` edits the rendered config: a what-if that no ``EdgeDefaults`` option gives."""
    edge = EdgeProxy("company-edge",
                     defaults=dataclasses.replace(EdgeDefaults(), **defaults) if defaults
                     else None)
    for host, ip, port in zip(HOSTS, UPSTREAM_IPS, up, strict=True):
        edge.site(host, f"{ip}:{port}", cert=certs[host])
    edge.https(https).http(http).admin(0)
    if rate_limit:
        edge.rate_limit(requests=100_000_000, per="1s")
    text = to_yaml(validate(edge))
    if patch is None:
        return text
    config = yaml.safe_load(text)
    patch(config)
    return yaml.safe_dump(config, sort_keys=False)


def exact_balance(config: dict[str, Any]) -> None:
    for listener in config["static_resources"]["listeners"]:
        listener["connection_balance_config"] = {"exact_balance": {}}


def no_stats(config: dict[str, Any]) -> None:
    config["stats_config"] = {"stats_matcher": {"reject_all": True}}


@contextlib.contextmanager
def envoy(work: Path, config: str, ports: list[int]) -> Iterator[subprocess.Popen[bytes]]:
    work.mkdir(parents=True, exist_ok=True)
    path = work / "envoy.yaml"
    path.write_text(config)
    argv = [str(find_envoy().path), "-c", str(path), "--concurrency", "2", "-l", "error",
            "--use-dynamic-base-id", "--base-id-path", str(work / "base-id"),
            "--admin-address-path", str(work / "admin.txt")]
    with process(argv, work / "envoy.log") as proc:
        deadline = time.monotonic() + 15
        while True:
            admin = (work / "admin.txt").read_text().strip() \
                if (work / "admin.txt").exists() else ""
            with contextlib.suppress(httpx.HTTPError):
                if admin and httpx.get(f"http://{admin}/ready", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("envoy did not start:\n"
                                   + (work / "envoy.log").read_text(errors="replace")[-3000:])
            time.sleep(0.02)
        for port in ports:
            wait_port("127.0.0.1", port)
        yield proc


# --- the load -----------------------------------------------------------------------------


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    cpu_us: float = 0.0  # proxy CPU time (all its processes, user + system) per request
    upstream_cpu: float = 0.0  # the upstream's CPU time / wall time (1.0 = one full core)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (nginx workers)."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, script: Path, threads: int, connections: int, duration: float) -> Result:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
            "-s", str(script), url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30,
                          check=False)
    out = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None or done.returncode != 0:
        raise RuntimeError(f"wrk failed (exit {done.returncode}) for {url}:\n{out}{done.stderr}")
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(g) for g in sock.groups()) if sock else 0)
    total = re.search(r"(\d+) requests in", out)
    return Result(float(rps.group(1)), _ms(p50.group(1)) if p50 else 0.0,
                  _ms(p99.group(1)) if p99 else 0.0, errors,
                  int(total.group(1)) if total else 0)


def h2load(url: str, port: int, threads: int, connections: int, duration: float,
           log: Path) -> Result:
    """HTTP/2 over TLS: ``connections`` connections, one stream in flight each (like wrk)."""
    argv = ["h2load", f"-t{threads}", f"-c{connections}", "-m1",
            f"-D{max(1, round(duration))}", f"--connect-to=127.0.0.1:{port}",
            f"--log-file={log}", url]
    done_run = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30,
                              check=False)
    out = done_run.stdout
    if done_run.returncode != 0:
        raise RuntimeError(f"h2load failed (exit {done_run.returncode}) for {url}:\n"
                           f"{out}{done_run.stderr}")
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    codes = re.search(r"status codes: (\d+) 2xx", out)
    if rps is None or done is None or codes is None:
        raise RuntimeError(f"h2load gave no result for {url}:\n{out}")
    times = sorted(int(line.split("\t")[2]) / 1000 for line in
                   log.read_text().splitlines() if line.count("\t") >= 2)
    log.unlink()
    p50 = times[len(times) // 2] if times else 0.0
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] if times else 0.0
    return Result(float(rps.group(1)), p50, p99, int(done.group(1)) - int(codes.group(1)),
                  int(done.group(1)))


def load(scheme: str, port: int, threads: int, connections: int, duration: float,
         script: Path, h2log: Path) -> Result:
    """One load run on a proxy's listener: wrk (http, https) or h2load (h2, over TLS)."""
    url = f"{'http' if scheme == 'http' else 'https'}://a.example.com:{port}/"
    if scheme == "h2":
        return h2load(url, port, threads, connections, duration, h2log)
    return wrk(url, script, threads, connections, duration)


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    return (f"{os.cpu_count()} CPUs ({model}){mem}, {platform.system()} {platform.release()}, "
            f"envoy {find_envoy().version}, "
            + subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-h2", action="store_true", help="skip the HTTP/2 (h2load) runs")
    parser.add_argument("--ablate", action="store_true",
                        help="also run envoykit with single defaults taken away, to price them")
    parser.add_argument("--variants", default="",
                        help="with --ablate: only these variants (comma-separated names)")
    parser.add_argument("--paired", action="store_true",
                        help="load envoykit and the hand-written config at the same time (and "
                             "each --ablate variant with envoykit) instead of back to back")
    args = parser.parse_args(argv)
    tools = ("wrk", "nginx") if args.no_h2 else ("wrk", "nginx", "h2load")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        print(f"dataplane bench cannot measure: {', '.join(missing)} not installed "
              "(run `make bench-deps` as root; Debian: wrk nginx-light nghttp2-client)",
              file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="envoykit-bench-"))
    work.chmod(0o700)
    try:
        return run(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


AA = "envoykit-again"
ABLATIONS: dict[str, dict[str, Any]] = {
    # envoykit with one default changed, to price it (``--ablate``)
    "ek-no-ratelimit": {"rate_limit": False},
    "ek-no-hsts": {"hsts": None},
    "ek-rl-hdr-every": {"ratelimit_headers_on_every_response": True},
    "ek-request-id": {"request_id": True},
    "ek-all-stats": {"stats": "all"},
    "ek-before": {"ratelimit_headers_on_every_response": True, "request_id": True,
                  "dynamic_stats": True,
                  "stats": "all"},  # the defaults before issue 14
    "ek-dynamic-stats": {"dynamic_stats": True},  # the router's per-upstream stats everywhere
    "ek-no-dynamic-stats": {"dynamic_stats": False},  # ... and not on plain HTTP either
    "ek-no-dyn-no-rl": {"dynamic_stats": False, "rate_limit": False},
    # what-ifs beyond EdgeDefaults, edits of the rendered config:
    "ek-no-stats": {"patch": no_stats},
    "ek-exact-balance": {"patch": exact_balance},
    # the A/A control, always in --paired: envoykit's defaults again, in a second process;
    # its ratio to envoykit is the noise of the method on this machine
    AA: {},
}
UPSTREAM_SATURATED = 0.9  # of one core: the 1-worker upstream would be the bottleneck


def run(work: Path, args: argparse.Namespace) -> int:
    ca = TestCA(work / "certs")
    certs = {h: (f.cert, f.key) for h in HOSTS for f in [ca.issue(h)]}
    script = work / "resolve.lua"
    script.write_text(WRK_SCRIPT)
    up = (free_port(UPSTREAM_IPS[0]), free_port(UPSTREAM_IPS[1]))
    base = ["envoykit", "handwritten", MINIMAL] if args.paired else list(PROXIES)
    chosen = [v for v in args.variants.split(",") if v] or list(ABLATIONS)
    unknown = sorted(set(chosen) - set(ABLATIONS))
    if unknown:
        raise SystemExit(f"--variants: unknown {', '.join(unknown)}; known: {', '.join(ABLATIONS)}")
    proxies = base + ([AA] if args.paired else []) + [
        v for v in (chosen if args.ablate else []) if v != AA]
    ports = {p: (free_port(), free_port()) for p in proxies}  # (https, http)
    schemes = list(SCHEMES) + ([] if args.no_h2 else ["h2"])
    results: dict[tuple[str, str], list[Result]] = {(p, s): [] for p in proxies for s in schemes}
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"machine: {machine()}; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at {when}")
    print(f"load: wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, HTTP/1.1 "
          f"keep-alive, {args.rounds} rounds (medians), proxies at concurrency/workers 2"
          + (f"; h2: h2load -t{args.threads} -c{args.connections} -m1 (HTTP/2 over TLS)"
             if "h2" in schemes else "; h2load not installed: no HTTP/2 row"))
    pids: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        upstream_pid = stack.enter_context(nginx(work / "upstream", upstream_body(up), 1,
                                                 list(zip(UPSTREAM_IPS, up, strict=True)))).pid
        for proxy in proxies:
            https, http = ports[proxy]
            if proxy == "nginx":
                proc = stack.enter_context(nginx(work / proxy,
                                                 nginx_proxy_body(https, http, up, certs), 2,
                                                 [("127.0.0.1", https), ("127.0.0.1", http)]))
            else:
                text = (handwritten_yaml(https, http, up, certs, rate_limit=proxy != MINIMAL)
                        if proxy.startswith("handwritten")
                        else envoykit_yaml(https, http, up, certs, **ABLATIONS.get(proxy, {})))
                proc = stack.enter_context(envoy(work / proxy, text, [https, http]))
            pids[proxy] = proc.pid
        _check_routing(ports, ca.ca_file)
        if args.paired:
            return run_paired(args, proxies, schemes, ports, pids, work, script, upstream_pid)
        for rnd in range(args.rounds):
            k = rnd % len(proxies)
            order = proxies[k:] + proxies[:k]  # rotate who goes first
            for scheme in schemes:  # all proxies back to back: paired ratios
                for proxy in order:
                    port = ports[proxy][1 if scheme == "http" else 0]
                    if rnd == 0 and args.warmup > 0:
                        load(scheme, port, args.threads, args.connections, args.warmup,
                             script, work / "h2load.log")
                    cpu, up_cpu = cpu_seconds(pids[proxy]), cpu_seconds(upstream_pid)
                    began = time.monotonic()
                    result = load(scheme, port, args.threads, args.connections, args.duration,
                                  script, work / "h2load.log")
                    wall = time.monotonic() - began
                    cpu = cpu_seconds(pids[proxy]) - cpu
                    result.cpu_us = cpu * 1e6 / max(result.requests, 1)
                    result.upstream_cpu = (cpu_seconds(upstream_pid) - up_cpu) / wall
                    results[(proxy, scheme)].append(result)
                    print(f"  round {rnd + 1} {proxy:<17} {scheme:<5} {result.rps:>9,.0f} rps "
                          f"p50 {result.p50_ms:.2f} ms p99 {result.p99_ms:.2f} ms "
                          f"cpu {result.cpu_us:.1f} us/req upstream cpu {result.upstream_cpu:.2f}"
                          + (f"  ERRORS {result.errors}" if result.errors else ""),
                          flush=True)
    return report(results, proxies, schemes)


def run_paired(args: argparse.Namespace, proxies: list[str], schemes: list[str],
               ports: dict[str, tuple[int, int]], pids: dict[str, int], work: Path,
               script: Path, upstream_pid: int) -> int:
    """``--paired``: envoykit against the hand-written config, and each ablation against
    envoykit, loaded at the same time (bench/_paired.py); rounds alternate the pairs."""
    import _paired

    def load_one(proxy: str, scheme: str, connections: int, duration: float) -> Result:
        return load(scheme, ports[proxy][1 if scheme == "http" else 0], 1, connections,
                    duration, script, work / f"h2load-{proxy}.log")

    pairs = [_paired.Pair("envoykit", "handwritten", s) for s in schemes]
    pairs += [_paired.Pair("envoykit", MINIMAL, s) for s in schemes]
    variants = [p for p in proxies if p not in ("envoykit", "handwritten", MINIMAL)]
    pairs += [_paired.Pair(p, "envoykit", s) for p in variants for s in schemes]
    for pair in pairs:  # warm-up, not counted
        load_one(pair.a, pair.scheme, args.connections // 2, args.warmup)
        load_one(pair.b, pair.scheme, args.connections // 2, args.warmup)
    upstream_peak = 0.0
    for _ in range(args.rounds):
        for pair in pairs:
            up_cpu, began = cpu_seconds(upstream_pid), time.monotonic()
            _paired.measure(pair, load_one, lambda p: cpu_seconds(pids[p]), args.connections,
                            args.duration)
            upstream_peak = max(upstream_peak, (cpu_seconds(upstream_pid) - up_cpu)
                                / (time.monotonic() - began))
    _paired.table(pairs)
    main_pairs = pairs[:len(schemes)]
    control = [p for p in pairs if p.a == AA]
    met = all(p.ratio >= 1.0 for p in main_pairs)
    errors = sum(p.errors for p in pairs)
    print()
    print(f"target: envoykit >= 1.0x handwritten on {', '.join(schemes)} (paired): "
          + ", ".join(f"{p.scheme} {p.ratio:.2f}x" for p in main_pairs)
          + (" - met" if met else " - NOT met"))
    print("noise of the method (A/A control, envoykit against itself in a second process): "
          + ", ".join(f"{p.scheme} {p.ratio:.3f}x [{min(p.ratios):.3f}-{max(p.ratios):.3f}], "
                      f"{p.cpu_diff:+.1f} us/req" for p in control))
    print(f"upstream (1 nginx worker) peak CPU while measuring: {upstream_peak:.2f} of a core "
          f"(saturated at >= {UPSTREAM_SATURATED})")
    failed = ([f"{errors} failed requests during the load"] if errors else []) + (
        [f"the upstream was saturated ({upstream_peak:.2f} of a core)"]
        if upstream_peak >= UPSTREAM_SATURATED else [])
    for why in failed:
        print(f"CANNOT MEASURE: {why}", file=sys.stderr)
    figures = _paired.figures(pairs)
    figures.update({"errors": errors, "upstream_cpu_peak": round(upstream_peak, 2),
                    "target_met": met and not failed})
    print(json.dumps(figures))
    return 1 if failed else 0


def _check_routing(ports: dict[str, tuple[int, int]], ca_file: str) -> None:
    """Before measuring: every proxy answers 200 from the right upstream on both schemes."""
    from envoykit.testing.http import resolving_client

    with resolving_client(dict.fromkeys(HOSTS, "127.0.0.1"), verify=ca_file, timeout=5) as c:
        for proxy, (https, http) in ports.items():
            for host, name in zip(HOSTS, "AB", strict=True):
                for url in (f"https://{host}:{https}/", f"http://{host}:{http}/"):
                    got = c.get(url)
                    if got.status_code != 200 or got.text.strip() != name:
                        raise RuntimeError(f"{proxy}: {url} -> {got.status_code} {got.text!r}")


def _paired(results: dict[tuple[str, str], list[Result]], proxy: str, other: str,
            scheme: str) -> float:
    """Median of the per-round ratios: runs of one round are back to back, so a ratio
    cancels most of the drift of a shared machine (medians of medians would not)."""
    return statistics.median(a.rps / b.rps for a, b in
                             zip(results[(proxy, scheme)], results[(other, scheme)], strict=True))


def report(results: dict[tuple[str, str], list[Result]], proxies: list[str],
           schemes: list[str]) -> int:
    med: dict[tuple[str, str], Result] = {}
    for key, runs in results.items():
        med[key] = Result(statistics.median(r.rps for r in runs),
                          statistics.median(r.p50_ms for r in runs),
                          statistics.median(r.p99_ms for r in runs),
                          sum(r.errors for r in runs), 0,
                          statistics.median(r.cpu_us for r in runs))
    print()
    print("medians over rounds; 'vs' columns: median of per-round ratios of req/s (each round "
          "runs the proxies back to back); cpu: proxy CPU time per request")
    print(f"| {'proxy':<17} | {'scheme':<6} | {'req/s':>8} | {'p50 ms':>6} | {'p99 ms':>6} | "
          f"{'cpu us/req':>10} | {'errors':>6} | {'vs handwritten':>14} | {'vs nginx':>8} |")
    print(f"|{'-' * 19}|{'-' * 8}|{'-' * 10}|{'-' * 8}|{'-' * 8}|{'-' * 12}|{'-' * 8}|"
          f"{'-' * 16}|{'-' * 10}|")
    for scheme in schemes:
        for proxy in proxies:
            r = med[(proxy, scheme)]
            vs_hand = _paired(results, proxy, "handwritten", scheme)
            vs_nginx = _paired(results, proxy, "nginx", scheme)
            print(f"| {proxy:<17} | {scheme:<6} | {r.rps:>8,.0f} | {r.p50_ms:>6.2f} | "
                  f"{r.p99_ms:>6.2f} | {r.cpu_us:>10.1f} | {r.errors:>6} | "
                  f"{vs_hand:>13.2f}x | {vs_nginx:>7.2f}x |")
    errors = {f"{p}_{s}": med[(p, s)].errors for s in schemes for p in proxies
              if med[(p, s)].errors}
    upstream_peak = max(r.upstream_cpu for runs in results.values() for r in runs)
    ratios = {s: _paired(results, "envoykit", "handwritten", s) for s in schemes}
    met = all(r >= 1.0 for r in ratios.values())
    print()
    print(f"target: envoykit >= 1.0x handwritten on {', '.join(schemes)}: "
          + ", ".join(f"{s} {r:.2f}x" for s, r in ratios.items())
          + (" - met" if met else " - NOT met"))
    print(f"upstream (1 nginx worker) peak CPU while measuring: {upstream_peak:.2f} of a core "
          f"(saturated at >= {UPSTREAM_SATURATED})")
    failed = []
    if errors:
        failed.append(f"errors during the load: {errors}")
    if upstream_peak >= UPSTREAM_SATURATED:
        failed.append(f"the upstream was saturated ({upstream_peak:.2f} of a core)")
    for why in failed:
        print(f"CANNOT MEASURE: {why}", file=sys.stderr)
    figures: dict[str, object] = {f"{p}_{s}_rps": round(med[(p, s)].rps)
                                  for s in schemes for p in proxies}
    figures.update({f"envoykit_vs_handwritten_{s}": round(r, 3) for s, r in ratios.items()})
    figures.update({"errors": errors, "upstream_cpu_peak": round(upstream_peak, 2),
                    "target_met": met and not failed})
    print(json.dumps(figures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
