#!/usr/bin/python3
"""Throwaway PostgreSQL clusters for the tests (shared/DECISIONS.md, "CI
budget"): Debian's server binaries, initdb into a directory as an
unprivileged user (the `postgres` system user when run as root, since
initdb refuses root), durability off (fsync, full_page_writes: only a
crash of the machine loses data, and the cluster is thrown away anyway;
synchronous_commit too, except with --durable-commits: a cluster that a
test stops with -m immediate must keep every commit it acknowledged, as
a real server does), no TCP (listen_addresses = ''): a unix socket in
the directory on a port of its own. --fsync turns fsync and
full_page_writes back on: with --durable-commits, a server as durable as
a real one, for measurements (bench/scaleout.py) where fsync=off would
flatter PostgreSQL. Nothing here touches a system service or
/var/run/postgresql.

    cluster.py start DIR [--port N] [--durable-commits] [--fsync]
                         [--migrate LATCHKEY]
    cluster.py stop DIR

start replaces whatever DIR held (a cluster left by an aborted run is
stopped first), creates the empty database lk_template, optionally
migrated by `LATCHKEY --db URI migrate` (the hook for when the
PostgreSQL backend exists), and writes its URI to DIR/uri:
    postgresql:///lk_template?host=DIR&port=PORT&user=postgres
Tests clone lk_template (CREATE DATABASE ... TEMPLATE lk_template, see
lk_harness.py) and never connect to it: PostgreSQL refuses to copy a
database somebody is connected to. stop stops the cluster (immediate:
nothing in it is kept) and removes DIR.

ctest runs start and stop as the setup and cleanup of the fixture `pg`
(tests/CMakeLists.txt); lk_harness.private_cluster() uses the same
functions for a test that restarts PostgreSQL. Standard library only.
"""
import glob
import os
import pwd
import random
import shutil
import subprocess
import sys
import urllib.parse

# Unix socket paths are limited to 107 bytes (sun_path).
SOCKET_PATH_MAX = 100
TEMPLATE = "lk_template"


def bindir():
    """Directory of Debian's server binaries (initdb, pg_ctl, psql):
    $LK_PG_BINDIR, else the newest /usr/lib/postgresql/*/bin."""
    env = os.environ.get("LK_PG_BINDIR")
    if env:
        return env
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries in "
                           "/usr/lib/postgresql/*/bin (Debian's postgresql; "
                           "scripts/install-test-deps.sh)")
    return os.path.dirname(found[-1])


def _owner():
    """The user the server runs as: postgres when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("initdb refuses root and there is no postgres "
                           "user (Debian's postgresql creates it)")


def _run(argv, check=True):
    """Runs a server binary as the cluster's owner; output captured."""
    pw = _owner()
    kw = {}
    if pw is not None:
        kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    p = subprocess.run(argv, capture_output=True, text=True, cwd="/",
                       timeout=120, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (
            os.path.basename(argv[0]), p.returncode, p.stdout, p.stderr))
    return p


def uri(directory, port, dbname=TEMPLATE):
    """The libpq URI of dbname in the cluster at directory."""
    return "postgresql:///%s?%s" % (dbname, urllib.parse.urlencode(
        {"host": directory, "port": port, "user": "postgres"}, safe="/"))


def psql(target, sql, *args):
    """Runs sql (on stdin) with psql against a URI; returns stdout."""
    p = subprocess.run([os.path.join(bindir(), "psql"), "-X", "-q", "-A",
                        "-t", "-v", "ON_ERROR_STOP=1", "-d", target, *args],
                       input=sql, capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise RuntimeError("psql: %s" % p.stderr.strip())
    return p.stdout


def running(directory):
    return os.path.exists(os.path.join(directory, "data", "postmaster.pid"))


def pg_ctl(directory, action, *args):
    """pg_ctl ACTION on the cluster at directory (start, stop, restart)."""
    return _run([os.path.join(bindir(), "pg_ctl"), "-D",
                 os.path.join(directory, "data"), "-l",
                 os.path.join(directory, "log"), "-w", action, *args])


def stop(directory):
    """Stops the cluster at directory, if one runs, and removes it."""
    directory = os.path.abspath(directory)
    if running(directory):
        pg_ctl(directory, "stop", "-m", "immediate")
    shutil.rmtree(directory, ignore_errors=True)


def start(directory, port=None, migrate=None, durable_commits=False,
          fsync=False):
    """Makes and starts a cluster at directory; returns the URI of its
    lk_template database (also written to directory/uri)."""
    directory = os.path.abspath(directory)
    stop(directory)
    port = int(port) if port else random.randint(55000, 55999)
    sock = os.path.join(directory, ".s.PGSQL.%d" % port)
    if len(sock) > SOCKET_PATH_MAX:
        raise RuntimeError("%s: too long for a unix socket path; use a "
                           "shorter directory" % sock)
    os.makedirs(directory)
    pw = _owner()
    if pw is not None:
        os.chown(directory, pw.pw_uid, pw.pw_gid)
        if _run(["/usr/bin/test", "-w", directory], check=False).returncode:
            raise RuntimeError("the postgres user cannot reach %s: make its "
                               "parent directories searchable (chmod o+x) "
                               "or build elsewhere" % directory)
    data = os.path.join(directory, "data")
    _run([os.path.join(bindir(), "initdb"), "-D", data, "-A", "trust",
          "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
    with open(os.path.join(data, "postgresql.conf"), "a") as f:
        f.write("\n# tests/pg/cluster.py: a throwaway cluster\n"
                "listen_addresses = ''\n"
                "unix_socket_directories = '%s'\n"
                "port = %d\n"
                "fsync = %s\n"
                "full_page_writes = %s\n"
                "synchronous_commit = %s\n"
                "max_connections = 300\n"
                % (directory, port, "on" if fsync else "off",
                   "on" if fsync else "off",
                   "on" if durable_commits else "off"))
    pg_ctl(directory, "start")
    psql(uri(directory, port, "postgres"),
         "CREATE DATABASE %s;\n" % TEMPLATE)
    target = uri(directory, port)
    if migrate:
        p = subprocess.run([migrate, "--db", target, "migrate"],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError("migrating %s failed: %s" % (TEMPLATE,
                                                            p.stderr))
    with open(os.path.join(directory, "uri"), "w") as f:
        f.write(target + "\n")
    return target


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="cluster.py")
    ap.add_argument("action", choices=("start", "stop"))
    ap.add_argument("dir")
    ap.add_argument("--port", type=int)
    ap.add_argument("--migrate", metavar="LATCHKEY")
    ap.add_argument("--durable-commits", action="store_true")
    ap.add_argument("--fsync", action="store_true")
    a = ap.parse_args(argv)
    try:
        if a.action == "start":
            print(start(a.dir, a.port, a.migrate, a.durable_commits,
                        a.fsync))
        else:
            stop(a.dir)
    except RuntimeError as e:
        print("cluster.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
