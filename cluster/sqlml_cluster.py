"""A cluster of sqlml-node processes on 127.0.0.1, for the demo and the tests.

    with Cluster(node="build/cluster/sqlml-node", workdir=tmp) as c:
        c.start(3)
        c.sql("BEGIN", "SELECT ml_train('m', 't', 'y')", "COMMIT")

Every node listens on a loopback port picked free at start; each node keeps
its data in workdir/node<i>.  Leaving the `with` stops every node this object
started (SIGTERM, then SIGKILL after a grace period), whatever happened.
"""
import json
import os
import select
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, node, workdir, latency=None, verbose=False):
        self.node = node
        self.workdir = workdir
        self.latency = latency
        self.verbose = verbose
        self.addresses = []  # by node index
        self.procs = {}  # node index -> Popen, while running
        self.ids = {}  # node index -> dqlite id

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()

    # ---- nodes ----

    def start(self, n=3, timeout=30):
        """Starts n nodes: the first bootstraps, the others join it."""
        self.addresses = ["127.0.0.1:%d" % free_port() for _ in range(n)]
        self.start_node(0, timeout=timeout)
        for i in range(1, n):
            self.start_node(i, timeout=timeout)

    def start_node(self, i, timeout=30):
        """Starts (or restarts, from its directory) node i; waits for "ready"."""
        cmd = [self.node, "serve", "-dir", os.path.join(self.workdir, "node%d" % i),
               "-address", self.addresses[i]]
        others = [a for j, a in enumerate(self.addresses) if j != i and j in self.procs]
        if others:
            cmd += ["-join", ",".join(others)]
        if self.latency:
            cmd += ["-latency", self.latency]
        if self.verbose:
            cmd += ["-v"]
        log = open(os.path.join(self.workdir, "node%d.log" % i), "ab")
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        log.close()
        self.procs[i] = p
        line = self._readline(p, timeout)
        if not line.startswith("ready id="):
            raise RuntimeError("node %d did not start: %r (see %s)" % (
                i, line, os.path.join(self.workdir, "node%d.log" % i)))
        self.ids[i] = int(line.split()[1].split("=")[1])
        return self.ids[i]

    @staticmethod
    def _readline(p, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or p.poll() is not None and not select.select([p.stdout], [], [], 0)[0]:
                break
            if select.select([p.stdout], [], [], min(left, 0.2))[0]:
                b = os.read(p.stdout.fileno(), 1)
                if not b:
                    break
                buf += b
        return buf.decode(errors="replace").strip()

    def kill(self, i, sig=signal.SIGKILL):
        p = self.procs.pop(i)
        p.send_signal(sig)
        p.wait(timeout=15)
        p.stdout.close()

    def stop_all(self, grace=5):
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + grace
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.stdout.close()
        self.procs.clear()

    def index_of(self, address):
        return self.addresses.index(address)

    def running(self):
        return [self.addresses[i] for i in sorted(self.procs)]

    # ---- clients ----

    def _run(self, args, timeout):
        return subprocess.run([self.node] + args, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def sql(self, *statements, via=None, timeout=20):
        """Runs the statements in order on one connection to the leader, found
        through `via` (addresses; the running nodes if None).  One dict per
        statement: {"rows": [...]}, {"changes": n} or {"error": ..., "code": n}."""
        via = via or self.running()
        r = self._run(["sql", "-cluster", ",".join(via), "-timeout", "%ds" % (timeout - 2)]
                      + list(statements), timeout)
        lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
        if len(lines) != len(statements):
            raise RuntimeError("sqlml-node sql: %d answers to %d statements: %s" % (
                len(lines), len(statements), r.stderr.strip()))
        return lines

    def rows(self, statement, tries=3, **kw):
        """The rows of one read-only query; raises on an error.  A query that
        did not reach a leader (code -1: the connection, not SQL, failed, as
        when an election runs) is tried again, up to `tries` times."""
        for attempt in range(tries):
            try:
                (line,) = self.sql(statement, **kw)
            except RuntimeError:
                if attempt == tries - 1:
                    raise
                continue
            if "error" not in line:
                return line["rows"]
            if line.get("code") != -1 or attempt == tries - 1:
                raise RuntimeError("%s: %s" % (statement, line["error"]))
            time.sleep(0.2)

    def leader(self, via=None, timeout=10):
        """{"id": ..., "address": ...} of the leader, or None if none answers."""
        r = self._run(["leader", "-cluster", ",".join(via or self.running()),
                       "-timeout", "%ds" % timeout], timeout + 5)
        if r.returncode != 0:
            return None
        info = json.loads(r.stdout)
        return info if info.get("address") else None

    def transfer(self, node_id, timeout=10):
        r = self._run(["transfer", "-cluster", ",".join(self.running()), "-to", str(node_id),
                       "-timeout", "%ds" % timeout], timeout + 5)
        if r.returncode != 0:
            raise RuntimeError("transfer to %d: %s" % (node_id, r.stderr.strip()))
