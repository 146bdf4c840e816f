#!/usr/bin/python3
"""bench/bench.py: the read-path benchmarks of nutragenie (run by bench/run).

Expects a running stack: PGHOST/PGPORT/PGUSER/PGDATABASE for PostgreSQL (with
the extension installed) and MONGODB_URI.  Loads deterministic data, runs
every benchmark NG_BENCH_RUNS times (FDW and baseline interleaved), and writes
bench/out/results.json, docs/benchmarks.md and docs/benchmarks.png.

Every figure reported is a ratio against a baseline measured in the same run
on the same data; absolute times are shown for context only.
"""
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = Path(os.environ.get("NG_BENCH_OUT", BENCH / "out"))
DOCS = ROOT / "docs"
BASELINE = OUT / "baseline"


def env_int(name, default):
    v = os.environ.get(name, "")
    if v == "":
        return default
    try:
        return int(v)
    except ValueError:
        sys.exit(f"bench: {name}={v!r} is not an integer")


N_DOCS = env_int("NG_BENCH_DOCS", 50000)
JOIN_DOCS = env_int("NG_BENCH_JOIN_DOCS", 2000)
JOIN_KEYS = env_int("NG_BENCH_JOIN_KEYS", 1000)
MEM_DOCS = env_int("NG_BENCH_MEM_DOCS", 200000)
RUNS = env_int("NG_BENCH_RUNS", 5)
SLOW_RUNS = env_int("NG_BENCH_SLOW_RUNS", min(RUNS, 3))
CHEAP_RUNS = 3 * RUNS           # sub-second measurements (join default plan, $in)
SEED = env_int("NG_BENCH_SEED", 42)
BATCH = env_int("NG_BENCH_BATCH", 1000)
LOAD_JOBS = env_int("NG_BENCH_LOAD_JOBS", 2)
MEM_BOUND_MB = env_int("NG_BENCH_MEM_BOUND_MB", 64)
PROFILE = os.environ.get("NG_BENCH_PROFILE", "1") not in ("0", "", "no", "off")
MDB = os.environ.get("NG_BENCH_DATABASE", "nutragenie_bench")
URI = os.environ["MONGODB_URI"]
EXTERNAL = os.environ.get("NG_BENCH_EXTERNAL", "") == "1"
CATEGORY = 42                   # category_id = 42 selects ~1%
SERVER = "bench_srv"

TARGET_SCAN = 0.85              # FDW rows/s >= 0.85 x baseline rows/s
TARGET_FILTER = 1.2             # FDW time <= 1.2 x baseline time
TARGET_JOIN = 1.5               # FDW time <= 1.5 x one $in find

if RUNS < 1 or N_DOCS < 1000 or JOIN_DOCS < 1 or JOIN_KEYS < 1 or BATCH < 1:
    sys.exit("bench: NG_BENCH_RUNS >= 1, NG_BENCH_DOCS >= 1000, NG_BENCH_JOIN_* >= 1")
if JOIN_KEYS > JOIN_DOCS:
    sys.exit("bench: NG_BENCH_JOIN_KEYS must not exceed NG_BENCH_JOIN_DOCS")
MEM_DOCS = max(MEM_DOCS, N_DOCS)

# Foreign table columns: every field of the documents, nested leaves and
# arrays included (name, type, field path or None).
COLUMNS = [
    ("_id", "objectid", None), ("recipe_no", "int", None),
    ("title", "text", None), ("slug", "text", None),
    ("category_id", "int", None), ("cuisine", "text", None),
    ("kcal", "int", "nutrition.calories"),
    ("protein_g", "float8", "nutrition.protein_g"),
    ("fat_g", "float8", "nutrition.fat_g"),
    ("carbs_g", "float8", "nutrition.carbs_g"),
    ("author_name", "text", "author.name"),
    ("author_country", "text", "author.country"),
    ("tags", "text[]", None), ("ingredients", "jsonb", None),
    ("views", "bigint", None), ("rating", "float8", None),
    ("created_at", "timestamptz", None), ("owner_id", "objectid", None),
    ("is_public", "bool", None), ("is_vegan", "bool", None),
    ("servings", "int", None), ("prep_minutes", "int", None),
    ("instructions", "text", None),
]
ALL_COLS = ", ".join(c[0] for c in COLUMNS)

