#!/usr/bin/env python3
"""Measures imgapid against baselines in the same run on the same machine: nginx serving
the same bytes as static files, and one core computing an upload's digests in-process.

Every figure is printed as a table row and appended as a JSON line to the results file.
Ratios (imgapid / baseline, higher is better) are what to compare between versions and
machines; absolute numbers vary. Run through scripts/bench, which installs and builds.
"""
import argparse
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

OWNER = "00000000-0000-0000-0000-000000000000"
IMGAPID_PORT, NGINX_PORT, CACHE_PORT = 18480, 18481, 18482
REPLICA_PORTS = (18483, 18484)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def fail(message):
    sys.exit(f"bench: {message}")


class Server:
    """imgapid on its own storage, started and stopped by the bench."""

    def __init__(self, binary, storage, log, config=None, validate_streams=False, port=IMGAPID_PORT):
        self.binary, self.storage, self.log, self.config = binary, storage, log, config
        self.validate_streams, self.port = validate_streams, port
        self.process = None

    def start(self):
        """Starts it; returns the seconds until it answered /ping."""
        args = [self.binary, "serve", "--storage", self.storage, "--port", str(self.port), "--auth", "none"]
        if not self.validate_streams:
            # The catalog and plain transfers use placeholder bytes, not ZFS streams.
            args.append("--no-validate-streams")
        if self.config:
            args += ["--config", self.config]
        started = time.monotonic()
        self.process = subprocess.Popen(args, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = started + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                fail(f"imgapid exited at start; see {self.log}")
            try:
                if status("/ping", self.port) == 200:
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.02)
        fail("imgapid did not answer /ping within 60 s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def pids(self):
        return [self.process.pid]


class Nginx:
    """nginx-light serving `root` on NGINX_PORT, with the large file at /file."""

    def __init__(self, work, large):
        self.prefix = os.path.join(work, "nginx")
        self.root = os.path.join(self.prefix, "www")
        os.makedirs(os.path.join(self.root, "images"), exist_ok=True)
        os.makedirs(os.path.join(self.prefix, "logs"), exist_ok=True)
        with open(os.path.join(self.prefix, "nginx.conf"), "w") as conf:
            conf.write(f"""daemon on; worker_processes 2; pid {self.prefix}/nginx.pid; error_log {self.prefix}/logs/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000; default_type application/json;
  server {{ listen 127.0.0.1:{NGINX_PORT}; root {self.root};
    location /file {{ alias {large}; default_type application/octet-stream; }} }} }}
""")

    def publish(self, path, body):
        """Serves `body` at `path` (query strings are ignored by nginx, so name the file by it)."""
        target = os.path.join(self.root, path.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as out:
            out.write(body)

    def start(self):
        subprocess.run(["nginx", "-p", self.prefix, "-c", "nginx.conf"], check=True)

    def stop(self):
        subprocess.run(["nginx", "-p", self.prefix, "-c", "nginx.conf", "-s", "stop"], stderr=subprocess.DEVNULL)

    @property
    def pids(self):
        master = int(open(os.path.join(self.prefix, "nginx.pid")).read())
        children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        return [master] + [int(p) for p in children]


def request(method, path, body=b"", headers=None, port=IMGAPID_PORT, connection=None):
    c = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    if connection is None:
        c.close()
    return r.status, data


def status(path, port=IMGAPID_PORT):
    return request("GET", path, port=port)[0]


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / CLOCK_TICKS


def memory_kib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def seconds_of(text):
    """wrk's latency text (`812.00us`, `3.10ms`, `1.02s`, `1.50m`) in seconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        fail(f"wrk printed a latency that is not understood: {text!r}")
    number, unit = match.groups()
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]


def wrk(url, connections, duration, pids):
    """Requests/s, MiB/s received, p50 and p99 latency (s), CPU seconds per request of `pids`."""
    before = cpu_seconds(pids)
    out = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--timeout", "60s",
                          "--latency", url], capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(pids) - before
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if "Non-2xx" in out or (errors and any(int(n) for n in errors.groups())):
        fail(f"{url} answered errors:\n{out}")
    number, unit = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out).groups()
    mib = float(number) * {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[unit] / (1 << 20)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "mib_per_second": mib,
            "p50": seconds_of(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
            "p99": seconds_of(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
            "cpu_per_request": used / max(total, 1)}


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.run = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                             text=True).stdout.strip(),
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.release()}"}

    def record(self, workload, unit, ours, baseline_name, baseline):
        row = {"workload": workload, "unit": unit, "imgapid": ours, "baseline": baseline_name,
               "baseline_value": baseline}
        ratio = ours["rate"] / baseline["rate"] if baseline else None
        row["ratio"] = ratio
        self.rows.append(row)
        with open(self.args.results, "a") as out:
            out.write(json.dumps({**self.run, **row}) + "\n")
        print(self.format(row), flush=True)

    @staticmethod
    def format(row):
        ours, base = row["imgapid"], row["baseline_value"]
        def latency(r):
            return f"{r['p50'] * 1000:.1f}/{r['p99'] * 1000:.1f}" if r and "p50" in r else "-"
        def cpu(r):
            return f"{r['cpu_per_request'] * 1e6:.0f}" if r and "cpu_per_request" in r else "-"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        base_rate = f"{base['rate']:.0f}" if base else "-"
        return (f"| {row['workload']} | {ours['rate']:.0f} {row['unit']} | {base_rate} ({row['baseline']}) | {ratio} "
                f"| {latency(ours)} | {latency(base)} | {cpu(ours)} / {cpu(base)} |")


def seed(count, threads, file_bytes, start=1, ports=(IMGAPID_PORT,)):
    """Publishes `count` active images (create by import, file, activate) from `threads`
    clients, spread over `ports`; returns images per second. Each image's file is
    `file_bytes` with its number."""
    errors = []

    def work(first):
        c = http.client.HTTPConnection("127.0.0.1", ports[first % len(ports)], timeout=120)
        try:
            for i in range(first, start + count, threads):
                uuid = "%08x-0000-4000-8000-%012x" % (i, i)
                manifest = {"v": 2, "uuid": uuid, "owner": OWNER, "name": "bench-%d" % (i % 50),
                            "version": "1.%d" % i, "type": "zone-dataset", "os": "smartos", "public": True,
                            "published_at": "2020-01-%02dT00:00:00Z" % (i % 28 + 1),
                            "description": "benchmark image %d" % i,
                            "requirements": {"min_platform": {"7.0": "20141030T081701Z"}}, "tags": {"role": "os"}}
                body = struct.pack("<Q", i) + file_bytes[8:]
                for method, path, data, kind in (
                        ("POST", f"/images/{uuid}?action=import", json.dumps(manifest).encode(), "application/json"),
                        ("PUT", f"/images/{uuid}/file?compression=gzip", body, "application/octet-stream"),
                        ("POST", f"/images/{uuid}?action=activate", b"", "application/json")):
                    code, text = request(method, path, data, {"Content-Type": kind}, connection=c)
                    if code >= 300:
                        raise RuntimeError(f"{method} {path}: {code} {text[:200]!r}")
        except Exception as error:  # reported after the join
            errors.append(error)

    started = time.monotonic()
    workers = [threading.Thread(target=work, args=(start + t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        fail(f"publishing failed: {errors[0]}")
    return count / (time.monotonic() - started)


def digest_rate(path):
    """MiB/s at which one core computes SHA-1, SHA-256 and MD5 over the file in one pass."""
    hashes = [hashlib.sha1(), hashlib.sha256(), hashlib.md5()]
    size = 0
    started = time.monotonic()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            size += len(chunk)
            for h in hashes:
                h.update(chunk)
    return size / (1 << 20) / (time.monotonic() - started)


def median(values):
    return sorted(values)[len(values) // 2]


def upload_seconds(path, uuid, kind="zone-dataset", pids=(), limit=None):
    """Uploads `path` as a new image of type `kind` (sent at most `limit` bytes a second, as
    curl's --limit-rate takes it); returns the seconds it took and the CPU seconds `pids`
    spent meanwhile."""
    request("POST", f"/images/{uuid}?action=import",
            json.dumps({"v": 2, "uuid": uuid, "owner": OWNER, "name": "large-" + kind, "version": "1",
                        "type": kind, "os": "smartos", "public": True}).encode(),
            {"Content-Type": "application/json"})
    cpu = cpu_seconds(pids)
    started = time.monotonic()
    out = subprocess.run(["curl", "-sf", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect:", "-T", path]
                         + (["--limit-rate", limit] if limit else [])
                         + [f"http://127.0.0.1:{IMGAPID_PORT}/images/{uuid}/file?compression=gzip"],
                         capture_output=True, text=True)
    if out.stdout != "200":
        fail(f"upload of {path} answered {out.stdout or out.returncode}")
    return time.monotonic() - started, cpu_seconds(pids) - cpu


def write_stream(path, mib):
    """A synthetic ZFS send stream: BEGIN, 128 KiB WRITE records of half-compressible data, END."""
    def record(kind, body):
        return struct.pack("<II", kind, 0) + body + bytes(312 - 8 - len(body))
    with open(path, "wb") as out:
        out.write(record(0, struct.pack("<QQQIIQQ", 0x2F5BACBAC, 1, 0, 2, 0, 42, 0) + b"bench/stream@final"))
        block = 128 * 1024
        for index in range(mib * 8):
            out.write(record(3, struct.pack("<QIIQQQ", 1, 19, 0, index * block, block, 42)))
            out.write(os.urandom(block // 2) + bytes(block // 2))
        out.write(record(5, bytes(32) + struct.pack("<Q", 42)))


def pull_through(work, binary, bench, size, uuid, duration, upstream_pids):
    """An empty imgapid whose only upstream is the bench's: its merged listing and GetImage
    of an upstream image, against the upstream imgapid answering the same itself."""
    config = os.path.join(work, "pull-through.json")
    with open(config, "w") as out:
        json.dump({"upstreams": [{"url": f"http://127.0.0.1:{IMGAPID_PORT}", "ttl": 3600}]}, out)
    cache = Server(binary, os.path.join(work, "cache-storage"), os.path.join(work, "cache.log"), config=config,
                   port=CACHE_PORT)
    cache.start()
    try:
        for name, path in ((f"pull-through GET /images ({size} upstream images)", "/images"),
                           (f"pull-through GET /images/:uuid ({size} upstream images)", f"/images/{uuid}")):
            code, _ = request("GET", path, port=CACHE_PORT)
            if code != 200:
                fail(f"the pull-through server answered {code} to {path}")
            ours = wrk(f"http://127.0.0.1:{CACHE_PORT}{path}", 64, duration, cache.pids)
            theirs = wrk(f"http://127.0.0.1:{IMGAPID_PORT}{path}", 64, duration, upstream_pids)
            bench.record(name, "req/s", ours, "imgapid serving them itself", theirs)
    finally:
        cache.stop()


def exported(command):
    """Runs a script that prints `export NAME=VALUE` lines; puts them in this environment."""
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for name, value in re.findall(r"^export (\w+)=(.*)$", out, re.M):
        os.environ[name] = value


def replicas(work, binary, bench, size, duration):
    """Two imgapid replicas on one PostgreSQL catalog and one S3 peer (scripts/postgres,
    scripts/s3-peer) against one: publish and listing rates."""
    exported(["scripts/postgres"])
    exported(["scripts/s3-peer"])
    servers = []
    try:
        database = "bench_%d" % os.getpid()
        subprocess.run(["psql", "-X", "-q", os.environ["IMGAPID_TEST_POSTGRES_URL"], "-c", f"CREATE DATABASE {database}"],
                       check=True)
        catalog = re.sub(r"/postgres\?", f"/{database}?", os.environ["IMGAPID_TEST_POSTGRES_URL"])
        credentials = os.path.join(work, "aws-credentials")
        with open(credentials, "w") as out:
            out.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                      % (os.environ["IMGAPID_TEST_S3_KEY_ID"], os.environ["IMGAPID_TEST_S3_SECRET"]))
        config = os.path.join(work, "replica.json")
        with open(config, "w") as out:
            json.dump({"catalog": catalog, "blobsCredentialsFile": credentials,
                       "blobs": f"s3://imgapid-test/bench-{os.getpid()}?endpoint={os.environ['IMGAPID_TEST_S3_ENDPOINT']}"}, out)
        servers += [Server(binary, os.path.join(work, f"replica-{n}"), os.path.join(work, f"replica-{n}.log"), config, port=port)
                   for n, port in enumerate(REPLICA_PORTS)]
        servers[0].start()
        one = seed(size // 2, 8, os.urandom(4096), start=20_000_000, ports=REPLICA_PORTS[:1])
        servers[1].start()
        two = seed(size // 2, 8, os.urandom(4096), start=30_000_000, ports=REPLICA_PORTS)
        bench.record(f"publish, 8 clients, 4 KiB files, two replicas (to {size} images)", "images/s", {"rate": two},
                     "one replica", {"rate": one})
        for port in REPLICA_PORTS:  # each replica's listing cache warm
            if request("GET", "/images", port=port)[0] != 200:
                fail(f"replica on {port} did not list")
        single = wrk(f"http://127.0.0.1:{REPLICA_PORTS[0]}/images", 64, duration, servers[0].pids)
        results = [None, None]
        def load(n):
            results[n] = wrk(f"http://127.0.0.1:{REPLICA_PORTS[n]}/images", 32, duration, servers[n].pids)
        threads = [threading.Thread(target=load, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        both = {"rate": results[0]["rate"] + results[1]["rate"], "p50": max(r["p50"] for r in results),
                "p99": max(r["p99"] for r in results)}
        bench.record(f"GET /images ({size} images), two replicas", "req/s", both, "one replica", single)

        # What sharing costs one server: one replica against the embedded default (SQLite, a disk).
        embedded = Server(binary, os.path.join(work, "embedded"), os.path.join(work, "embedded.log"))
        servers.append(embedded)
        embedded.start()
        local = seed(size // 2, 8, os.urandom(4096), start=20_000_000)
        bench.record(f"publish, 8 clients, 4 KiB files, one replica (to {size // 2} images)", "images/s", {"rate": one},
                     "embedded SQLite and disk", {"rate": local})
        seed(size // 2, 8, os.urandom(4096), start=30_000_000)
        request("GET", "/images")
        alone = wrk(f"http://127.0.0.1:{IMGAPID_PORT}/images", 64, duration, embedded.pids)
        bench.record(f"GET /images ({size} images), one replica", "req/s", single, "embedded SQLite and disk", alone)
        embedded.stop()

        # Where a replica's publish time goes: the catalog on PostgreSQL, files on disk.
        catalog_only = os.path.join(work, "catalog-only.json")
        with open(catalog_only, "w") as out:
            json.dump({"catalog": re.sub(r"/bench_\d+\?", f"/{database}_pg?", catalog)}, out)
        subprocess.run(["psql", "-X", "-q", os.environ["IMGAPID_TEST_POSTGRES_URL"], "-c", f"CREATE DATABASE {database}_pg"],
                       check=True)
        postgres_only = Server(binary, os.path.join(work, "catalog-only"), os.path.join(work, "catalog-only.log"), catalog_only)
        servers.append(postgres_only)
        postgres_only.start()
        rate = seed(size // 2, 8, os.urandom(4096), start=40_000_000)
        bench.record(f"publish, 8 clients, 4 KiB files, catalog on PostgreSQL, files on disk (to {size // 2} images)",
                     "images/s", {"rate": rate}, "embedded SQLite and disk", {"rate": local})
    finally:
        for server in servers:
            server.stop()
        subprocess.run(["scripts/s3-peer", "stop"])
        subprocess.run(["scripts/postgres", "stop"])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a one-minute run: 2,000 images, short loads")
    parser.add_argument("--images", type=int, nargs="+", help="catalog sizes (default 2000 10000)")
    parser.add_argument("--file-mib", type=int, help="size of the large file (default 256; 64 with --quick)")
    parser.add_argument("--results", default=".build/bench/results.jsonl", help="JSON lines appended here")
    parser.add_argument("--binary", default=".build/release/imgapid")
    parser.add_argument("--replicas", action="store_true",
                        help="only two replicas against one, on PostgreSQL and the S3 peer (docs/scale-out.md)")
    args = parser.parse_args()
    sizes = args.images or ([2000] if args.quick else [2000, 10000])
    file_mib = args.file_mib or (64 if args.quick else 256)
    duration = 3 if args.quick else 8
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)

    work = tempfile.mkdtemp(prefix="imgapid-bench-")
    os.chmod(work, 0o755)  # nginx workers run as another user and must read the files
    large = os.path.join(work, "large")
    with open(large, "wb") as out:
        for _ in range(file_mib):
            out.write(os.urandom(1 << 20))
    nginx = Nginx(work, large)
    server = Server(args.binary, os.path.join(work, "storage"), os.path.join(work, "imgapid.log"))
    bench = Bench(args)
    print(f"imgapid {bench.run['commit']} on {bench.run['machine']}; results appended to {args.results}")
    print("| workload | imgapid | baseline | ratio | p50/p99 ms imgapid | p50/p99 ms baseline | CPU µs per request imgapid / baseline |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    if args.replicas:
        try:
            replicas(work, args.binary, bench, sizes[0], duration)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    try:
        server.start()
        nginx.start()
        base = f"http://127.0.0.1:{IMGAPID_PORT}"
        plain = f"http://127.0.0.1:{NGINX_PORT}"
        seeded = 0
        for size in sizes:
            # Publishing the catalog is itself the publish workload: 8 clients, 4 KiB files.
            rate = seed(size - seeded, 8, os.urandom(4096), start=seeded + 1)
            bench.record(f"publish, 8 clients, 4 KiB files (to {size} images)", "images/s",
                         {"rate": rate}, "reference sdc-imgapi 199/s", None)
            seeded = size
            uuid = "%08x-0000-4000-8000-%012x" % (size // 2, size // 2)
            workloads = [
                (f"GET /images ({size} images)", "/images", "/images/index.json"),
                (f"GET /images?name=bench-7 ({size} images)", "/images?name=bench-7", "/filtered.json"),
                (f"GET /images/:uuid ({size} images)", f"/images/{uuid}", f"/images/{uuid}"),
                ("GET /ping", "/ping", "/ping"),
            ]
            for name, path, static in workloads:
                code, body = request("GET", path)
                if code != 200:
                    fail(f"{path} answered {code}")
                nginx.publish(static, body)
                ours = wrk(base + path, 64, duration, server.pids)
                theirs = wrk(plain + static, 64, duration, nginx.pids)
                bench.record(name, "req/s", ours, "nginx", theirs)
            bench.record(f"peak memory ({size} images, after the loads)", "KiB RSS",
                         {"rate": memory_kib(server.process.pid, "VmHWM")}, "-", None)
            if size == sizes[0]:
                pull_through(work, args.binary, bench, size, uuid, duration, server.pids)

        # Start-up on the largest catalog, and the memory of the idle server.
        server.stop()
        startup = server.start()
        bench.record(f"start-up ({sizes[-1]} images) to the first /ping", "ms", {"rate": startup * 1000}, "-", None)
        bench.record(f"idle memory ({sizes[-1]} images)", "KiB RSS",
                     {"rate": memory_kib(server.process.pid, "VmRSS")}, "-", None)

        # Publishes of 4 MiB files, 8 clients.
        count = 64 if args.quick else 256
        rate = seed(count, 8, os.urandom(4 << 20), start=10_000_000)
        bench.record("publish, 8 clients, 4 MiB files", "images/s", {"rate": rate}, "reference sdc-imgapi 199/s", None)

        # Uploads against the rate one core computes the three digests at.
        # One upload is too noisy a figure: the median of three, each a new image.
        upload = median([file_mib / upload_seconds(large, "ffffffff-0000-4000-8000-%012d" % n)[0] for n in (1, 2, 3)])
        bench.record(f"upload {file_mib} MiB (median of 3)", "MiB/s", {"rate": upload}, "sha1+sha256+md5 on one core",
                     {"rate": digest_rate(large)})

        # Downloads, verified while sent, then from a server that does not verify.
        file_url = "/images/ffffffff-0000-4000-8000-000000000001/file"
        for verified in (True, False):
            if not verified:
                server.stop()
                config = os.path.join(work, "unverified.json")
                with open(config, "w") as out:
                    out.write('{"verifyOnSend": false}')
                server = Server(args.binary, server.storage, server.log, config)
                server.start()
            for clients in (1, 16):
                ours = wrk(base + file_url, clients, duration, server.pids)
                theirs = wrk(plain + "/file", clients, duration, nginx.pids)
                for r in (ours, theirs):
                    r["rate"] = r["mib_per_second"]
                label = "verified while sent" if verified else "verifyOnSend off"
                bench.record(f"download {file_mib} MiB, {clients} clients ({label})", "MiB/s", ours, "nginx", theirs)

        # The cost of checking ZFS send streams at upload (validateStreams): the same gzip
        # stream sent as a zone-dataset (checked) and as type other (not checked).
        server.stop()
        server = Server(args.binary, server.storage, server.log, validate_streams=True)
        server.start()
        stream = os.path.join(work, "stream")
        write_stream(stream, file_mib // 2)
        subprocess.run(f"gzip -1 -c {stream} > {stream}.gz", shell=True, check=True)
        stream_mib = os.path.getsize(stream + ".gz") / (1 << 20)
        def summary(samples):
            return {"rate": median([stream_mib / seconds for seconds, _ in samples]),
                    "cpu_per_request": median([cpu for _, cpu in samples])}

        # As fast as the loopback goes (the client, the digests and the check share the
        # cores), then at about a 1 Gbit/s link's rate.
        for limit, label in ((None, ""), ("110M", " at 110 MiB/s")):
            runs = {"zone-dataset": [], "other": []}
            for n in range(5):  # alternating, the median of each
                for kind in runs:
                    uuid = "eeeeeeee-0000-4000-8000-%012d" % (2 * n + (kind == "other") + (100 if limit else 0))
                    runs[kind].append(upload_seconds(stream + ".gz", uuid, kind, server.pids, limit))
            bench.record(f"upload {stream_mib:.0f} MiB gzip ZFS stream{label}, checked (median of 5; CPU per upload)",
                         "MiB/s", summary(runs["zone-dataset"]), "same upload not checked (type other)", summary(runs["other"]))
    finally:
        server.stop()
        nginx.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
