#!/usr/bin/python3
"""Draw bench results as an SVG (no dependencies): for each workload, how
each peer compares with gvlua, on a log scale. Right of the 1x line: the
peer costs more than gvlua (slower, more memory, fewer round trips); left:
the peer does better. Usage: plot.py results.tsv out.svg
"""
import math
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from report import SPEC, ORDER, PEER_NAMES, load  # noqa: E402

COLORS = {"gevent": "#3572A5", "tarantool": "#c2410c", "go": "#00ADD8",
          "lua": "#888888", "libev": "#555555", "luv": "#7c3aed"}
LO, HI = 0.1, 1000.0          # axis range: peer cost / gvlua cost
W, LEFT, RIGHT = 900, 300, 30
BAR, GAP, HEAD = 14, 4, 22


def x_of(r):
    r = min(max(r, LO), HI)
    span = math.log10(HI) - math.log10(LO)
    return LEFT + (math.log10(r) - math.log10(LO)) / span * (W - LEFT - RIGHT)


def main(tsv, out):
    rows = load(tsv)
    fig = {}  # best trial of each (workload, peer, N), as report.py shows
    for r in rows:
        if r["ok"] and SPEC.get(r["w"]):
            metric, higher = SPEC[r["w"]][1], SPEC[r["w"]][4]
            if metric in r["m"]:
                key, v = (r["w"], r["peer"], r["n"]), r["m"][metric]
                old = fig.get(key)
                if old is None or (v > old if higher else v < old):
                    fig[key] = v
    blocks = []
    for w in ORDER:
        title, _, _, _, higher, _ = SPEC[w]
        mine = {n: v for (ww, p, n), v in fig.items() if ww == w and p == "gvlua"}
        if not mine:
            continue
        bars = []
        for (ww, p, n), v in sorted(fig.items()):
            if ww != w or p == "gvlua" or n not in mine or v <= 0:
                continue
            g = mine[n]
            ratio = (g / v) if higher else (v / g)
            bars.append((p, ratio))
        if bars:
            blocks.append((title, bars))
    height = 60 + sum(HEAD + len(b) * (BAR + GAP) + 10 for _, b in blocks)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="12">' % (W, height),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="20" font-size="14" font-weight="bold">'
         'Peers compared with gvlua (same run; right of 1x = gvlua does '
         'better)</text>' % 10]
    y = 40
    for t in (0.1, 1, 10, 100, 1000):
        x = x_of(t)
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>'
                 % (x, y, x, height - 20, "#000" if t == 1 else "#ddd"))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%gx</text>'
                 % (x, height - 6, t))
    for title, bars in blocks:
        o.append('<text x="10" y="%d" font-weight="bold">%s</text>'
                 % (y + 14, title.replace("&", "&amp;").replace("<", "&lt;")))
        y += HEAD
        for p, ratio in bars:
            x0, x1 = x_of(1), x_of(ratio)
            o.append('<text x="%d" y="%d" text-anchor="end">%s</text>'
                     % (LEFT - 6, y + 11, PEER_NAMES.get(p, p)))
            o.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>'
                     % (min(x0, x1), y, abs(x1 - x0) or 1, BAR,
                        COLORS.get(p, "#999")))
            o.append('<text x="%.1f" y="%d">%.2gx</text>'
                     % (max(x0, x1) + 4, y + 11, ratio))
            y += BAR + GAP
        y += 10
    o.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(o) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
