#!/usr/bin/python3
"""Runs SQL test files through the real sqlite3 shell with the extension loaded.

A file is plain SQL run by `sqlite3` in one go (in an in-memory database
unless it opens one).  Two kinds of checks:

  SELECT 'fit_01', <condition>;       -- every output row must end in |1
  -- error: ml_fit(): no rows to fit
  SELECT ml_fit(y, x) FROM empty;     -- must fail with exactly this message

Any error not announced by an `-- error:` line fails the file, and so does
an announced one that does not happen.  The shell names the line a failing
statement starts on; that is how errors are matched to their announcements.
Files run with the test folder as working directory, so they can read
fixtures by relative path; $EXT in a file is replaced by the extension path.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

ERR = re.compile(r"^(?:Runtime|Parse) error near line (\d+): (.*)$")


def expected_errors(lines):
    want, pending = {}, []
    for i, line in enumerate(lines, 1):
        s = line.strip()
        m = re.match(r"--\s*error:\s?(.*)$", s)
        if m:
            pending.append(m.group(1))
        elif s and not s.startswith("--") and pending:
            want[i] = pending.pop(0)
            if pending:
                raise SystemExit("two -- error: lines before line %d" % i)
    return want


def run(path, sqlite3, ext):
    text = open(path).read().replace("$EXT", ext)
    want = expected_errors(text.splitlines())
    # sqlite3 may be a command with arguments: `make valgrind` runs the shell under valgrind.
    p = subprocess.run(shlex.split(sqlite3) + ["-batch", "-cmd", ".load " + ext, ":memory:"], input=text,
                       capture_output=True, text=True, cwd=os.path.dirname(path) or ".",
                       timeout=600)
    problems, got, nchecks = [], {}, 0
    for line in p.stderr.splitlines():
        m = ERR.match(line)
        if m:
            got.setdefault(int(m.group(1)), []).append(m.group(2))
        elif line.startswith("  ") and got:
            continue  # the shell quotes the statement after a parse error
        else:
            problems.append("stderr: " + line)
    for ln, msg in sorted(want.items()):
        if ln not in got:
            problems.append("line %d: expected error %r, got none" % (ln, msg))
        elif msg not in got[ln]:
            problems.append("line %d: expected error %r, got %r" % (ln, msg, got[ln][0]))
    for ln, msgs in sorted(got.items()):
        if ln not in want:
            problems.append("line %d: unexpected error %r" % (ln, msgs[0]))
    for line in p.stdout.splitlines():
        nchecks += 1
        if not line.endswith("|1"):
            problems.append("check failed: " + line)
    return problems, nchecks, len(want)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sqlite3", default="sqlite3")
    ap.add_argument("--ext", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    ext = os.path.abspath(args.ext)
    failed = 0
    for f in args.files:
        problems, nchecks, nerrs = run(os.path.abspath(f), args.sqlite3, ext)
        status = "ok" if not problems else "FAILED"
        print("sql: %-32s %3d checks, %3d errors  %s" % (os.path.basename(f), nchecks, nerrs, status))
        for pr in problems:
            print("    " + pr)
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
