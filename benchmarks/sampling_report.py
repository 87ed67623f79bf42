"""Printing of the sampling benchmark (benchmarks/bench_sampling.py): one graph's table of rates,
ratios against the floor and the peer, loader rates and peak memory."""

from __future__ import annotations

import statistics

FANOUT = [15, 10]
BATCH = 1024


def _m(x: float) -> str:
    return f"{x / 1e6:8.2f} M/s"


def _med(xs: list[float]) -> float:
    return statistics.median(xs)


def _epochs(rates: list[float]) -> str:
    return ", ".join(f"{r:.1f}" for r in rates)


def report(o: dict, peer_ok: bool) -> None:
    n = o["cores"]
    print(
        f"\n   sampled edges/s, fan-out {FANOUT}, {BATCH:,} seeds/batch "
        f"(median over {o['rounds']} rounds x {o['batches']} batches):"
    )
    head = ("", "edges/s", "batch ms", "edges/CPU-s", "edges/batch", "per-round min - max")
    print("   {:40s} {:>12s} {:>9s} {:>12s} {:>12s}   {}".format(*head))
    rows = [
        ("ours, 1 thread", "ours1"),
        (f"ours, {n} threads ({n} batches at once)", "oursN"),
        ("ours, 1 thread, no edge ids", "ours1_noeid"),
        ("PyG NeighborSampler, 1 thread", "peer1"),
        (f"PyG NeighborSampler, {n} threads", "peerN"),
    ]
    for name, k in rows:
        if k in o:
            r = o[k]
            spread = f"{_m(r['round_min']).strip()} - {_m(r['round_max']).strip()}"
            ms, edges = r["median_batch_s"] * 1e3, r["median_edges"]
            rate, cpu = _m(r["edges_per_s"]), _m(r["edges_per_cpu_s"])
            print(f"   {name:40s} {rate} {ms:9.2f} {cpu} {edges:12,.0f}   {spread}")
        else:
            why = o.get("peer_error") or o.get("peer_reason", "")
            print(f"   {name:40s} peer unavailable: {why}")
    floors = (
        ("floor: numpy take, 1 thread", "floor1"),
        (f"floor: numba prange, {n} thr.", "floorN"),
    )
    for name, k in floors:
        f = o[k]
        rate, cpu, ms = _m(f["reads_per_s"]), _m(f["reads_per_cpu_s"]), f["median_s"] * 1e3
        print(f"   {name:40s} {rate} {ms:9.2f} {cpu} {f['reads']:12,d}   (reads)")
    print("   ratios (same run; wall-clock, and per CPU second in brackets):")
    for tag, label in (("1", "1 thread"), ("N", f"{n} threads")):
        ours, floor = o["ours" + tag], o["floor" + tag]
        wall = ours["edges_per_s"] / floor["reads_per_s"]
        cpu = ours["edges_per_cpu_s"] / floor["reads_per_cpu_s"]
        line = f"     {label:10s} ours / floor = {wall:6.1%} [{cpu:6.1%}] (target >= 50%)"
        paired = ours.get("paired_floor_ratio")
        if paired is not None:
            line += f" paired {paired:6.1%}"
        if "peer" + tag in o:
            peer = o["peer" + tag]
            wall = ours["edges_per_s"] / peer["edges_per_s"]
            cpu = ours["edges_per_cpu_s"] / peer["edges_per_cpu_s"]
            line += f"   ours / PyG = {wall:5.2f}x [{cpu:5.2f}x] (target >= 5x)"
        print(line)
    bare, floor = o["ours1_noeid"], o["floor1"]
    print(
        f"     1 thread, without edge ids: ours / floor = "
        f"{bare['edges_per_s'] / floor['reads_per_s']:6.1%} "
        f"[{bare['edges_per_cpu_s'] / floor['reads_per_cpu_s']:6.1%}]"
        + (f" paired {bare['paired_floor_ratio']:6.1%}" if bare.get("paired_floor_ratio") else "")
    )
    print(
        "     (paired: the median over batches of floor time / ours time, the floor gather timed"
        " right after each batch)"
    )
    scale = o["oursN"]["edges_per_s"] / o["ours1"]["edges_per_s"]
    print(f"     ours {n} threads / ours 1 thread = {scale:.2f}x", end="")
    if "peer1" in o:
        peer_scale = o["peerN"]["edges_per_s"] / o["peer1"]["edges_per_s"]
        print(f";  PyG {n} threads / 1 thread = {peer_scale:.2f}x", end="")
    print()
    if "edges_ratio_peer_over_ours" in o:
        same = o["edges_ratio_peer_over_ours"]
        print(f"     median edges per batch, PyG / ours = {same:.3f} (same seeds)")
    print("   end-to-end loader, batches/s (sampling + 16 node features gathered + PyG Data):")
    for w in (0, 2, f"0t{n}"):
        ours = o[f"loader_ours_{w}"]
        name = f"0 workers, {n} threads" if isinstance(w, str) else f"{w} workers"
        line = f"     {name}: ours {_med(ours['rates']):7.2f} (epochs {_epochs(ours['rates'])})"
        if not w or isinstance(w, str):
            line += f" [{_med(ours['cpu_rates']):.1f}/CPU-s]"
        peer = o.get(f"loader_peer_{w}")
        if peer:
            ratio = _med(ours["rates"]) / _med(peer["rates"])
            line += f"   PyG {_med(peer['rates']):7.2f} (epochs {_epochs(peer['rates'])})"
            if not w:
                line += f" [{_med(peer['cpu_rates']):.1f}/CPU-s]"
            line += f"   ours / PyG {ratio:.2f}x"
        elif peer_ok and not isinstance(w, str):
            line += f"   PyG failed: {o.get(f'loader_peer_{w}_error', '?')}"
        print(line)
    print("   peak memory, MB (ru_maxrss; touched pages of the memory-mapped store count too):")
    sampler = f"ours {o['ours_rss']['maxrss_mb']:.0f}"
    if "peer_rss" in o:
        sampler += f", PyG {o['peer_rss']['maxrss_mb']:.0f}"
    print(f"     sampler processes: {sampler}")
    for w in (0, 2, f"0t{n}"):
        parts = []
        for who, name in (("ours", "ours"), ("peer", "PyG")):
            r = o.get(f"loader_{who}_{w}")
            if r:
                kid = f" + workers {r['children_maxrss_mb']:.0f} each at most" if w == 2 else ""
                parts.append(f"{name} {r['maxrss_mb']:.0f}{kid}")
        name = f"0 workers, {n} threads" if isinstance(w, str) else f"{w} workers"
        print(f"     loader, {name}: " + ", ".join(parts))
    print(f"   ({o['wall_s']:.0f} s for this graph)", flush=True)
