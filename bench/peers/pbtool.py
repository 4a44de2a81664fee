#!/usr/bin/env python3
"""Helpers for bench/peers/peers.sh (stdlib only).

  pbtool.py render IN OUT              replace @NAME@ with $PB_NAME from the environment
  pbtool.py tree PID                   PID and all its descendants
  pbtool.py cpu PID [PID...]           "utime stime" clock ticks summed over the process trees
  pbtool.py row RESULTS.tsv            one-line summary of the last row (progress log)
  pbtool.py mem LABEL PID              TSV: label nprocs rss_kib peak_rss_kib(sum VmHWM) pss_kib
  pbtool.py stub URL                   nginx stub_status counters: "accepts requests"
  pbtool.py wrk FILE                   TSV: rps p50_ms p99_ms requests secs non2xx3xx sock_errors
  pbtool.py report RESULTS.tsv [MEM.tsv]
  pbtool.py compare [--max-other PCT] RESULTS.tsv...
                                       ratio stability across runs/reps; rows whose foreign
                                       CPU load exceeded PCT % of a core are left out
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import urllib.request
from collections import defaultdict

CLK_TCK = os.sysconf("SC_CLK_TCK")

RESULT_COLS = [
    "run", "rep", "target", "path", "threads", "conns", "duration",
    "rps", "p50_ms", "p99_ms", "requests", "secs", "non2xx", "sock_err",
    "up_hits", "up_conns", "gw_ticks", "up_ticks",
]


# --------------------------------------------------------------------- procs
def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = defaultdict(list)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                st = fh.read()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        kids[int(rest[1])].append(int(d))
    return kids


def tree(pid: int) -> list[int]:
    if pid <= 0 or not os.path.exists(f"/proc/{pid}"):
        return []
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ticks(pids: list[int]) -> tuple[int, int]:
    user = system = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as fh:
                st = fh.read()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        user += int(rest[11])    # utime  (whole thread group)
        system += int(rest[12])  # stime
    return user, system


def mem(pids: list[int]) -> tuple[int, int, int, int]:
    n = rss = hwm = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as fh:
                st = fh.read()
        except OSError:
            continue
        n += 1
        m = re.search(r"^VmRSS:\s+(\d+)", st, re.M)
        rss += int(m.group(1)) if m else 0
        m = re.search(r"^VmHWM:\s+(\d+)", st, re.M)
        hwm += int(m.group(1)) if m else 0
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                m = re.search(r"^Pss:\s+(\d+)", fh.read(), re.M)
                pss += int(m.group(1)) if m else 0
        except OSError:
            pass
    return n, rss, hwm, pss


# ----------------------------------------------------------------------- wrk
_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _dur_ms(s: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", s.strip())
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_wrk(text: str) -> dict:
    r = {"rps": float("nan"), "p50_ms": float("nan"), "p99_ms": float("nan"),
         "requests": 0, "secs": float("nan"), "non2xx": 0, "sock_err": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    if m:
        r["p50_ms"] = _dur_ms(m.group(1))
    m = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    if m:
        r["p99_ms"] = _dur_ms(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
    if m:
        r["requests"] = int(m.group(1))
        r["secs"] = _dur_ms(m.group(2) + m.group(3)) / 1000
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["sock_err"] = sum(int(x) for x in m.groups())
    return r


# -------------------------------------------------------------------- report
def _f(x, fmt="{:.0f}"):
    try:
        if x is None or x != x:
            return "-"
        return fmt.format(x)
    except (TypeError, ValueError):
        return "-"


def _num(v: str):
    try:
        return float(v)
    except ValueError:
        return v


def load(path: str) -> list[dict]:
    rows = []
    with open(path) as fh:
        header = fh.readline().rstrip("\n").split("\t")
        for line in fh:
            if line.strip():
                rows.append({k: _num(v) for k, v in zip(header, line.rstrip("\n").split("\t"))})
    return rows


def _table(headers: list[str], rows: list[list[str]], right_from: int = 2) -> str:
    w = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    def fmt(r):
        return "  ".join((c.rjust(w[i]) if i >= right_from else c.ljust(w[i])) for i, c in enumerate(r))
    return "\n".join([fmt(headers), "  ".join("-" * x for x in w)] + [fmt(r) for r in rows])


OTHER_WARN_PCT = float(os.environ.get("OTHER_WARN_PCT", "5"))


def _other_pct(r: dict) -> float:
    """User CPU of processes other than wrk/gateway/upstream, % of one core."""
    try:
        other = r["sys_user_ticks"] - r["wrk_user_ticks"] - r["gw_user_ticks"] - r["up_user_ticks"]
        return max(other, 0) / (r["wall_s"] * CLK_TCK) * 100
    except (KeyError, TypeError, ZeroDivisionError):
        return float("nan")


def _with_ratios(rows: list[dict]) -> list[dict]:
    base = {}
    for r in rows:
        if r["target"] == "direct-upstream":
            base[(r["run"], r["rep"], r["path"])] = r
    out = []
    for r in rows:
        b = base.get((r["run"], r["rep"], r["path"]))
        r = dict(r)
        for k in ("rps", "p50_ms", "p99_ms"):
            r[k + "_x"] = (r[k] / b[k]) if b and b[k] else float("nan")
        req = r["requests"] or float("nan")
        r["hits"] = r["up_hits"] / req if isinstance(r["up_hits"], float) else float("nan")
        us = 1e6 / CLK_TCK
        r["gw_us"] = (r["gw_ticks"] * us / req) if isinstance(r["gw_ticks"], float) else float("nan")
        r["up_us"] = (r["up_ticks"] * us / req) if isinstance(r["up_ticks"], float) else float("nan")
        r["other_pct"] = _other_pct(r)
        out.append(r)
    return out


def report(path: str, mem_path: str | None) -> None:
    rows = _with_ratios(load(path))
    hdr = ["target", "path", "req/s", "p50 ms", "p99 ms", "req/s ÷direct", "p50 ×direct",
           "p99 ×direct", "upstream hits/req", "upstream conns", "gw CPU µs/req", "up CPU µs/req",
           "errors", "foreign CPU %"]
    flagged = 0
    for (run, rep) in sorted({(r["run"], r["rep"]) for r in rows}, key=lambda t: (str(t[0]), t[1])):
        sel = [r for r in rows if r["run"] == run and r["rep"] == rep]
        s0 = sel[0]
        print(f"\n== run {run} rep {int(rep)}: wrk --latency -t{int(s0['threads'])} "
              f"-c{int(s0['conns'])} -d{s0['duration']} ==")
        body = []
        for r in sel:
            body.append([
                r["target"], r["path"], _f(r["rps"]), _f(r["p50_ms"], "{:.3f}"), _f(r["p99_ms"], "{:.3f}"),
                _f(r["rps_x"], "{:.3f}"), _f(r["p50_ms_x"], "{:.2f}"), _f(r["p99_ms_x"], "{:.2f}"),
                _f(r["hits"], "{:.3f}"), _f(r.get("up_conns"), "{:.0f}"),
                "-" if r["target"] == "direct-upstream" else _f(r["gw_us"], "{:.1f}"),
                _f(r["up_us"], "{:.1f}"),
                str(int(r["non2xx"] + r["sock_err"])),
                _f(r["other_pct"], "{:.1f}") + (" !" if r["other_pct"] > OTHER_WARN_PCT else ""),
            ])
            flagged += r["other_pct"] > OTHER_WARN_PCT
        print(_table(hdr, body))
    if flagged:
        print(f"\n! {flagged} row(s) ran while other processes used > {OTHER_WARN_PCT:g}% of a core "
              "(foreign CPU %): those numbers are disturbed - rerun when the machine is idle "
              "(WAIT_IDLE=120 waits for it).")
    reps = {(r["run"], r["rep"]) for r in rows}
    if len(reps) > 1:
        print()
        _summary(rows)
    if mem_path and os.path.exists(mem_path):
        print("\n== memory after the runs (sum over master + worker processes) ==")
        body = []
        with open(mem_path) as fh:
            for line in fh:
                label, n, rss, hwm, pss = line.rstrip("\n").split("\t")
                body.append([label, n, f"{int(rss)/1024:.1f}", f"{int(hwm)/1024:.1f}", f"{int(pss)/1024:.1f}"])
        print(_table(["server", "procs", "RSS MiB", "peak RSS MiB (ΣVmHWM)", "PSS MiB"], body, 1))


def _summary(rows: list[dict]) -> None:
    groups = defaultdict(list)
    for r in rows:
        groups[(r["target"], r["path"])].append(r)
    order = []
    for r in rows:
        if (r["target"], r["path"]) not in order:
            order.append((r["target"], r["path"]))
    order.sort(key=lambda k: (k[1], [r["target"] for r in rows].index(k[0])))

    def stats(vals):
        vals = [v for v in vals if v == v]
        if not vals:
            return "-", "-", "-"
        mean = statistics.fmean(vals)
        cv = (statistics.stdev(vals) / mean * 100) if len(vals) > 1 and mean else 0.0
        return f"{statistics.median(vals):.3f}", f"{min(vals):.3f}-{max(vals):.3f}", f"{cv:.1f}%"

    hdr = ["target", "path", "n", "req/s median", "req/s CV", "ratio median", "ratio min-max",
           "ratio CV", "p50× median", "p99× median", "gw µs/req median", "gw µs/req CV"]
    body = []
    for key in order:
        g = groups[key]
        rps = [r["rps"] for r in g]
        rmed, rrng, rcv = stats([r["rps_x"] for r in g])
        cv_rps = (statistics.stdev(rps) / statistics.fmean(rps) * 100) if len(rps) > 1 else 0.0
        p50 = [r["p50_ms_x"] for r in g if r["p50_ms_x"] == r["p50_ms_x"]]
        p99 = [r["p99_ms_x"] for r in g if r["p99_ms_x"] == r["p99_ms_x"]]
        gw = [r["gw_us"] for r in g if r["gw_us"] == r["gw_us"]]
        gw_cv = (statistics.stdev(gw) / statistics.fmean(gw) * 100) if len(gw) > 1 else 0.0
        body.append([
            key[0], key[1], str(len(g)), f"{statistics.median(rps):.0f}", f"{cv_rps:.1f}%",
            rmed, rrng, rcv,
            f"{statistics.median(p50):.2f}" if p50 else "-",
            f"{statistics.median(p99):.2f}" if p99 else "-",
            "-" if key[0] == "direct-upstream" or not gw else f"{statistics.median(gw):.1f}",
            "-" if key[0] == "direct-upstream" or not gw else f"{gw_cv:.1f}%",
        ])
    print("== summary over all runs/reps (ratio = req/s ÷ direct-upstream of the same rep) ==")
    print(_table(hdr, body))


def compare(paths: list[str]) -> None:
    max_other = None
    if paths and paths[0] == "--max-other":
        max_other, paths = float(paths[1]), paths[2:]
    by_threads = defaultdict(list)
    dropped = 0
    for p in paths:
        rows = load(p)
        if max_other is not None:
            keep = [r for r in rows if not (_other_pct(r) > max_other)]
            dropped += len(rows) - len(keep)
            rows = keep
        for r in _with_ratios(rows):
            if r["target"] != "direct-upstream" and r["rps_x"] != r["rps_x"]:
                continue  # its rep lost the direct-upstream baseline
            by_threads[int(r["threads"])].append(r)
    if max_other is not None:
        print(f"(left out {dropped} row(s) with foreign CPU > {max_other:g}% of a core)")
    for t in sorted(by_threads):
        print(f"\n##### wrk -t{t}: {len({(r['run'], r['rep']) for r in by_threads[t]})} run(s)/rep(s)")
        _summary(by_threads[t])


# ---------------------------------------------------------------------- main
def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "render":
        src, dst = args
        text = open(src).read()
        def sub(m):
            key = "PB_" + m.group(1)
            if key not in os.environ:
                raise SystemExit(f"render: {src}: ${key} is not set")
            return os.environ[key]
        text = re.sub(r"@([A-Z0-9_]+)@", sub, text)
        with open(dst, "w") as fh:
            fh.write(text)
    elif cmd == "tree":
        print(" ".join(map(str, tree(int(args[0])))))
    elif cmd == "cpu":
        pids = [p for a in args if a.isdigit() for p in tree(int(a))]
        print("%d %d" % cpu_ticks(pids) if pids else "- -")
    elif cmd == "mem":
        label, pid = args[0], int(args[1]) if args[1].isdigit() else 0
        n, rss, hwm, pss = mem(tree(pid))
        print(f"{label}\t{n}\t{rss}\t{hwm}\t{pss}")
    elif cmd == "stub":
        try:
            with urllib.request.urlopen(args[0], timeout=3) as resp:
                lines = resp.read().decode().splitlines()
            accepts, _handled, requests = lines[2].split()[:3]
            print(f"{int(accepts)} {int(requests)}")
        except Exception as exc:  # noqa: BLE001
            print(f"stub: {exc}", file=sys.stderr)
            print("- -")
    elif cmd == "wrk":
        r = parse_wrk(open(args[0]).read())
        print("\t".join(str(r[k]) for k in ("rps", "p50_ms", "p99_ms", "requests", "secs", "non2xx", "sock_err")))
    elif cmd == "row":
        rows = _with_ratios(load(args[0]))
        r = rows[-1]
        print(f"{r['rps']:9.0f} req/s  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  "
              f"upstream hits/req {_f(r['hits'], '{:.3f}')}  foreign CPU {_f(r['other_pct'], '{:.1f}')}%")
    elif cmd == "report":
        report(args[0], args[1] if len(args) > 1 else None)
    elif cmd == "compare":
        compare(args)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
