#!/usr/bin/python3
"""Turn bench/.build/results.tsv (written by bench/run) into the printed table
and bench/RESULTS.md.  Usage: report.py RESULTS.tsv RESULTS.md

Each row of the TSV: workload, peer, N, ok|fail, "metric=value ...", note.
"""
import os
import platform
import subprocess
import sys
import time

# workload -> (title, primary metric, unit, reference peer, higher_is_better, extra metrics shown)
SPEC = {
    "pingpong": ("sleep(0) ping-pong between 2 tasks", "ns_per_switch", "ns/switch", "lua", False, []),
    "memory": ("N tasks blocked on one Event: resident memory", "kib_per_task", "KiB/task", "gevent", False,
               ["spawn_block_ms", "peak_rss_kib"]),
    "million": ("N tasks blocked at once, then released", "total_ms", "ms", "gevent", False,
                ["ok", "peak_rss_kib", "kib_per_task", "spawn_block_ms", "release_ms"]),
    "spawn": ("spawn + join N trivial tasks", "total_ms", "ms", "gevent", False, ["ns_per_task"]),
    "sleeprand": ("N tasks sleeping random [0,1) s: wall time", "wall_s", "s", "IDEAL", False, ["spawn_ms"]),
    "qfifo": ("N items through an unbounded queue (producer -> consumer)", "ns_per_item", "ns/item", "gevent", False, []),
    "qpingpong": ("ping-pong through two Queue(1)", "ns_per_roundtrip", "ns/round trip", "gevent", False, []),
    "evwake": ("Event wake-up of N waiters", "ns_per_wakeup", "ns/wake-up", "gevent", False, ["total_ms"]),
    "echo100": ("TCP echo, 100 connections, 64-byte round trips", "rt_per_s", "round trips/s", "libev", True,
                ["p50_us", "p99_us", "server_cpu_pct", "loadgen_cpu_pct"]),
    "echo1000": ("TCP echo, 1000 connections, 64-byte round trips", "rt_per_s", "round trips/s", "libev", True,
                 ["p50_us", "p99_us", "server_cpu_pct", "loadgen_cpu_pct"]),
    "w7": ("W7: wrk -t1 -c100 keep-alive GET / (gvlua: examples/servers/http_demo.lua)", "req_per_s", "req/s",
           "nginx+lua", True, ["cpu_us_per_req"]),
    "w7tls": ("W7 over TLS 1.3: wrk -t1 -c100 keep-alive GET / over HTTPS", "req_per_s", "req/s",
              "nginx", True, ["cpu_us_per_req"]),
    "client": ("HTTP client: keep-alive GETs over 10 connections to nginx", "client_rps", "req/s",
               "geventhttpclient", True, []),
    "tlshs": ("TLS handshakes/s: new connections, TLS 1.3, RSA-2048, 16 clients (bench/tlsgen.c)", "hs_per_s",
              "handshakes/s", "nginx-tls", True, ["errors"]),
    "tlsecho": ("TLS echo: 16 connections, 16 KiB round trips", "mb_per_s", "MB/s", "nginx-tls", True,
                ["rt_per_s", "errors"]),
    "https": ("HTTPS GETs, a new verified connection each, 50 at a time, to nginx (client side)", "fetch_per_s",
              "fetches/s", "gevent", True, ["errors"]),
}
ORDER = list(SPEC)
ROWS = []
PEER_NAMES = {
    "gvlua": "gvlua",
    "gevent": "gevent (Python)",
    "tarantool": "Tarantool fibers",
    "go": "Go goroutines",
    "lua": "bare Lua 5.4 coroutines",
    "libev": "C libev (reference)",
    "luv": "luv (callbacks)",
    "nginx": "nginx (return 200)",
    "nginx+lua": "nginx + lua (content_by_lua)",
    "gevent pywsgi": "gevent pywsgi",
    "geventhttpclient": "geventhttpclient",
    "nginx-tls": "nginx TLS (1 worker)",
}
REF_TEXT = {
    "lua": "bare Lua 5.4 coroutine resume+yield pair (floor)",
    "gevent": "gevent",
    "libev": "plain C libev server = 1.00 (higher is better)",
    "IDEAL": "the ideal 1.00 s (longest sleep); target <= 1.05",
    "nginx+lua": "nginx + lua module = 1.00 (higher is better); target >= 0.95 at <= 1.0x its CPU per request",
    "nginx": "nginx's TLS = 1.00 (higher is better)",
    "geventhttpclient": "geventhttpclient = 1.00 (higher is better)",
    "nginx-tls": "nginx's TLS, one worker = 1.00 (higher is better); target for tlshs >= 0.9",
}


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            while len(parts) < 6:
                parts.append("")
            w, peer, n, status, metrics, note = parts[:6]
            m = {}
            for kv in metrics.split():
                k, _, v = kv.partition("=")
                try:
                    m[k] = float(v)
                except ValueError:
                    pass
            rows.append(dict(w=w, peer=peer, n=n, ok=status == "ok", m=m, note=note))
    return rows


