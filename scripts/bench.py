"""Runs the SPEC §12 benchmarks and prints one line per target: measured, peer, ratio, target.

Every comparison runs both sides in the same run, alternating, and reports the median ratio,
because the machines here are shared and noisy. Data is generated deterministically.
"""

import argparse
import csv
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argon2

ROOT = Path(__file__).resolve().parent.parent
TOKENDESK = ROOT / "target/release/tokendesk"
EXAMPLES = ROOT / "target/release/examples"
WORK = ROOT / "target/bench"

# A definition whose authentication codes are typed: pre-printed cards (P1, P1b, P2).
CARDS_DEFINITION = """{"name": "Printed cards", "code": "CARDS", "settings": {
  "authentication_code": {"method": "none", "format": "free_text", "min_length": 4, "max_length": 32},
  "identifier": {"method": "none", "format": "free_text", "min_length": 3, "max_length": 64},
  "pass_code": {"method": "none", "format": "free_text", "min_length": 4, "max_length": 32}}}"""


def card_code(i):
    # Unique for every i below 10**12 because 7919 is prime to 10**12.
    return f"PC{(i * 7919) % 10**12:012d}"


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def run(args, **kw):
    return subprocess.run(args, check=True, **kw)


def timed(args, **kw):
    start = time.perf_counter()
    run(args, **kw)
    return time.perf_counter() - start


def fresh_desk(name):
    db = WORK / f"{name}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    definition = WORK / "cards.json"
    definition.write_text(CARDS_DEFINITION)
    base = [str(TOKENDESK), "--db", str(db), "--clerk", "bench"]
    run(base + ["definition", "add", str(definition)], stdout=subprocess.DEVNULL)
    run(base + ["definition", "activate", "CARDS"], stderr=subprocess.DEVNULL)
    return db, base


# The columns Token Desk fills when it imports an unassigned token, with the value it stores.
# The sqlite3 peer loads the same rows with these values, so both sides write the same data.
PEER_FILLED = [
    ("authentication_code", None),
    ("number", None),
    ("definition_id", "2"),
    ("state", "effective"),
    ("failed_attempts", "0"),
    ("locked", "0"),
    ("import_batch_id", "1"),
    ("created_at", "2026-12-04T12:00:00Z"),
    ("created_by", "bench"),
    ("updated_at", "2026-12-04T12:00:00Z"),
    ("updated_by", "bench"),
]


def write_peer_csv(path, rows):
    """The rows of p1.csv as Token Desk stores them: the filled columns; the rest stay NULL."""
    header = [name for name, _ in PEER_FILLED]
    fixed = [value for _, value in PEER_FILLED[2:]]
    write_csv(path, header, ([card_code(i), f"AT{i + 1:010d}"] + fixed for i in range(rows)))


def tokens_schema():
    """The tokens table and its indexes as the current schema has them, read from a new desk."""
    db = WORK / "schema.sqlite3"
    db.unlink(missing_ok=True)
    run([str(TOKENDESK), "--db", str(db), "definition", "list"], stdout=subprocess.DEVNULL)
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT sql FROM sqlite_schema WHERE tbl_name = 'tokens' AND sql IS NOT NULL").fetchall()
    conn.close()
    return ";\n".join(sql for (sql,) in rows) + ";"


def peer_schema():
    """Token Desk's tokens table and indexes, the columns the peer's file fills first (the shell's
    .import maps columns by position and fills the rest with NULL), without NOT NULL and CHECK."""
    schema = tokens_schema()
    table = re.search(r'CREATE TABLE "?tokens"? \((.*?)\n\);', schema, re.S).group(1)
    columns = []
    for line in table.splitlines():
        line = line.split("--")[0].strip().rstrip(",")
        if not line or line.startswith("CHECK"):
            continue
        line = line.replace("NOT NULL", "").replace("INTEGER PRIMARY KEY", "INTEGER PRIMARY KEY")
        line = re.sub(r"REFERENCES \w+ \(\w+\)", "", line)
        line = re.sub(r"DEFAULT \S+", "", line)
        line = re.sub(r"CHECK \(.*\)", "", line)
        columns.append(line)
    first = [name for name, _ in PEER_FILLED]
    columns.sort(key=lambda c: first.index(c.split()[0]) if c.split()[0] in first else len(first))
    indexes = re.findall(r'CREATE INDEX tokens_\w+ ON "?tokens"? [^;]+;', schema)
    return "CREATE TABLE tokens (" + ", ".join(columns) + ");\n" + "\n".join(indexes)


