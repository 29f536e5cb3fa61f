#!/usr/bin/python3
"""ml_train's "progress" option, as a user of the sqlite3 shell sees it: a
run of a few seconds writes "ml_train: fitting: N rows read" to stderr, the
first line after a second and then at most one a second; without the option,
or with it false, nothing."""
import re
import subprocess
import threading
import time

from sqlml_test import Checker, args

a = args()
c = Checker("progress")


def source(n):
    # A query as the source: rows made on the fly, so no table to fill first.
    return ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < %d) "
            "SELECT i %% 1000 AS x, (i * 7) %% 13 AS z, i %% 1000 * 2.0 + (i %% 7) AS y FROM r" % n)


def run(n, options):
    """Trains on n rows in the shell; returns (seconds, stdout, [(seconds, stderr line)])."""
    sql = (".load %s\nSELECT json_extract(ml_train('p', '%s', 'y', '[\"x\",\"z\"]', '%s'), "
           "'$.n_train') > 0;\n" % (a.ext, source(n).replace("'", "''"), options))
    start = time.monotonic()
    p = subprocess.Popen([a.sqlite3, "-batch", ":memory:"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []

    def read_stderr():
        for line in p.stderr:
            lines.append((time.monotonic() - start, line.rstrip("\n")))

    # This thread alone reads stderr (communicate() would take lines from it).
    reader = threading.Thread(target=read_stderr)
    reader.start()
    p.stdin.write(sql)
    p.stdin.close()
    out = p.stdout.read()
    p.wait()
    reader.join()
    return time.monotonic() - start, out, lines


# Size the run to take about 3 seconds on this machine and build (sanitizers
# make it slower), from a short run without the option.
n0 = 500000
t0, out, lines = run(n0, "{}")
c.check(out.strip() == "1" and lines == [], "a short run trains: %r %r" % (out, lines))
n = max(n0, min(int(n0 * 3.0 / max(t0, 1e-3)), 100000000))

elapsed, out, lines = run(n, '{"progress":true}')
# A machine busy during the sizing run makes the sized run short: grow it.
for _ in range(3):
    if elapsed > 1.5:
        break
    n = min(2 * n, 100000000)
    elapsed, out, lines = run(n, '{"progress":true}')
c.check(out.strip() == "1", "the run with progress trains: %r" % out)
c.check(elapsed > 1.5, "the run is long enough to need a report: %.2f s for %d rows" % (elapsed, n))
pattern = re.compile(r"ml_train: fitting: (\d+) rows read$")
c.check(lines and all(pattern.match(l) for _, l in lines),
        "stderr has progress lines only: %r" % lines[:3])
counts = [int(pattern.match(l).group(1)) for _, l in lines if pattern.match(l)]
c.check(counts == sorted(set(counts)) and all(0 < k <= n for k in counts),
        "the counts grow and stay within the rows: %r" % counts)
times = [t for t, _ in lines]
c.check(not times or times[0] >= 1.0, "the first line comes after a second: %r" % times)
gaps = [b - t for t, b in zip(times, times[1:])]
# The reports leave a second apart by a monotonic clock; a busy machine can
# delay a line's arrival a little (the old code's gaps were 0.5 s and less).
c.check(all(g >= 0.8 for g in gaps), "lines at most once a second: gaps %r" % gaps)
c.check(len(lines) <= elapsed, "no more lines than seconds: %d in %.2f s" % (len(lines), elapsed))
print("progress: %d rows in %.2f s, %d lines at %s s" % (n, elapsed, len(lines),
      ", ".join("%.2f" % t for t in times)))

for options in ("{}", '{"progress":false}'):
    elapsed, out, lines = run(n, options)
    c.check(out.strip() == "1" and lines == [],
            "options %s: no progress in %.2f s: %r" % (options, elapsed, lines[:3]))
c.done()
