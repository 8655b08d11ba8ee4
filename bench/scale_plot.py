#!/usr/bin/env python3
"""The growth curve's table and plot, from the figures bench/scale.sh collects.

    python3 bench/scale_plot.py bench/results/scale.csv --md bench/results/scale.md --svg docs/scale.svg

Reads the CSV (one row per store and number of positions), writes a markdown table of it with
the targets checked, and one SVG of small panels against the number of positions (log scale):
req/s, the gateway / bare ratio with its targets, p99, CPU per request, memory with its limit,
the store's size and the seeding rate. Standard library only; the SVG is written by hand.
"""

import argparse
import csv
import math
import sys
from xml.sax.saxutils import escape

STORES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
COLOURS = {"sqlite": "#1f6fb4", "postgres": "#d9731a"}
# verify req/s as a share of the bare server's, at 100,000 and at 1,000,000 positions.
RATIO_TARGETS = {"sqlite": {100_000: 50, 1_000_000: 45}, "postgres": {100_000: 35, 1_000_000: 30}}
RSS_LIMIT_MB = 100
TARGET_COLOUR = "#c0392b"
# How a curve is drawn (dash, marker): the gateway's verify, the bare server's, getPaymentV2's;
# memory's peak is drawn as the bare server.
GATEWAY, BARE, GPV2 = (None, "circle"), ("5 4", "square"), ("2 3", "square")
SEEDED_BY = {"store": "seed_positions", "copy": "seed_positions to SQLite + store copy"}


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{path}: no rows")
    for r in rows:
        if r["store"] not in STORES:
            sys.exit(f"{path}: unknown store {r['store']!r}")
        for k, v in r.items():
            if k not in ("store", "seed", "commit", "date"):
                r[k] = float(v)
    rows.sort(key=lambda r: (list(STORES).index(r["store"]), r["positions"]))
    return rows


def by_store(rows):
    out = {}
    for r in rows:
        out.setdefault(r["store"], []).append(r)
    return out


def size_label(n):
    n = int(n)
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def fmt_int(v):
    return f"{v:,.0f}"


def verdict(ok):
    return "met" if ok else "**missed**"


def gateway_and_bare(r, primitive):
    """The table's cells of one primitive: req/s gateway / bare, their ratio, p99 gateway / bare
    and their ratio."""
    gw_rps, bare_rps = r[f"gw_{primitive}_rps"], r[f"bare_{primitive}_rps"]
    gw_p99, bare_p99 = r[f"gw_{primitive}_p99_us"], r[f"bare_{primitive}_p99_us"]
    return [
        f"{fmt_int(gw_rps)} / {fmt_int(bare_rps)}",
        f"{100 * gw_rps / bare_rps:.0f} %",
        f"{gw_p99 / 1000:.2f} / {bare_p99 / 1000:.2f}",
        f"{gw_p99 / bare_p99:.2f}",
    ]


# ---------------------------------------------------------------------------------------------
def markdown(rows):
    stores = by_store(rows)
    out = ["# Growth: gpd-gateway from 10,000 to 1,000,000 positions", ""]
    for store, rs in stores.items():
        commits = sorted({r["commit"] for r in rs})
        dates = sorted({r["date"] for r in rs})
        out.append(
            f"- {STORES[store]}: `bench/scale.sh` at commit {', '.join(commits)}, {', '.join(dates)}; "
            f"load average (1 min) at the start of each size: "
            + ", ".join(f"{r['load1']:.2f}" for r in rs)
        )
    out += [
        "",
        "| store | positions | seeded by | seeding s | positions/s | store MB | verify req/s gw / bare | gw / bare "
        "| verify p99 ms gw / bare | p99 ratio | verify CPU µs/req gw / bare | getPaymentV2 req/s gw / bare "
        "| gw / bare | getPaymentV2 p99 ms gw / bare | p99 ratio | RSS / peak MB | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            STORES[r["store"]],
            fmt_int(r["positions"]),
            SEEDED_BY[r["seed"]],
            f"{r['seed_s']:.1f}",
            fmt_int(r["positions"] / r["seed_s"]),
            f"{r['store_bytes'] / 2**20:.0f}",
            *gateway_and_bare(r, "verify"),
            f"{r['gw_verify_cpu_us']:.1f} / {r['bare_verify_cpu_us']:.1f}",
            *gateway_and_bare(r, "gpv2"),
            f"{r['gw_rss_kb'] / 1024:.1f} / {r['gw_hwm_kb'] / 1024:.1f}",
            f"{r['errors']:.0f}",
        ]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "| target | store | positions | measured | |", "|---|---|---|---|---|"]
    for r in rows:
        target = RATIO_TARGETS[r["store"]].get(int(r["positions"]))
        if target is not None:
            share = 100 * r["gw_verify_rps"] / r["bare_verify_rps"]
            out.append(
                f"| verify req/s >= {target} % of bare | {STORES[r['store']]} | {fmt_int(r['positions'])} "
                f"| {share:.0f} % | {verdict(share >= target)} |"
            )
    for r in rows:
        hwm = r["gw_hwm_kb"] / 1024
        out.append(
            f"| gateway peak RSS < {RSS_LIMIT_MB} MB | {STORES[r['store']]} | {fmt_int(r['positions'])} "
            f"| {hwm:.1f} MB | {verdict(hwm < RSS_LIMIT_MB)} |"
        )
    out += [
        "",
        "Seeding: `examples/seed_positions` into a fresh store (with `store copy`: into a SQLite data "
        "directory, then `gpd-gateway store copy` into the empty database), `ANALYZE` included on PostgreSQL. "
        "Store MB: the data directory (SQLite file and WAL) or `pg_database_size`, after the seeding. "
        "req/s and p99 from `wrk --latency`; CPU µs/req: the server's user + system time during the "
        "run over the requests served. RSS / peak: the gateway's VmRSS and VmHWM after the load. "
        "Errors: socket errors and non-2xx answers, all four runs. The full report of each size is in "
        "[scale/](scale/).",
        "",
    ]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