def machine():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return "?"
    model = sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1")
    return {
        "cpu": model or platform.processor() or "?",
        "nproc": sh("nproc"),
        "kernel": sh("uname -srm"),
        "os": sh(". /etc/os-release && echo \"$PRETTY_NAME\""),
        "mem": sh("free -m | awk '/^Mem:/{print $2\" MiB\"}'"),
        "max_map_count": sh("cat /proc/sys/vm/max_map_count"),
    }


def best_of(rows, metric, higher):
    """Collapse repeated trials of one (workload, peer, N) into the best one;
    the others' figures are kept in r['trials']."""
    groups, order = {}, []
    for r in rows:
        key = (r["w"], r["peer"], r["n"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    out = []
    for key in order:
        g = groups[key]
        ok = [r for r in g if r["ok"] and metric in r["m"]]
        if ok:
            best = (max if higher else min)(ok, key=lambda r: r["m"][metric])
            best = dict(best)
            best["trials"] = [r["m"][metric] for r in ok]
            best["failed_trials"] = len(g) - len(ok)
        else:
            best = dict(g[-1])
            best["trials"] = []
            best["failed_trials"] = len(g)
        out.append(best)
    return out


def build_tables(rows):
    """Returns (list of workload blocks), each block: (w, spec, ref_value, lines)."""
    blocks = []
    for w in ORDER:
        title, metric, unit, ref, higher, extras = SPEC[w]
        wr = best_of([r for r in rows if r["w"] == w], metric, higher)
        if not wr:
            continue
        n = wr[0]["n"]
        if ref == "IDEAL":
            refv = 1.0
        else:
            refrow = next((r for r in wr if r["peer"] == ref and r["ok"] and metric in r["m"]), None)
            refv = refrow["m"][metric] if refrow else None
        gv = next((r for r in wr if r["peer"] == "gvlua" and r["ok"] and metric in r["m"]), None)
        gvv = gv["m"][metric] if gv else None
        lines = []
        for r in wr:
            v = r["m"].get(metric) if r["ok"] else None
            same_n = r["n"] == n
            if v is None:
                ratio = "n/a"
            elif refv and same_n:
                ratio = f"{v / refv:.2f}"
            elif not refv:
                ratio = "no ref"   # the reference peer failed in this run
            else:
                ratio = "-"        # run at a different N
            if v is not None and gvv is not None and same_n and r["peer"] != "gvlua":
                # gvlua relative to this peer, oriented so that < 1 means gvlua is better
                gvs = (v / gvv) if higher else (gvv / v)
                gvs = f"{gvs:.2f}"
            else:
                gvs = ""
            ext = " ".join(("worked" if r["m"][k] == 1 else "FAILED") if k == "ok" else f"{k}={fmt(r['m'][k])}"
                           for k in extras if k in r["m"])
            if len(r["trials"]) > 1:
                ext += (" " if ext else "") + "trials=" + "/".join(fmt(x) for x in r["trials"])
            if r["failed_trials"] and r["ok"]:
                ext += f" ({r['failed_trials']} trial(s) failed)"
            note = r["note"] if not r["ok"] else r["note"]
            lines.append(dict(peer=r["peer"], n=r["n"], fig=fmt(v) if v is not None else "n/a",
                              ratio=ratio, gvs=gvs, ext=ext, note=note, ok=r["ok"], v=v))
        blocks.append((w, SPEC[w], refv, lines, n))
    return blocks


def print_table(blocks):
    print()
    hdr = f"{'workload':<10} {'peer':<22} {'N':>8} {'figure':>12} {'unit':<14} {'x ref':>6} {'gvlua/peer':>10}  details"
    print(hdr)
    print("-" * len(hdr))
    for w, spec, refv, lines, n in blocks:
        title, metric, unit, ref, higher, extras = spec
        for L in lines:
            det = L["ext"] if L["ok"] else L["note"]
            if L["ok"] and L["note"]:
                det += "  (" + L["note"] + ")"
            print(f"{w:<10} {L['peer']:<22} {L['n']:>8} {L['fig']:>12} {unit:<14} {L['ratio']:>6} {L['gvs']:>10}  {det}")
        print(f"{'':<10} ref: {REF_TEXT[ref]}")
    print()


def markdown(blocks, mach, path):
    env = os.environ
    out = []
    out.append("# gvlua benchmark results\n")
    out.append("Written by `bench/run` (see `bench/README.md` for what each workload does). "
               "Every figure below comes from the one run described here; rerun the command to refresh.\n")
    out.append(f"- command: `{env.get('BENCH_CMDLINE', 'bench/run')}`"
               + (" (quick mode: smaller N)" if env.get("BENCH_QUICK") == "1" else ""))
    out.append(f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; run took {env.get('BENCH_ELAPSED', '?')} s")
    out.append(f"- machine: {mach['cpu']}, {mach['nproc']} CPUs, {mach['mem']} RAM, {mach['kernel']}, {mach['os']}")
    out.append(f"- first-touch page fault: {env.get('BENCH_PAGEFAULT_NS', '?')} ns per 4 KiB page "
               "(bench/pagefault.c; bare metal is typically 100-250 ns, so memory-growing workloads are "
               "dominated by it on this VM); vm.max_map_count = " + mach["max_map_count"])
    loads = [r["m"]["load1"] for r in ROWS if "load1" in r["m"]]
    if loads:
        out.append(f"- 1-minute load average before each measurement: {min(loads):.2f} to {max(loads):.2f} "
                   "(this 2-CPU machine is shared with other work; a high load means a noisy figure)")
    rep = env.get("BENCH_REPEAT", "1")
    if rep != "1":
        out.append(f"- each measurement was run {rep} times (the million case once) and the best trial is shown; "
                   "`trials=` lists them all")
    out.append("- peers:")
    for line in env.get("BENCH_VERSIONS", "").splitlines():
        out.append(f"  - {line}")
    out.append("")
    out.append("Columns: **figure** is the workload's main measure; **x ref** is figure / reference figure "
               "(the reference is named under each table); **gvlua/peer** compares gvlua with that peer, "
               "oriented so that below 1.00 means gvlua did better (for times and memory: gvlua's figure / "
               "the peer's; for round trips/s: the peer's / gvlua's). `n/a` means the run failed; the note "
               "gives the first line of its error. A row whose N differs from the others has no ratio (`-`); "
               "`no ref` means the reference peer failed in this run.\n")
    out.append("## gvlua at a glance\n")
    out.append("| workload | N | gvlua | x ref (ref) | gvlua/gevent | gvlua/Go |")
    out.append("|---|---:|---:|---|---:|---:|")
    for w, spec, refv, lines, n in blocks:
        title, metric, unit, ref, higher, extras = spec
        g = next((L for L in lines if L["peer"] == "gvlua"), None)
        if g is None:
            continue
        if not g["ok"]:
            out.append(f"| {w} | {n} | n/a | | | | ")
            continue
        by = {L["peer"]: L for L in lines}
        refname = {"lua": "bare Lua", "libev": "C libev", "IDEAL": "1 s"}.get(ref, PEER_NAMES.get(ref, ref))
        out.append(f"| {w} | {n} | {g['fig']} {unit} | {g['ratio']} ({refname}) | "
                   f"{by.get('gevent', {}).get('gvs', '')} | {by.get('go', {}).get('gvs', '')} |")
    out.append("")
    for w, spec, refv, lines, n in blocks:
        title, metric, unit, ref, higher, extras = spec
        out.append(f"## {w}: {title} (N = {n})\n")
        out.append(f"Reference: {REF_TEXT[ref]}. Figure: {metric} ({unit}, "
                   + ("higher is better" if higher else "lower is better") + ").\n")
        out.append("| peer | N | figure | x ref | gvlua/peer | details / note |")
        out.append("|---|---:|---:|---:|---:|---|")
        for L in lines:
            det = L["ext"] if L["ok"] else "**n/a**: " + L["note"]
            if L["ok"] and L["note"]:
                det += " (" + L["note"] + ")"
            out.append(f"| {PEER_NAMES.get(L['peer'].split()[0], L['peer'])}"
                       f"{' (' + L['peer'].split(' ', 1)[1] + ')' if ' ' in L['peer'] else ''}"
                       f" | {L['n']} | {L['fig']} {unit if L['fig'] != 'n/a' else ''} | {L['ratio']} | {L['gvs']} | "
                       f"{det.replace('|', '/')} |")
        out.append("")
    notes_path = os.path.join(os.path.dirname(os.path.abspath(path)), "NOTES.md")
    if os.path.exists(notes_path):
        with open(notes_path) as f:
            out.append(f.read().rstrip() + "\n")
    with open(path, "w") as f:
        f.write("\n".join(out))


def main():
    tsv, md = sys.argv[1], sys.argv[2]
    rows = load(tsv)
    global ROWS
    ROWS = rows
    blocks = build_tables(rows)
    print_table(blocks)
    if os.environ.get("BENCH_WRITE", "1") == "1":
        markdown(blocks, machine(), md)
        print(f"wrote {md}")


if __name__ == "__main__":
    main()