COLL_MAIN = "recipes"
COLL_JOIN = "recipes_join"
COLL_MEM = "recipes_mem"

T0 = time.monotonic()


def log(msg):
    print(f"bench: [{time.monotonic() - T0:6.0f}s] {msg}", file=sys.stderr, flush=True)


def sql_lit(s):
    return "'" + str(s).replace("'", "''") + "'"


def psql(script, appname=None):
    env = os.environ.copy()
    if appname:
        env["PGAPPNAME"] = appname
    p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                       input=script, text=True, capture_output=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"psql failed ({p.returncode}):\n{p.stderr.strip()}\n--- script:\n{script[:3000]}")
    return p.stdout


PRELUDE = "SET search_path = public, nutragenie;\nSET jit = off;\n"


def mongo_command(cmd):
    out = psql(PRELUDE + f"SELECT nutragenie.ng_run_command({sql_lit(SERVER)}, {sql_lit(json.dumps(cmd))}::json);\n")
    return json.loads(out.strip())


# --------------------------------------------------------------------- setup

def split_credentials(uri):
    """mongodb://user:pw@hosts/... -> (uri without user info, user, password)."""
    m = re.match(r"^(mongodb(?:\+srv)?://)([^@/]*)@(.*)$", uri)
    if not m:
        return uri, None, None
    from urllib.parse import unquote
    user, _, pw = m.group(2).partition(":")
    return m.group(1) + m.group(3), unquote(user), unquote(pw)


def foreign_table(name, coll, root=False):
    if root:
        cols = "_id objectid, doc jsonb OPTIONS (field '$$ROOT')"
    else:
        parts = []
        for cname, ctype, field in COLUMNS:
            parts.append(f"{cname} {ctype}" + (f" OPTIONS (field {sql_lit(field)})" if field else ""))
        cols = ",\n  ".join(parts)
    return (f"DROP FOREIGN TABLE IF EXISTS {name};\n"
            f"CREATE FOREIGN TABLE {name} (\n  {cols}\n) SERVER {SERVER}\n"
            f"  OPTIONS (collection {sql_lit(coll)}, batch_size {sql_lit(BATCH)});\n")


def setup_schema():
    uri, user, pw = split_credentials(URI)
    um = ""
    if user is not None:
        um = f" OPTIONS (username {sql_lit(user)}, password {sql_lit(pw)})"
    script = (
        "SET client_min_messages = warning;\n"
        "CREATE EXTENSION IF NOT EXISTS nutragenie;\n"
        f"DROP SERVER IF EXISTS {SERVER} CASCADE;\n"
        f"CREATE SERVER {SERVER} FOREIGN DATA WRAPPER nutragenie_fdw\n"
        f"  OPTIONS (uri {sql_lit(uri)}, database {sql_lit(MDB)});\n"
        f"CREATE USER MAPPING FOR CURRENT_USER SERVER {SERVER}{um};\n"
        f"\\i {BENCH / 'datagen.sql'}\n"
        "SET search_path = public, nutragenie;\n"
        + foreign_table("recipes", COLL_MAIN)
        + foreign_table("recipes_root", COLL_MAIN, root=True)
        + foreign_table("recipes_join", COLL_JOIN)
        + foreign_table("recipes_join_root", COLL_JOIN, root=True)
    )
    if MEM_DOCS > N_DOCS:
        script += foreign_table("recipes_mem", COLL_MEM) + foreign_table("recipes_mem_root", COLL_MEM, root=True)
    psql(script)