def nice_ticks(hi, count=5):
    """Round ticks from 0 to at least hi."""
    if hi <= 0:
        hi = 1
    raw = hi / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    n = math.ceil(hi / step - 1e-9)
    return [i * step for i in range(n + 1)]


def tick_label(v):
    if v >= 1000 and v % 1000 == 0:
        return f"{v / 1000:g}k"
    return f"{v:g}"


class Panel:
    """One small chart: x is the number of positions on a log scale, y linear or log."""

    W, H = 300, 250
    L, R, T, B = 58, 12, 30, 42

    def __init__(self, svg, x0, y0, title, ylabel, xs, ymax, ylog=False, ymin=None):
        self.svg, self.x0, self.y0, self.ylog = svg, x0, y0, ylog
        lo, hi = min(xs), max(xs)
        self.xlo = math.log10(lo) - 0.15
        self.xhi = math.log10(hi) + 0.15 if hi > lo else self.xlo + 1.3
        self.xs = sorted(set(xs))
        if ylog:
            self.ylo = math.floor(math.log10(ymin))
            self.yhi = math.ceil(math.log10(ymax))
            if self.yhi == self.ylo:
                self.yhi += 1
            self.yticks = [10**e for e in range(self.ylo, self.yhi + 1)]
        else:
            self.yticks = nice_ticks(ymax * 1.08)
            self.ylo, self.yhi = 0, self.yticks[-1]
        pw, ph = self.W - self.L - self.R, self.H - self.T - self.B
        self.px, self.py, self.pw, self.ph = x0 + self.L, y0 + self.T, pw, ph
        self.frame(title, ylabel)

    def x(self, v):
        return self.px + (math.log10(v) - self.xlo) / (self.xhi - self.xlo) * self.pw

    def y(self, v):
        if self.ylog:
            t = (math.log10(v) - self.ylo) / (self.yhi - self.ylo)
        else:
            t = (v - self.ylo) / (self.yhi - self.ylo)
        return self.py + self.ph - t * self.ph

    def frame(self, title, ylabel):
        s = self.svg
        s.append(
            f'<text x="{self.x0 + self.W / 2:.1f}" y="{self.y0 + 16}" class="title">{escape(title)}</text>'
        )
        for v in self.yticks:
            y = self.y(v)
            s.append(f'<line x1="{self.px}" x2="{self.px + self.pw}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
            label = f"{v:g}" if self.ylog else tick_label(v)
            s.append(f'<text x="{self.px - 5}" y="{y + 4:.1f}" class="ytick">{label}</text>')
        for v in self.xs:
            x = self.x(v)
            s.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.py}" y2="{self.py + self.ph}" class="grid"/>')
            s.append(f'<text x="{x:.1f}" y="{self.py + self.ph + 15}" class="xtick">{size_label(v)}</text>')
        s.append(f'<rect x="{self.px}" y="{self.py}" width="{self.pw}" height="{self.ph}" class="axes"/>')
        s.append(
            f'<text x="{self.px + self.pw / 2:.1f}" y="{self.py + self.ph + 32}" class="xlabel">'
            "positions (log scale)</text>"
        )
        cx, cy = self.x0 + 13, self.py + self.ph / 2
        s.append(f'<text x="{cx}" y="{cy:.1f}" class="ylabel" transform="rotate(-90 {cx} {cy:.1f})">{escape(ylabel)}</text>')

    def line(self, points, colour, dash=None, marker="circle"):
        pts = [(self.x(x), self.y(y)) for x, y in points if y is not None and (not self.ylog or y > 0)]
        if not pts:
            return
        d = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.svg.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2"{extra}/>')
        for x, y in pts:
            if marker == "circle":
                self.svg.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.2" fill="{colour}"/>')
            else:
                self.svg.append(
                    f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="white" stroke="{colour}" stroke-width="1.5"/>'
                )

    def target(self, at, value, label, colour=TARGET_COLOUR):
        """A target as a horizontal red dashed line: across the panel, or around one size."""
        if at is None:
            x1, x2 = self.px, self.px + self.pw
        else:
            if not (10**self.xlo <= at <= 10**self.xhi):
                return
            x1, x2 = self.x(at / 10**0.13), self.x(at * 10**0.13)
        if not (self.ylo <= value <= self.yhi):
            return
        y = self.y(value)
        self.svg.append(
            f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" '
            'stroke-width="2" stroke-dasharray="6 3"/>'
        )
        self.svg.append(f'<text x="{x2 - 2:.1f}" y="{y - 4:.1f}" class="target" fill="{colour}">{escape(label)}</text>')


