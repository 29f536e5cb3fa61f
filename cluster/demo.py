#!/usr/bin/python3
"""make cluster-demo: 3 sqlml nodes on 127.0.0.1 (dqlite), train on the
leader, kill it, predict on the new leader.  Stops every node it started.

    cluster/demo.py --node build/cluster/sqlml-node
"""
import argparse
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sqlml_cluster import Cluster  # noqa: E402

HOUSES = """INSERT INTO houses(price, sqft, rooms, city) VALUES
  (300, 1400, 3, 'a'), (410, 2000, 4, 'a'), (250, 1100, 2, 'b'), (520, 2600, 5, 'b'),
  (330, 1500, 3, 'a'), (480, 2300, 4, 'b'), (365, 1750, 3, 'b'), (290, 1300, 2, 'a')"""
PREDICT = ("SELECT printf('house %d: %.0f sqft, %.0f rooms: predicted price %.2f', id, sqft, rooms,"
           " ml_predict('house_price', sqft, rooms)) FROM houses WHERE city = 'b' ORDER BY id")


def show(c, statement):
    for (line,) in c.rows(statement):
        print("  " + line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", required=True)
    a = ap.parse_args()
    # A SIGTERM unwinds like an exception, so the nodes are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory() as tmp, Cluster(a.node, tmp, latency="20ms") as c:
        c.start(3)
        print("3 nodes: %s" % ", ".join(c.addresses))
        leader = c.leader()
        print("leader: %s; every client statement goes to it, whichever node the client names"
              % leader["address"])
        for line in c.sql("CREATE TABLE houses(id INTEGER PRIMARY KEY, price REAL, sqft REAL, "
                          "rooms REAL, city TEXT)", HOUSES,
                          "BEGIN",
                          "SELECT ml_train('house_price', 'houses', 'price', '[\"sqft\",\"rooms\"]', "
                          "'{\"test_size\":0.25,\"seed\":42}')",
                          "COMMIT"):
            if "error" in line:
                sys.exit("cluster-demo: %s" % line["error"])
        show(c, "SELECT printf('trained %s version %d on %d rows; test r2 %.4f', name, version, "
                "n_train, r2_test) FROM ml_models")
        show(c, PREDICT)
        t0 = time.monotonic()
        c.kill(c.index_of(leader["address"]))
        print("killed the leader %s (SIGKILL)" % leader["address"])
        while True:
            new = c.leader(timeout=3)
            if new and new["address"] != leader["address"]:
                break
            if time.monotonic() - t0 > 30:
                sys.exit("cluster-demo: no new leader after 30 s")
            time.sleep(0.05)
        print("new leader: %s, after %.2f s; predictions from it:" % (
            new["address"], time.monotonic() - t0))
        show(c, PREDICT)
        print("  (same as before the kill: the model's bytes were replicated)")


if __name__ == "__main__":
    main()