def load(coll, n):
    """Insert documents 1..n through ng_run_command, LOAD_JOBS sessions in parallel."""
    jobs = max(1, min(LOAD_JOBS, n // 1000 or 1))
    per = (n + jobs - 1) // jobs
    t = time.monotonic()
    procs = []
    for j in range(jobs):
        first, last = j * per + 1, min(n, (j + 1) * per)
        if first > last:
            continue
        script = f"SELECT bench.load({sql_lit(SERVER)}, {sql_lit(coll)}, {first}, {last}, {SEED}, {BATCH});\n"
        procs.append(subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", script],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    total = 0
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"loading {coll} failed: {err.strip()}")
        total += int(out.strip())
    secs = time.monotonic() - t
    if total != n:
        raise RuntimeError(f"loaded {total} documents into {coll}, expected {n}")
    log(f"loaded {n} documents into {coll} in {secs:.1f} s ({n / secs:.0f} docs/s)")
    return secs


def setup_data():
    log(f"dropping MongoDB database {MDB}")
    mongo_command({"dropDatabase": 1})
    res = {"load_s": {}}
    res["load_s"][COLL_MAIN] = load(COLL_MAIN, N_DOCS)
    reply = mongo_command({"createIndexes": COLL_MAIN,
                           "indexes": [{"key": {"category_id": 1}, "name": "category_id_1"}]})
    if float(reply.get("ok", 0)) != 1:
        raise RuntimeError(f"createIndexes failed: {reply}")
    res["load_s"][COLL_JOIN] = load(COLL_JOIN, JOIN_DOCS)
    if MEM_DOCS > N_DOCS:
        res["load_s"][COLL_MEM] = load(COLL_MEM, MEM_DOCS)
    # The PostgreSQL side of the join: recipe metadata, one row per key,
    # spread evenly over the join collection.
    stride = JOIN_DOCS // JOIN_KEYS
    psql(PRELUDE + f"""
DROP TABLE IF EXISTS recipe_meta;
CREATE TABLE recipe_meta (
    id int PRIMARY KEY,
    mongodb_recipe_id objectid NOT NULL,
    price_cents int NOT NULL,
    featured bool NOT NULL);
INSERT INTO recipe_meta
SELECT k, bench.oid(i, {SEED})::objectid, 100 + bench.h(k, 61, {SEED}) % 2000, k % 7 = 0
  FROM (SELECT k, (k - 1) * {stride} + 1 + bench.h(k, 60, {SEED}) % {stride} AS i
          FROM generate_series(1, {JOIN_KEYS}) k) s;
ANALYZE recipe_meta;
""")
    keys = psql(PRELUDE + "SELECT mongodb_recipe_id::text FROM recipe_meta ORDER BY id;").split()
    (OUT / "join_keys.txt").write_text("\n".join(keys) + "\n")
    res["matched_filter"] = int(mongo_command({"count": COLL_MAIN, "query": {"category_id": CATEGORY}})["n"])
    res["indexes"] = mongo_command({"listIndexes": COLL_MAIN})["cursor"]["firstBatch"]
    ex = mongo_command({"explain": {"find": COLL_MAIN, "filter": {"category_id": CATEGORY}}})
    res["server_explain_filter"] = {k: ex.get(k) for k in ("queryPlanner", "filterPushdown") if k in ex}
    return res


# --------------------------------------------------------------------- runs

# The backend's CPU time: /proc/self/schedstat (nanoseconds on a CPU), or
# utime+stime from /proc/self/stat (10 ms ticks) where schedstat is missing.
CPU_FILE = "/proc/self/schedstat" if Path("/proc/self/schedstat").exists() else "/proc/self/stat"
STAT_SQL = ("SELECT '{tag}|' || replace(pg_read_file('" + CPU_FILE + "'), E'\\n', '') || '|' || "
            "(regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1] || '|' || "
            "(regexp_match(pg_read_file('/proc/self/status'), 'VmRSS:\\s+(\\d+)'))[1];\n")
TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


def parse_stat(line):
    _, stat, hwm, rss = line.split("|")
    if ")" in stat:
        fields = stat[stat.rindex(")") + 2:].split()
        cpu_ms = (int(fields[11]) + int(fields[12])) * TICK_MS   # utime + stime
    else:
        cpu_ms = int(stat.split()[0]) / 1e6
    return cpu_ms, int(hwm), int(rss)


def session_script(query, settings="", pre="", post=""):
    return (PRELUDE + settings +
            f"SELECT nutragenie.ng_run_command({sql_lit(SERVER)}, '{{\"ping\": 1}}') IS NOT NULL;\n"
            "\\o /dev/null\n" f"EXPLAIN {query};\n" "\\o\n" + pre +
            STAT_SQL.format(tag="S0") + "\\timing on\n" + query + ";\n" + "\\timing off\n" +
            STAT_SQL.format(tag="S1") + post)


def fdw_run(query, settings=""):
    """One FDW measurement in a fresh session (connected and planned first)."""
    out = psql(session_script(query, settings))
    s0 = s1 = wall = None
    result = []
    for line in out.splitlines():
        if line.startswith("S0|"):
            s0 = parse_stat(line)
        elif line.startswith("S1|"):
            s1 = parse_stat(line)
        elif line.startswith("Time: "):
            wall = float(re.match(r"Time: ([\d.]+) ms", line).group(1))
        elif s0 is not None and wall is None:
            result.append(line)
    return {"wall_ms": wall, "cpu_ms": s1[0] - s0[0], "hwm_before_kb": s0[1],
            "hwm_kb": s1[1], "rss_kb": s1[2], "result": "|".join(result)}


def baseline_run(coll, mode, command, keys=False):
    cmd = [str(BASELINE), URI, MDB, coll, mode, command, "--batch", str(BATCH)]
    if keys:
        cmd += ["--keys", str(OUT / "join_keys.txt")]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"baseline failed: {p.stderr.strip()}")
    line = [l for l in p.stdout.splitlines() if l.startswith("wall_ms=")][-1]
    d = dict(kv.split("=") for kv in line.split())
    return {"wall_ms": float(d["wall_ms"]), "cpu_ms": float(d["cpu_ms"]), "finds": int(d["finds"]),
            "docs": int(d["docs"]), "values": int(d["values"]), "checksum": d["checksum"]}


def explain(query, settings="", analyze=False):
    opts = "ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF" if analyze else "COSTS OFF"
    out = psql(PRELUDE + settings + f"EXPLAIN ({opts}) {query};\n")
    cmds = re.findall(r"MongoDB Command: (.*)$", out, re.M)
    finds = sum(int(x) for x in re.findall(r"MongoDB Finds: (\d+)", out))
    docs = sum(int(x) for x in re.findall(r"MongoDB Documents: (\d+)", out))
    return {"plan": out.rstrip("\n"), "commands": cmds, "finds": finds, "documents": docs}


def med(runs, key="wall_ms"):
    return statistics.median(r[key] for r in runs)


def interleaved(variants):
    """variants: {name: thunk or (thunk, runs)}.  Runs each RUNS (or its
    own number of) times, interleaved, rotating the order every round."""
    names = list(variants)
    runs = {n: (v[1] if isinstance(v, tuple) else RUNS) for n, v in variants.items()}
    thunk = {n: (v[0] if isinstance(v, tuple) else v) for n, v in variants.items()}
    res = {n: [] for n in names}
    rounds = max(runs.values())
    for r in range(rounds):
        k = r % len(names)
        done = []
        for n in names[k:] + names[:k]:
            if r < runs[n]:
                res[n].append(thunk[n]())
                done.append(n)
        log("  run %d/%d: %s" % (r + 1, rounds, ", ".join(f"{n} {res[n][-1]['wall_ms']:.0f} ms" for n in names if n in done)))
    return res


def summarize(runs):
    return {"median_ms": med(runs), "min_ms": min(r["wall_ms"] for r in runs),
            "max_ms": max(r["wall_ms"] for r in runs), "median_cpu_ms": med(runs, "cpu_ms"),
            "runs": runs}


# --------------------------------------------------------------------- benchmarks

Q_SCAN = f"SELECT count(*), sum(num_nonnulls({ALL_COLS})) FROM recipes"
Q_FILTER = Q_SCAN + f" WHERE category_id = {CATEGORY}"
Q_JOIN = ("SELECT count(*), sum(num_nonnulls(k.price_cents, c.title, c.kcal, c.tags, c.rating))"
          " FROM recipe_meta k JOIN recipes_join c ON c._id = k.mongodb_recipe_id")
FORCE_NL = "SET enable_hashjoin = off;\nSET enable_mergejoin = off;\nSET enable_material = off;\n"


def q_root(table):
    return f"SELECT count(*), sum(num_nonnulls(doc)) FROM {table}"


def q_plain(table):
    return f"SELECT count(*), sum(num_nonnulls({ALL_COLS})) FROM {table}"


def bench_scan():
    log(f"1. full scan of {N_DOCS} documents, {len(COLUMNS)} columns")
    ex = explain(Q_SCAN)
    command = ex["commands"][0]
    runs = interleaved({"fdw": lambda: fdw_run(Q_SCAN),
                        "baseline": lambda: baseline_run(COLL_MAIN, "find", command)})
    fdw, base = summarize(runs["fdw"]), summarize(runs["baseline"])
    docs = int(runs["fdw"][0]["result"].split("|")[0])
    if docs != N_DOCS or any(r["docs"] != N_DOCS for r in runs["baseline"]):
        raise RuntimeError(f"full scan returned {docs} rows (baseline {runs['baseline'][0]['docs']}), expected {N_DOCS}")
    return {"query": Q_SCAN, "command": command, "docs": N_DOCS, "fdw": fdw, "baseline": base,
            "fdw_rows_s": N_DOCS / fdw["median_ms"] * 1000, "baseline_rows_s": N_DOCS / base["median_ms"] * 1000,
            "ratio": base["median_ms"] / fdw["median_ms"], "target": TARGET_SCAN,
            "met": base["median_ms"] / fdw["median_ms"] >= TARGET_SCAN,
            "cpu_us_per_doc_fdw": fdw["median_cpu_ms"] * 1000 / N_DOCS,
            "cpu_us_per_doc_baseline": base["median_cpu_ms"] * 1000 / N_DOCS}


def bench_filter(matched):
    log(f"2. selective filter category_id = {CATEGORY} ({matched} of {N_DOCS} documents)")
    ex = explain(Q_FILTER)
    command = ex["commands"][0]
    if "category_id" not in command:
        raise RuntimeError(f"the filter was not pushed down: {command}")
    ea = explain(Q_FILTER, analyze=True)
    runs = interleaved({"fdw": lambda: fdw_run(Q_FILTER),
                        "baseline": lambda: baseline_run(COLL_MAIN, "find", command)})
    fdw, base = summarize(runs["fdw"]), summarize(runs["baseline"])
    rows = int(runs["fdw"][0]["result"].split("|")[0])
    ratio = fdw["median_ms"] / base["median_ms"]
    return {"query": Q_FILTER, "command": command, "matched": matched, "rows": rows,
            "transferred": ea["documents"], "finds": ea["finds"], "baseline_docs": runs["baseline"][0]["docs"],
            "fdw": fdw, "baseline": base, "ratio": ratio, "target": TARGET_FILTER,
            "met": ratio <= TARGET_FILTER and ea["documents"] == matched}


def plan_shape(plan):
    lines = [l for l in plan.splitlines() if not l.strip().startswith("MongoDB")]
    return "\n".join(lines)


def bench_join():
    log(f"3. key join of {JOIN_KEYS} PostgreSQL rows to {JOIN_DOCS} documents")
    default_ex = explain(Q_JOIN)
    default_ea = explain(Q_JOIN, analyze=True)
    nl_ex = explain(Q_JOIN, FORCE_NL)
    nl_ea = explain(Q_JOIN, FORCE_NL, analyze=True)
    if "$param" not in " ".join(nl_ex["commands"]):
        raise RuntimeError("the forced nested loop is not parameterized:\n" + nl_ex["plan"])
    command = nl_ex["commands"][0]      # its projection; the baseline makes the filter
    runs = interleaved({
        "fdw_default": (lambda: fdw_run(Q_JOIN), CHEAP_RUNS),
        "fdw_nestloop": (lambda: fdw_run(Q_JOIN, FORCE_NL), SLOW_RUNS),
        "baseline_in": (lambda: baseline_run(COLL_JOIN, "in", command, keys=True), CHEAP_RUNS),
        "baseline_each": (lambda: baseline_run(COLL_JOIN, "each", command, keys=True), SLOW_RUNS),
    })
    s = {k: summarize(v) for k, v in runs.items()}
    rows = {k: int(runs[k][0]["result"].split("|")[0]) for k in ("fdw_default", "fdw_nestloop")}
    for k, v in rows.items():
        if v != JOIN_KEYS:
            raise RuntimeError(f"join {k} returned {v} rows, expected {JOIN_KEYS}")
    if runs["baseline_in"][0]["docs"] != JOIN_KEYS:
        raise RuntimeError(f"$in returned {runs['baseline_in'][0]['docs']} documents")
    base = s["baseline_in"]["median_ms"]
    return {"query": Q_JOIN, "keys": JOIN_KEYS, "docs": JOIN_DOCS, "command": command,
            "default_plan": plan_shape(default_ex["plan"]), "default_commands": default_ex["commands"],
            "default_finds": default_ea["finds"], "default_documents": default_ea["documents"],
            "nestloop_plan": plan_shape(nl_ex["plan"]), "nestloop_commands": nl_ex["commands"],
            "nestloop_finds": nl_ea["finds"], "nestloop_documents": nl_ea["documents"],
            **s,
            "ratio_default": s["fdw_default"]["median_ms"] / base,
            "ratio_nestloop": s["fdw_nestloop"]["median_ms"] / base,
            "ratio_each": s["baseline_each"]["median_ms"] / base,
            "ratio_nestloop_vs_each": s["fdw_nestloop"]["median_ms"] / s["baseline_each"]["median_ms"],
            "target": TARGET_JOIN,
            "met_default": s["fdw_default"]["median_ms"] / base <= TARGET_JOIN,
            "met_nestloop": s["fdw_nestloop"]["median_ms"] / base <= TARGET_JOIN}


def bench_memory(scan):
    log("4. memory: peak backend RSS (VmHWM) while scanning")
    rows = []

    def add(label, coll, docs, runs):
        rows.append({"label": label, "collection": coll, "docs": docs,
                     "hwm_before_kb": max(r["hwm_before_kb"] for r in runs),
                     "hwm_kb": max(r["hwm_kb"] for r in runs),
                     "wall_ms": med(runs), "cpu_ms": med(runs, "cpu_ms"), "runs": len(runs)})

    # Plain columns over the main collection: the benchmark 1 sessions.
    add("plain columns", COLL_MAIN, N_DOCS, scan["fdw"]["runs"])
    root_runs = []
    root_base = []
    ex = explain(q_root("recipes_root"))
    for r in range(max(1, SLOW_RUNS)):
        root_runs.append(fdw_run(q_root("recipes_root")))
        root_base.append(baseline_run(COLL_MAIN, "find", ex["commands"][0]))
        log(f"  $$ROOT run {r + 1}: fdw {root_runs[-1]['wall_ms']:.0f} ms, baseline {root_base[-1]['wall_ms']:.0f} ms")
    add("$$ROOT jsonb", COLL_MAIN, N_DOCS, root_runs)
    for label, table in (("plain columns", "recipes_join"), ("$$ROOT jsonb", "recipes_join_root")):
        q = q_plain(table) if "root" not in table else q_root(table)
        add(label, COLL_JOIN, JOIN_DOCS, [fdw_run(q)])
    if MEM_DOCS > N_DOCS:
        for label, table in (("plain columns", "recipes_mem"), ("$$ROOT jsonb", "recipes_mem_root")):
            q = q_plain(table) if "root" not in table else q_root(table)
            run = fdw_run(q)
            log(f"  {label} over {MEM_DOCS}: {run['wall_ms']:.0f} ms, VmHWM {run['hwm_kb'] / 1024:.1f} MB")
            add(label, COLL_MEM, MEM_DOCS, [run])
    peak = max(r["hwm_kb"] for r in rows)
    rs, bs = summarize(root_runs), summarize(root_base)
    return {"rows": rows, "bound_mb": MEM_BOUND_MB, "peak_kb": peak, "met": peak < MEM_BOUND_MB * 1024,
            "root_scan": {"command": ex["commands"][0], "fdw": rs, "baseline": bs,
                          "ratio": bs["median_ms"] / rs["median_ms"],
                          "cpu_us_per_doc_fdw": rs["median_cpu_ms"] * 1000 / N_DOCS,
                          "cpu_us_per_doc_baseline": bs["median_cpu_ms"] * 1000 / N_DOCS}}


# --------------------------------------------------------------------- profile

def profile(label, query, settings=""):
    """perf record (cpu-clock) of the backend during one run of query."""
    perf = shutil.which("perf")
    if not perf:
        return {"label": label, "error": "perf is not installed"}
    data = OUT / f"perf-{label}.data"
    for old in (data, data.with_name(data.name + ".old")):
        old.unlink(missing_ok=True)
    app = f"ng_bench_profile_{os.getpid()}"
    script = OUT / f"perf-{label}.sql"
    script.write_text(session_script(query, settings, pre="SELECT pg_sleep(1.5);\n"))
    env = os.environ.copy()
    env["PGAPPNAME"] = app
    ps = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", str(script)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env)
    pid = None
    for _ in range(100):
        out = psql(f"SELECT pid FROM pg_stat_activity WHERE application_name = {sql_lit(app)};").strip()
        if out:
            pid = int(out.split()[0])
            break
        time.sleep(0.05)
    if pid is None:
        ps.kill()
        ps.wait()
        return {"label": label, "error": "backend not found"}
    pr = subprocess.Popen([perf, "record", "-q", "-e", "cpu-clock", "-F", "9999", "-g", "-p", str(pid),
                           "-o", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out, err = ps.communicate()
    pr.send_signal(signal.SIGINT)
    try:
        pr.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pr.kill()
        pr.wait()
    if ps.returncode != 0 or not data.exists():
        return {"label": label, "error": f"psql rc={ps.returncode} {err.strip()} {pr.stderr.read().strip()}"}

    return {"label": label, "query": query, "settings": settings, **parse_perf(perf, data)}


def parse_perf(perf, data):
    """Self time by shared object and by function, inclusive time of the
    FDW's and the driver's functions, and the number of samples."""
    def perf_report(*args):
        p = subprocess.run([perf, "report", "-i", str(data), "--stdio", "-g", "none", *args],
                           capture_output=True, text=True)
        return p.stdout

    def clean(name):
        name = re.sub(r"(\s+-)+$", "", name.strip())          # empty IPC columns
        name = re.sub(r"\s+\[[.k]\]\s+", ": ", name, count=1)
        return re.sub(r"\s+", " ", name)

    def self_rows(sort):
        rows = []
        for line in perf_report("--no-children", "--sort", sort, "--percent-limit", "0.7").splitlines():
            m = re.match(r"\s*([\d.]+)%\s+(.*\S)\s*$", line)
            if m:
                rows.append((float(m.group(1)), clean(m.group(2))))
        return rows

    samples = 0
    for line in perf_report("--no-children", "-n", "--sort", "dso").splitlines():
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s", line)
        if m:
            samples += int(m.group(1))
    # Inclusive time of the FDW's and the driver's functions (callers
    # included), from the call graphs.
    inclusive = []
    for line in perf_report("--children", "--sort", "dso,symbol", "--percent-limit", "1").splitlines():
        m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+(\S+(?: \(deleted\))?)\s+\[[.k]\]\s+(.*?)[\s-]*$", line)
        if m and re.search(r"nutragenie|libbson|libmongoc", m.group(3)):
            inclusive.append((float(m.group(1)), float(m.group(2)), f"{m.group(3)}: {m.group(4)}"))
    return {"samples": samples, "by_dso": self_rows("dso"), "by_symbol": self_rows("dso,symbol")[:30],
            "inclusive": inclusive[:25]}


# --------------------------------------------------------------------- machine

def machine_info():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
        except Exception:
            return ""
    cpu = sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1") or sh(
        "sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1")
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    pgv = psql("SHOW server_version;").strip()
    mongoc = sh("pkg-config --modversion libmongoc-1.0 2>/dev/null || pkg-config --modversion mongoc2")
    bi = mongo_command({"buildInfo": 1})
    if EXTERNAL:
        server = f"MongoDB {bi.get('version', '?')} (external, MONGODB_URI)"
    else:
        m = re.search(r"github.com/FerretDB/FerretDB (v[\d.]+)", (ROOT / "test/ferretdb/go.mod").read_text())
        server = f"FerretDB {m.group(1) if m else '?'} (embedded, SQLite storage; reports wire version {bi.get('version', '?')})"
    commit = sh(f"git -C {ROOT} rev-parse --short HEAD 2>/dev/null")
    if commit and sh(f"git -C {ROOT} status --porcelain -- src sql Makefile 2>/dev/null"):
        commit += " (with uncommitted changes in src/ sql/ or Makefile)"
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform_release(), "postgresql": pgv, "libmongoc": mongoc, "server": server,
            "commit": commit, "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}


def platform_release():
    return os.uname().release


# --------------------------------------------------------------------- main

def installed_module():
    """(path, mtime, size) of the nutragenie.so the backends load."""
    d = psql("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR';").strip()
    p = Path(d) / "nutragenie.so"
    try:
        st = p.stat()
        return [str(p), st.st_mtime, st.st_size]
    except OSError:
        return [str(p), None, None]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    module_before = installed_module()
    log(f"docs={N_DOCS} join_docs={JOIN_DOCS} join_keys={JOIN_KEYS} mem_docs={MEM_DOCS} runs={RUNS}/{SLOW_RUNS} "
        f"seed={SEED} batch={BATCH}")
    setup_schema()
    res = {"config": {"docs": N_DOCS, "join_docs": JOIN_DOCS, "join_keys": JOIN_KEYS, "mem_docs": MEM_DOCS,
                      "runs": RUNS, "slow_runs": SLOW_RUNS, "cheap_runs": CHEAP_RUNS,
                      "overrides": {k: v for k, v in sorted(os.environ.items()) if k.startswith("NG_BENCH_") and k not in ("NG_BENCH_EXTERNAL", "NG_BENCH_OUT")}, "seed": SEED, "batch": BATCH, "mem_bound_mb": MEM_BOUND_MB,
                      "columns": len(COLUMNS)}}
    res["machine"] = machine_info()
    res["data"] = setup_data()
    res["scan"] = bench_scan()
    log(f"   ratio {res['scan']['ratio']:.3f} (target >= {TARGET_SCAN})")
    res["filter"] = bench_filter(res["data"]["matched_filter"])
    log(f"   ratio {res['filter']['ratio']:.3f} (target <= {TARGET_FILTER})")
    res["join"] = bench_join()
    log(f"   ratios default {res['join']['ratio_default']:.2f}, nested loop {res['join']['ratio_nestloop']:.2f}")
    res["memory"] = bench_memory(res["scan"])
    log(f"   peak VmHWM {res['memory']['peak_kb'] / 1024:.1f} MB (bound {MEM_BOUND_MB} MB)")
    res["profiles"] = []
    if PROFILE:
        log("profiling the backend (perf, cpu-clock) during one full scan of each kind")
        res["profiles"].append(profile("scan", Q_SCAN))
        res["profiles"].append(profile("root", q_root("recipes_root")))
        res["profiles"].append(profile("nestloop", Q_JOIN, FORCE_NL))
    res["elapsed_s"] = round(time.monotonic() - T0)
    res["module_changed"] = installed_module() != module_before
    if res["module_changed"]:
        log(f"WARNING: {module_before[0]} was replaced during the run (another make install?): "
            "the runs may have measured different builds")
    (OUT / "results.json").write_text(json.dumps(res, indent=1))
    log(f"results: {OUT / 'results.json'}")
    import report
    report.write(res, DOCS / "benchmarks.md", DOCS / "benchmarks.png", OUT)


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    main()