def svg(rows):
    stores = by_store(rows)
    xs = [r["positions"] for r in rows]
    W, H = 4 * Panel.W + 20, 2 * Panel.H + 130
    s = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
        "<style>"
        ".title{font-size:13px;font-weight:bold;text-anchor:middle}"
        ".xtick{font-size:10px;text-anchor:middle;fill:#333}"
        ".ytick{font-size:10px;text-anchor:end;fill:#333}"
        ".xlabel,.ylabel{font-size:10.5px;text-anchor:middle;fill:#333}"
        ".target{font-size:9.5px;text-anchor:end}"
        ".legend{font-size:11.5px}"
        ".caption{font-size:11px;fill:#333}"
        ".grid{stroke:#e3e3e3;stroke-width:1}"
        ".axes{fill:none;stroke:#666;stroke-width:1}"
        "</style>",
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="22" class="title" style="font-size:16px">gpd-gateway: growth from '
        f"{size_label(min(xs))} to {size_label(max(xs))} debt positions</text>",
    ]

    def panel(col, row, *args, **kw):
        return Panel(s, 10 + col * Panel.W, 34 + row * Panel.H, *args, **kw)

    def draw(p, curves, targets=lambda store: ()):
        """Each store's `curves`, (value of a row, dash, marker), after its `targets`."""
        for store, rs in stores.items():
            for at, value, label in targets(store):
                p.target(at, value, label)
            for value, (dash, marker) in curves:
                p.line([(r["positions"], value(r)) for r in rs], COLOURS[store], dash, marker)

    def col(key, scale=1.0):
        return lambda r: r[key] * scale

    def ratio(primitive):
        return lambda r: 100 * r[f"gw_{primitive}_rps"] / r[f"bare_{primitive}_rps"]

    # 1. verify req/s, gateway and bare.
    top = max(max(r["gw_verify_rps"], r["bare_verify_rps"]) for r in rows)
    p = panel(0, 0, "paVerifyPaymentNotice: throughput", "req/s", xs, top)
    draw(p, [(col("bare_verify_rps"), BARE), (col("gw_verify_rps"), GATEWAY)])

    # 2. the ratio, with the targets.
    top = max(ratio("verify")(r) for r in rows)
    top = max(top, 55, *(ratio("gpv2")(r) for r in rows))
    p = panel(1, 0, "gateway / bare server, req/s", "% of the bare server's req/s", xs, top)

    def targets(store):
        return [(at, v, f"{STORES[store]} ≥ {v} %") for at, v in RATIO_TARGETS[store].items()]

    draw(p, [(ratio("gpv2"), GPV2), (ratio("verify"), GATEWAY)], targets)

    # 3. p99.
    top = max(max(r["gw_verify_p99_us"], r["bare_verify_p99_us"]) for r in rows) / 1000
    p = panel(2, 0, "paVerifyPaymentNotice: p99 latency", "ms (wrk, 64 connections)", xs, top)
    draw(p, [(col("bare_verify_p99_us", 1 / 1000), BARE), (col("gw_verify_p99_us", 1 / 1000), GATEWAY)])

    # 4. server CPU per request.
    top = max(max(r["gw_verify_cpu_us"], r["bare_verify_cpu_us"], r["gw_gpv2_cpu_us"]) for r in rows)
    p = panel(3, 0, "server CPU per request", "µs of CPU per request", xs, top)
    draw(p, [(col("bare_verify_cpu_us"), BARE), (col("gw_gpv2_cpu_us"), GPV2), (col("gw_verify_cpu_us"), GATEWAY)])

    # 5. memory.
    top = max(RSS_LIMIT_MB, max(r["gw_hwm_kb"] for r in rows) / 1024)
    p = panel(0, 1, "gateway memory after the load", "MB", xs, top)
    p.target(None, RSS_LIMIT_MB, f"limit {RSS_LIMIT_MB} MB")
    draw(p, [(col("gw_hwm_kb", 1 / 1024), BARE), (col("gw_rss_kb", 1 / 1024), GATEWAY)])

    # 6. store size, log y.
    sizes = [r["store_bytes"] / 2**20 for r in rows]
    p = panel(1, 1, "store on disk", "MB (log scale)", xs, max(sizes), ylog=True, ymin=min(sizes))
    draw(p, [(col("store_bytes", 1 / 2**20), GATEWAY)])

    # 7. seeding rate.
    top = max(r["positions"] / r["seed_s"] for r in rows)
    p = panel(2, 1, "seeding a fresh store", "positions per second", xs, top)
    draw(p, [(lambda r: r["positions"] / r["seed_s"], GATEWAY)])

    # 8. the legend.
    lx, ly = 10 + 3 * Panel.W + 20, 34 + Panel.H + 30
    s.append(f'<text x="{lx}" y="{ly}" class="legend" font-weight="bold">legend</text>')
    entries = [(STORES[k], COLOURS[k], None, "circle") for k in stores]
    entries += [
        ("gateway, verify", "#555", *GATEWAY),
        ("bare hyper server, verify", "#555", *BARE),
        ("gateway, getPaymentV2", "#555", *GPV2),
        ("memory: VmRSS solid, peak dashed", None, None, None),
        ("target", TARGET_COLOUR, "6 3", None),
    ]
    for i, (label, colour, dash, marker) in enumerate(entries):
        y = ly + 22 + i * 21
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        if colour:
            s.append(f'<line x1="{lx}" x2="{lx + 36}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" stroke-width="2"{extra}/>')
        if marker == "circle":
            s.append(f'<circle cx="{lx + 18}" cy="{y - 4}" r="3.2" fill="{colour}"/>')
        elif marker == "square":
            s.append(f'<rect x="{lx + 15}" y="{y - 7}" width="6" height="6" fill="white" stroke="{colour}" stroke-width="1.5"/>')
        s.append(f'<text x="{lx + 44}" y="{y}" class="legend">{escape(label)}</text>')

    # The caption: what was measured, where and when.
    cy = 34 + 2 * Panel.H + 22
    lines = []
    for store, rs in stores.items():
        commits = ", ".join(sorted({r["commit"] for r in rs}))
        dates = ", ".join(sorted({r["date"] for r in rs}))
        loads = ", ".join(f"{r['load1']:.1f}" for r in rs)
        how = ", ".join(sorted({SEEDED_BY[r["seed"]] for r in rs}))
        lines.append(f"{STORES[store]}: commit {commits}, {dates}; load average at each size: {loads}; seeded by {how}.")
    lines.append(
        "bench/scale.sh: a fresh store per size, then bench/run.sh (wrk -t2 -c64 --latency, random notices). "
        "Solid: the gateway; dashed: the bare hyper server answering the gateway's captured response."
    )
    lines.append("2 vCPUs shared by wrk, the servers, PostgreSQL and other work on the machine: compare ratios, not absolute req/s.")
    for i, text in enumerate(lines):
        s.append(f'<text x="20" y="{cy + i * 16}" class="caption">{escape(text)}</text>')
    s.append("</svg>")
    return "\n".join(s) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--md", required=True)
    ap.add_argument("--svg", required=True)
    a = ap.parse_args()
    rows = load(a.csv)
    with open(a.md, "w") as f:
        f.write(markdown(rows))
    with open(a.svg, "w") as f:
        f.write(svg(rows))


if __name__ == "__main__":
    main()
