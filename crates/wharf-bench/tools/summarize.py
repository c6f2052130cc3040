#!/usr/bin/env python3
"""Summarizes a directory of wharf-bench JSON results (one file per run) as Markdown.

    python3 crates/wharf-bench/tools/summarize.py crates/wharf-bench/results/9494695

For each metric: median, min and max over the runs that measured it, and the run count.
"""
import glob
import json
import os
import statistics
import sys


def server(cpu):
    return next(iter(cpu.get("server_cpu", {}).values()), None) or {}


def add(m, key, v):
    if v is not None:
        m.setdefault(key, []).append(v)


def cm_metrics(m, c, prefix, pid):
    cr = c["create"]
    add(m, f"{prefix} creates/s", cr["throughput_per_s"])
    add(m, f"{prefix} create p50 ms", cr["latency"]["p50_ms"])
    add(m, f"{prefix} create p99 ms", cr["latency"]["p99_ms"])
    s = server(cr["cpu"])
    add(m, f"{prefix} server CPU µs/create", s.get("cpu_us_per_request"))
    th = s.get("threads_cpu_s") or {}
    if th and cr["ok"]:
        add(m, f"{prefix} of which store writer thread µs/create", round(th.get("wharf-store-wri", 0) * 1e6 / cr["ok"], 1))
    add(m, f"{prefix} server cores", s.get("cores"))
    add(m, f"{prefix} client cores", (cr["cpu"].get("client_cpu") or {}).get("cores"))
    add(m, f"{prefix} machine busy cores", (cr["cpu"].get("machine") or {}).get("busy_cores"))
    if "get_one" in c:
        add(m, f"{prefix} GET p50 ms", c["get_one"]["p50_ms"])
        add(m, f"{prefix} GET p99 ms", c["get_one"]["p99_ms"])
    if "list_all" in c:
        add(m, f"{prefix} LIST p50 ms", c["list_all"]["p50_ms"])
        add(m, f"{prefix} LIST p99 ms", c["list_all"]["p99_ms"])
        add(m, f"{prefix} LIST bytes", c["list_all"]["bytes"])
    after = c.get("rss_after") or c.get("rss_settled") or {}
    if pid in after and after[pid]:
        add(m, f"{prefix} RSS after (MiB)", after[pid]["rss_mib"])


def main(d):
    m = {}
    for f in sorted(glob.glob(os.path.join(d, "*.json"))):
        j = json.load(open(f))
        name = os.path.basename(f)[:-5]
        if "fsync" in j:
            add(m, "fdatasync p50 ms", j["fsync"]["write_fdatasync"]["p50_ms"])
            add(m, "fdatasync p99 ms", j["fsync"]["write_fdatasync"]["p99_ms"])
            continue
        pid = str(j["pids"][0])
        idle = j.get("rss_idle", {}).get(pid)
        if idle:
            add(m, "idle RSS (MiB)", idle["rss_mib"])
        kind = name.split("-")[0]
        if "cm" in j and kind in ("cm2000", "cm10000"):
            h2 = j["cm"]["create"].get("http2")
            cm_metrics(m, j["cm"], f"{kind}{' h2' if h2 else ''}", pid)
        if "cm" in j and kind == "scale":
            cm_metrics(m, j["cm"], f"clients={j['cm']['create']['clients']} (10,000 creates)", pid)
        if "compare" in j:
            c = j["compare"]
            cm_metrics(m, c["rust"], "compare: Rust", pid)
            p = c["python"]["result"]
            if "create" in p:
                add(m, "compare: Python creates/s", p["create"]["throughput_per_s"])
                add(m, "compare: Python create p50 ms", p["create"]["latency"]["p50_ms"])
                add(m, "compare: Python create p99 ms", p["create"]["latency"]["p99_ms"])
                add(m, "compare: Python GET p50 ms", p["get_one"]["p50_ms"])
                add(m, "compare: Python GET p99 ms", p["get_one"]["p99_ms"])
                add(m, "compare: Python LIST p50 ms", p["list_all"]["p50_ms"])
                add(m, "compare: Python LIST p99 ms", p["list_all"]["p99_ms"])
                w = c["python"]["whole_run_cpu"]
                add(m, "compare: Python run, Python processes cores", (w.get("child_process_cpu") or {}).get("cores"))
                add(m, "compare: Python run, server cores", server(w).get("cores"))
        if "watch" in j:
            w = j["watch"]
            add(m, "watch: events delivered / expected", w["delivered"] / max(1, w["expected"]))
            add(m, "watch: delay until all watchers p50 ms", w["delay_until_all_watchers_from_post"]["p50_ms"])
            add(m, "watch: delay until all watchers p99 ms", w["delay_until_all_watchers_from_post"]["p99_ms"])
            add(m, "watch: delay until first watcher p50 ms", w["delay_until_first_watcher_from_post"]["p50_ms"])
            add(m, "watch: delay after the create's ack, all watchers p99 ms", w["delay_until_all_watchers_after_ack_ms"]["p99"])
            add(m, "watch: server CPU µs per event (100 deliveries)", server(w["cpu"]).get("cpu_us_per_request"))
        if "fill" in j:
            f_ = j["fill"]
            n = f_["create"]["count"]
            add(m, f"fill {n}: creates/s", f_["create"]["throughput_per_s"])
            add(m, f"fill {n}: RSS after creates (MiB)", f_["rss_settled"][pid]["rss_mib"])
            add(m, f"fill {n}: RSS after LISTs (MiB)", f_["rss_after_lists"][pid]["rss_mib"])
            if "list_all" in f_:
                add(m, f"fill {n}: LIST p50 ms", f_["list_all"]["p50_ms"])
                add(m, f"fill {n}: LIST bytes", f_["list_all"]["bytes"])
    print("| metric | median | min | max | runs |")
    print("|---|---:|---:|---:|---:|")
    for k in m:
        v = m[k]
        fmt = (lambda x: f"{x:,.0f}") if max(v) >= 1000 else (lambda x: f"{x:.3g}")
        print(f"| {k} | {fmt(statistics.median(v))} | {fmt(min(v))} | {fmt(max(v))} | {len(v)} |")


if __name__ == "__main__":
    main(sys.argv[1])