def sqlite3_import(csv_path):
    """The sqlite3 shell's .import into the peer table, WAL and a 256 MiB cache."""
    db = WORK / "peer.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    script = (
        "PRAGMA journal_mode=WAL;\nPRAGMA cache_size=-262144;\n"
        + peer_schema()
        + f"\n.import --csv --skip 1 {csv_path} tokens\n"
    )
    # The shell warns on stderr for every row that lacks the NULL columns; that is its own cost.
    return timed(["sqlite3", str(db)], input=script.encode(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def line(name, text, ratio=None, target=None, higher_is_better=False):
    verdict = ""
    if ratio is not None and target is not None:
        met = ratio >= target if higher_is_better else ratio <= target
        verdict = "  MET" if met else "  MISSED"
    print(f"{name:<4} {text}{verdict}", flush=True)


def bench_p1(rows, runs):
    path = WORK / "p1.csv"
    write_csv(path, ["authentication_code"], ([card_code(i)] for i in range(rows)))
    peer_path = WORK / "p1-peer.csv"
    write_peer_csv(peer_path, rows)
    ours, peers = [], []
    for i in range(runs):
        order = [0, 1] if i % 2 == 0 else [1, 0]
        for side in order:
            if side == 0:
                db, base = fresh_desk("p1")
                ours.append(timed(base + ["import", str(path), "--report", str(WORK / "p1-report.csv")], stdout=subprocess.DEVNULL))
            else:
                peers.append(sqlite3_import(peer_path))
    ratio = statistics.median(o / p for o, p in zip(ours, peers))
    line("P1", f"import {rows:,} unassigned tokens: tokendesk {statistics.median(ours):.2f} s, "
               f"sqlite3 .import {statistics.median(peers):.2f} s, ratio {ratio:.2f} (target <= 0.80)", ratio, 0.80)
    return statistics.median(ours)


def bench_p1b(rows, runs, p1_time):
    path = WORK / "p1b.csv"
    write_csv(path, ["participant_number", "participant_name", "account_number", "account_name", "authentication_code"],
              ([f"RPB{i:010d}", f"Participant {i}", f"ACB{i:010d}", f"Account {i}", card_code(i)] for i in range(rows)))
    times = []
    for _ in range(runs):
        db, base = fresh_desk("p1b")
        times.append(timed(base + ["import", str(path), "--create-owners", "--report", str(WORK / "p1b-report.csv")], stdout=subprocess.DEVNULL))
    ratio = statistics.median(times) / p1_time
    line("P1b", f"import {rows:,} participant tokens with new owners: {statistics.median(times):.2f} s, "
                f"{ratio:.2f}x P1 (target <= 3.00)", ratio, 3.0)


def python_peer(path, db_path, cores):
    """The Python peer of P2: stdlib csv + sqlite3, argon2-cffi with one thread per core."""
    hasher = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    with ThreadPoolExecutor(max_workers=cores) as pool:
        hashes = list(pool.map(lambda r: hasher.hash(r["pass_code"]), rows))
    conn = sqlite3.connect(db_path)
    conn.executescript("PRAGMA journal_mode=WAL;" + peer_schema())
    with conn:
        conn.executemany(
            "INSERT INTO tokens (authentication_code, identifier, identifier_key, pass_code_hash, state) VALUES (?, ?, ?, ?, 'effective')",
            ((r["authentication_code"], r["identifier"], r["identifier"].lower(), h) for r, h in zip(rows, hashes)),
        )
    conn.close()


def bench_p2(rows, runs):
    cores = os.cpu_count() or 1
    path = WORK / "p2.csv"
    write_csv(path, ["identifier", "pass_code", "authentication_code"],
              ([f"member{i}@example.com", f"pw-{i * 104729 % 99991:05d}-x", card_code(i)] for i in range(rows)))
    t_hash = float(subprocess.run([str(EXAMPLES / "hash_time")], check=True, capture_output=True, text=True).stdout.split()[0])
    ours, peers = [], []
    for i in range(runs):
        db, base = fresh_desk("p2")
        ours.append(timed(base + ["import", str(path), "--report", str(WORK / "p2-report.csv")], stdout=subprocess.DEVNULL))
        peer_db = WORK / "p2-peer.sqlite3"
        peer_db.unlink(missing_ok=True)
        start = time.perf_counter()
        python_peer(path, peer_db, cores)
        peers.append(time.perf_counter() - start)
    ours_rate = rows / statistics.median(ours)
    peer_rate = rows / statistics.median(peers)
    target = 0.9 * cores / t_hash
    line("P2", f"import {rows:,} rows with pass codes: {ours_rate:.1f} rows/s; target 0.9 x {cores} cores / "
               f"{t_hash * 1000:.1f} ms = {target:.1f} rows/s", ours_rate / target, 1.0, higher_is_better=True)
    line("P2", f"  vs Python (argon2-cffi, {cores} threads): {peer_rate:.1f} rows/s, ratio {ours_rate / peer_rate:.2f} (target >= 1.00)",
         ours_rate / peer_rate, 1.0, higher_is_better=True)


EXPORT_QUERY = """SELECT t.number AS token_number, d.code AS definition, t.state, t.authentication_code, t.identifier,
  p.number AS participant_number, p.name AS participant_name, a.number AS account_number, a.name AS account_name,
  t.created_at, t.created_by, t.verified_at, t.last_used_at, CASE t.locked WHEN 1 THEN 'true' ELSE 'false' END AS locked,
  t.import_batch_id AS import_batch
FROM tokens t JOIN definitions d ON d.id = t.definition_id
LEFT JOIN participants p ON p.id = t.participant_id LEFT JOIN accounts a ON a.id = t.account_id ORDER BY t.id;"""


def bench_p3(db, runs):
    ours, peers = [], []
    out = WORK / "export.csv"
    for i in range(runs):
        for side in ([0, 1] if i % 2 == 0 else [1, 0]):
            if side == 0:
                ours.append(timed([str(TOKENDESK), "--db", str(db), "export", "tokens", "--out", str(out)], stderr=subprocess.DEVNULL))
            else:
                with open(WORK / "export-peer.csv", "wb") as f:
                    peers.append(timed(["sqlite3", "-csv", "-header", str(db), EXPORT_QUERY], stdout=f))
    ratio = statistics.median(o / p for o, p in zip(ours, peers))
    line("P3", f"export {rows_in(db):,} tokens: tokendesk {statistics.median(ours):.2f} s, sqlite3 -csv "
               f"{statistics.median(peers):.2f} s, ratio {ratio:.2f} (target <= 1.00)", ratio, 1.0)


def rows_in(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM tokens").fetchone()[0]
    finally:
        conn.close()


def bench_p4_p5(db):
    output = subprocess.run([str(EXAMPLES / "frame_bench"), str(db)], check=True, capture_output=True, text=True).stdout
    for text in output.strip().splitlines():
        print(text, flush=True)


def bench_p6(rows):
    path = WORK / "p1.csv"
    db, base = fresh_desk("p6")
    result = subprocess.run(["/usr/bin/time", "-v"] + base + ["import", str(path), "--report", str(WORK / "p6-report.csv")],
                            check=True, capture_output=True, text=True)
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    peak_mb = peak_kib * 1024 / 1e6
    line("P6", f"peak resident memory importing {rows:,} rows: {peak_mb:.0f} MB (target < 200 MB)", peak_mb / 200, 1.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--hash-rows", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 500 hashed rows, 1 run")
    parser.add_argument("--only", default="P1,P1b,P2,P3,P4,P6")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.hash_rows, args.runs = 100_000, 500, 1
    only = set(args.only.split(","))
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
          f"sqlite3 {subprocess.run(['sqlite3', '--version'], capture_output=True, text=True).stdout.split()[0]}; "
          f"{time.strftime('%Y-%m-%d')}", flush=True)
    p1_time = None
    if "P1" in only or "P1b" in only:
        p1_time = bench_p1(args.rows, args.runs)
    if "P1b" in only:
        bench_p1b(args.rows, args.runs, p1_time)
    if "P2" in only:
        bench_p2(args.hash_rows, max(1, args.runs - 1))
    demo = WORK / "demo.sqlite3"
    if {"P3", "P4"} & only:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{demo}{suffix}").unlink(missing_ok=True)
        run([str(TOKENDESK), "--db", str(demo), "demo-data", "--tokens", str(args.rows), "--participants", str(args.rows // 10)],
            stderr=subprocess.DEVNULL)
    if "P3" in only:
        bench_p3(demo, args.runs)
    if "P4" in only:
        bench_p4_p5(demo)
    if "P6" in only:
        bench_p6(args.rows)


if __name__ == "__main__":
    main()
