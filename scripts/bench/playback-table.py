#!/usr/bin/env python3
"""The table of scripts/bench-playback.sh, from a run's files (also $BENCH_DIR/last-run/):
playback-table.py BROWSER_JSON SERVER_TSV OUT_DIR ORIGIN_REQUESTS ORIGIN_WITHOUT_RANGE BINARY"""
import json, math, os, subprocess, sys, time
browser_path, server_path, out_dir, origin_reqs, origin_no_range, binary = sys.argv[1:]
browser = json.load(open(browser_path))
server = {}
for line in open(server_path):
    k, v = line.rstrip("\n").split("\t")
    if v:  # a measurement that failed is left out (the script said why on stderr)
        server.setdefault(k, []).append(float(v))
def median(xs):
    s = sorted(xs); n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
def p90(xs):  # nearest rank
    s = sorted(xs); return s[max(0, math.ceil(0.9 * len(s)) - 1)]
targets = {  # ms; issue 14's Must show
    "direct play": 1000, "direct stream": 1000, "remux + audio": 1500, "transcode": 2500,
    "seek 80 %: 2 h MKV H.264": 1500, "seek 80 %: 2 h MKV HEVC": 2500, "remote": 2000,
}
def target(name):
    return next(v for k, v in sorted(targets.items(), key=lambda kv: -len(kv[0])) if name.startswith(k))
rows = []
def row(case, mode, xs, unit, tgt, ok):
    fmt = (lambda x: f"{x:.0f} ms") if unit == "ms" else (lambda x: f"{x:.2f}×")
    rows.append([case, mode, str(len(xs)), fmt(median(xs)), fmt(p90(xs) if unit == "ms" else min(xs)), tgt,
                 "" if ok is None else ("pass" if ok else "FAIL")])
frames = {}
for r in browser["results"]:
    s = r["samples"]; name = r["name"]
    modes = "/".join(sorted({x["mode"] for x in s}))
    key = "seek" if name.startswith("seek") else "frame"
    xs = [x[key] for x in s]
    frames[name] = [x["frame"] for x in s]
    t = target(name)
    row(name, modes, xs, "ms", f"≤ {t} ms", median(xs) <= t)
    if key == "seek":
        row("  (its first frame from navigation)", modes, frames[name], "ms", "", None)
    else:
        parts = {k: median([x[k] for x in s if x[k] is not None]) for k in ("app", "resolve", "worker", "master", "segment") if any(x[k] is not None for x in s)}
        rows[-1].append(", ".join(f"{k} {v:.0f}" for k, v in parts.items()))
sp = server["speed_910005"]
row("transcode speed: HEVC 1080p → H.264 (engine)", "transcode", sp, "x", "≥ 1.5×", median(sp) >= 1.5)
rows[-1][4] = f"min {min(sp):.2f}×"
for id, label in (("910005", "HEVC 1080p"), ("910006", "HEVC 4K")):
    fl, ours = server[f"floor_{id}"], server[f"first_segment_{id}"]
    row(f"floor: plain ffmpeg -f hls, {label}, first segment", "-", fl, "ms", "", None)
    row(f"ours: resolve → first segments, {label}", "transcode", ours, "ms", "", None)
    ff = [v for k, v in frames.items() if k.startswith("transcode") and label in k][0]
    rows.append([f"  ratio ours/floor, {label}", "", "", f"{median(ours) / median(fl):.2f} (segment), {median(ff) / median(fl):.2f} (first frame)", "", "", ""])
head = ["case", "mode", "N", "median", "p90", "target", "result", "median ms from navigation"]
rows = [r + [""] * (len(head) - len(r)) for r in rows]
w = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
for r in [head] + rows:
    print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())
load = open("/proc/loadavg").read().split()[:3]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
meta = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "browser": browser["browser"],
        "cores": os.cpu_count(), "cpu": cpu, "loadavg_after": load, "binary": binary,
        "remote_origin_requests": int(origin_reqs), "remote_origin_requests_without_range": int(origin_no_range)}
print(f"\n{meta['cores']} cores ({cpu}), load average after the run {' '.join(load)}; {browser['browser']}; {binary}")
print(f"remote origin: {origin_reqs} requests, {origin_no_range} without Range (all from the proxy)")
with open(os.path.join(out_dir, "results.tsv"), "w") as f:
    for r in [head] + rows: f.write("\t".join(map(str, r)) + "\n")
json.dump({"meta": meta, "browser": browser, "server": server}, open(os.path.join(out_dir, "results.json"), "w"), indent=1)
