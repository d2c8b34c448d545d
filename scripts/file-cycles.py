#!/usr/bin/env python3
"""file-cycles.py BUILD_DIR [--only FOLDER...]: cycles between the source
files of one folder.

A file depends on another when it calls a function or uses a variable the
other defines (read from the object files with nm, so a prototype in a
shared header counts only when it is used). A cycle inside a folder means
two files cannot be read, or tested, one without the other. Prints each
cycle (a strongly connected set of files) and exits 1 when there is one.
With --only, only the files of the folders named (storage grants) are
checked, so a test can hold folders that are clean to it while others
are still being straightened.
"""
import argparse
import collections
import pathlib
import subprocess
import sys


def symbols(obj):
    out = subprocess.run(["nm", "-P", str(obj)], capture_output=True,
                         text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            used.add(name)
        elif kind in "TDBRC":
            defined.add(name)
    return defined, used


def main():
    ap = argparse.ArgumentParser(description="cycles between the files "
                                 "of one folder")
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--only", nargs="+", metavar="FOLDER",
                    help="check only the files of these folders")
    args = ap.parse_args()
    build = pathlib.Path(args.build)
    only = {f.rstrip("/") for f in args.only} if args.only else None
    objs = {}
    for lib in ("lk_core", "lk_storage", "lk_grants", "lk_server",
                "lk_testdouble", "lk_admin", "lk_admin_api"):
        found = list((build / "CMakeFiles" / (lib + ".dir")).rglob("*.c.o"))
        if not found:  # a library renamed or not built: say so, not "0"
            sys.exit(f"file-cycles: no object files of {lib} in {build}")
        for o in found:
            rel = o.relative_to(build / "CMakeFiles" / (lib + ".dir"))
            src = str(rel)[:-2]
            if src.startswith("migrations"):
                continue
            if only is not None and str(pathlib.Path(src).parent) not in only:
                continue
            objs[src] = symbols(o)
    owner = {}
    for src, (defined, _) in objs.items():
        for name in defined:
            owner[name] = src
    edges = collections.defaultdict(set)
    for src, (_, used) in objs.items():
        for name in used:
            dst = owner.get(name)
            if dst and dst != src and \
                    pathlib.Path(dst).parent == pathlib.Path(src).parent:
                edges[src].add(dst)
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(objs):
        if v not in index:
            visit(v)
    for comp in sccs:
        inner = [f"{a} -> {b}" for a in comp for b in sorted(edges[a])
                 if b in comp]
        print("cycle: " + ", ".join(comp))
        for e in inner:
            print("   " + e)
    print(f"{len(sccs)} cycle(s) among {len(objs)} files")
    return 1 if sccs else 0


if __name__ == "__main__":
    sys.exit(main())
