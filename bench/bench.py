#!/usr/bin/python3
"""bench/bench.py: the read- and write-path benchmarks of nutragenie (run by bench/run).

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


def psql(script, appname=None, stderr=False, database=None):
    env = os.environ.copy()
    if appname:
        env["PGAPPNAME"] = appname
    if database:
        env["PGDATABASE"] = database
    p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                       input=script, text=True, capture_output=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"psql ({env.get('PGDATABASE', '')}) failed ({p.returncode}):\n{p.stderr.strip()}\n--- script:\n{script[:3000]}")
    return (p.stdout, p.stderr) if stderr else p.stdout


PRELUDE = "SET search_path = public, nutragenie;\nSET jit = off;\n"


def mongo_command(cmd):
    out = psql(PRELUDE + f"SELECT nutragenie_fdw.run_command({sql_lit(SERVER)}, {sql_lit(json.dumps(cmd))}::json);\n")
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
    # In public, explicitly: the extension's schema (second in search_path)
    # has tables of the same names (nutragenie.recipes).
    return (f"DROP FOREIGN TABLE IF EXISTS public.{name};\n"
            f"CREATE FOREIGN TABLE public.{name} (\n  {cols}\n) SERVER {SERVER}\n"
            f"  OPTIONS (collection {sql_lit(coll)}, batch_size {sql_lit(BATCH)});\n")


def setup_schema():
    uri, user, pw = split_credentials(URI)
    um = ""
    if user is not None:
        um = f" OPTIONS (username {sql_lit(user)}, password {sql_lit(pw)})"
    script = (
        "SET client_min_messages = warning;\n"
        "CREATE EXTENSION IF NOT EXISTS nutragenie CASCADE;\n"
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
    """Insert documents 1..n through nutragenie_fdw.run_command, LOAD_JOBS sessions in parallel."""
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
            f"SELECT nutragenie_fdw.run_command({sql_lit(SERVER)}, '{{\"ping\": 1}}') IS NOT NULL;\n"
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


def explain(query, settings="", analyze=False, verbose=False):
    opts = "ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF" if analyze else "COSTS OFF"
    if verbose:
        opts = "VERBOSE, " + opts
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
FORCE_BATCHED = "SET enable_hashjoin = off;\nSET enable_mergejoin = off;\n"
FORCE_NL = FORCE_BATCHED + "SET enable_material = off;\nSET nutragenie.enable_batched_join = off;\n"


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
    bj_ex = explain(Q_JOIN, FORCE_BATCHED)
    bj_ea = explain(Q_JOIN, FORCE_BATCHED, analyze=True)
    if "NutragenieBatchedKeyJoin" not in bj_ex["plan"]:
        raise RuntimeError("the forced plan is not a batched key join:\n" + bj_ex["plan"])
    nl_ex = explain(Q_JOIN, FORCE_NL)
    nl_ea = explain(Q_JOIN, FORCE_NL, analyze=True)
    if "$param" not in " ".join(nl_ex["commands"]):
        raise RuntimeError("the forced nested loop is not parameterized:\n" + nl_ex["plan"])
    command = nl_ex["commands"][0]      # its projection; the baseline makes the filter
    runs = interleaved({
        "fdw_default": (lambda: fdw_run(Q_JOIN), CHEAP_RUNS),
        "fdw_batched": (lambda: fdw_run(Q_JOIN, FORCE_BATCHED), CHEAP_RUNS),
        "fdw_nestloop": (lambda: fdw_run(Q_JOIN, FORCE_NL), SLOW_RUNS),
        "baseline_in": (lambda: baseline_run(COLL_JOIN, "in", command, keys=True), CHEAP_RUNS),
        "baseline_each": (lambda: baseline_run(COLL_JOIN, "each", command, keys=True), SLOW_RUNS),
    })
    s = {k: summarize(v) for k, v in runs.items()}
    rows = {k: int(runs[k][0]["result"].split("|")[0]) for k in ("fdw_default", "fdw_batched", "fdw_nestloop")}
    for k, v in rows.items():
        if v != JOIN_KEYS:
            raise RuntimeError(f"join {k} returned {v} rows, expected {JOIN_KEYS}")
    if runs["baseline_in"][0]["docs"] != JOIN_KEYS:
        raise RuntimeError(f"$in returned {runs['baseline_in'][0]['docs']} documents")
    base = s["baseline_in"]["median_ms"]
    return {"query": Q_JOIN, "keys": JOIN_KEYS, "docs": JOIN_DOCS, "command": command,
            "default_plan": plan_shape(default_ex["plan"]), "default_commands": default_ex["commands"],
            "default_finds": default_ea["finds"], "default_documents": default_ea["documents"],
            "batched_plan": plan_shape(bj_ex["plan"]), "batched_commands": bj_ex["commands"],
            "batched_finds": bj_ea["finds"], "batched_documents": bj_ea["documents"],
            "nestloop_plan": plan_shape(nl_ex["plan"]), "nestloop_commands": nl_ex["commands"],
            "nestloop_finds": nl_ea["finds"], "nestloop_documents": nl_ea["documents"],
            **s,
            "ratio_default": s["fdw_default"]["median_ms"] / base,
            "ratio_batched": s["fdw_batched"]["median_ms"] / base,
            "ratio_nestloop": s["fdw_nestloop"]["median_ms"] / base,
            "ratio_each": s["baseline_each"]["median_ms"] / base,
            "ratio_nestloop_vs_each": s["fdw_nestloop"]["median_ms"] / s["baseline_each"]["median_ms"],
            "target": TARGET_JOIN,
            "met_default": s["fdw_default"]["median_ms"] / base <= TARGET_JOIN,
            "met_batched": s["fdw_batched"]["median_ms"] / base <= TARGET_JOIN,
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
    pr = perf_attach(pid, data, 9999)
    out, err = ps.communicate()
    perf_stop(pr)
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


# --------------------------------------------------------------------- write path
#
# W1 bulk load: INSERT INTO recipes_w SELECT * FROM bench.wsrc (WRITE_DOCS
#    rows, one statement, batch_size BATCH) and COPY recipes_w FROM a file,
#    each timed from BEGIN until COMMIT returns (COMMIT waits for the
#    applier), against insert_many of the same documents in batches of BATCH.
# W2 latency of BEGIN; INSERT a PostgreSQL row; INSERT a document; COMMIT
#    (pgbench, one persistent session) against libpq INSERT + insert_one.
# W3 context: the same transaction from CONC_CLIENTS sessions, and
#    CONC_CLIENTS sessions incrementing one document.

W_BULK_DOCS = env_int("NG_BENCH_WRITE_DOCS", 100000)
W_COPY_RUNS = env_int("NG_BENCH_COPY_RUNS", 3)
W_COPY_DOCS = min(env_int("NG_BENCH_COPY_DOCS", 10000), W_BULK_DOCS)
W_TXNS = env_int("NG_BENCH_TXNS", 2000)
W_TXN_WARMUP = env_int("NG_BENCH_TXN_WARMUP", 20)
W_CLIENTS = env_int("NG_BENCH_CONC_CLIENTS", 8)
W_CONC_TXNS = env_int("NG_BENCH_CONC_TXNS", 100)
W_COUNTER_TXNS = env_int("NG_BENCH_COUNTER_TXNS", 200)
W_TXN_PER_RUN = max(1, W_TXNS // RUNS)
W_COMMIT_TIMEOUT = "1h"         # COMMIT must wait until MongoDB has everything
TARGET_BULK = 0.5               # FDW docs/s >= 0.5 x insert_many docs/s
TARGET_TXN = 2.0                # FDW median latency <= 2 x the client doing both writes

COLL_WBULK = "write_bulk"
COLL_WTXN = "write_txn"
COLL_WCOUNTER = "write_counter"
PGBENCH = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
W_PGOPTIONS = f"-c search_path=public,nutragenie -c jit=off -c nutragenie.commit_timeout={W_COMMIT_TIMEOUT}"
W_DOCFILE = OUT / "write_docs.jsonl"
W_COPYFILE = OUT / "write_docs.copy"
W_COPY_DOCFILE = OUT / "write_docs_copy.jsonl"     # the first W_COPY_DOCS documents
W_NOKEY = OUT / "write_nokey.txt"

if W_BULK_DOCS < 1000 or W_COPY_DOCS < 1 or W_TXNS < 1 or W_CLIENTS < 1 or W_CONC_TXNS < 1 or W_COUNTER_TXNS < 1:
    sys.exit("bench: NG_BENCH_WRITE_DOCS >= 1000, NG_BENCH_TXNS/CONC_*/COUNTER_TXNS >= 1")

# The small transaction, on both sides: one PostgreSQL row, one document.
W_TXN_PG_SQL = ("INSERT INTO bench.wtxn_pg (user_id, amount_cents, note) "
                "VALUES (:uid, :uid % 1000, 'bench');")
W_TXN_DOC_SQL = ("INSERT INTO txn_doc (user_id, kind, n, note, at) "
                 "VALUES (:uid, 'event', 1, 'bench', date_trunc('milliseconds', now()));")
W_TXN_SCRIPT = ("\\set uid random(1, 100000)\nBEGIN;\n" + W_TXN_PG_SQL + "\n" + W_TXN_DOC_SQL +
                "\nCOMMIT;\n")
# W2b (context): the same with an explicit _id, a new ObjectId from a
# sequence, which the FDW locks and checks for existence in MongoDB.
W_TXN_DOC_ID_SQL = ("INSERT INTO txn_doc (_id, user_id, kind, n, note, at) "
                    "VALUES (lpad(to_hex(nextval('bench.wtxn_oid')), 24, '0')::objectid, "
                    ":uid, 'event', 1, 'bench', date_trunc('milliseconds', now()));")
W_TXN_SCRIPT_ID = ("\\set uid random(1, 100000)\nBEGIN;\n" + W_TXN_PG_SQL + "\n" + W_TXN_DOC_ID_SQL +
                   "\nCOMMIT;\n")
W_COUNTER_SQL = "UPDATE counter_doc SET n = n + 1 WHERE _id = 'c';"
W_PGCOUNTER_SQL = "UPDATE bench.wcounter_pg SET n = n + 1 WHERE id = 1;"


def wsrc_select():
    """The typed columns of bench.wsrc from the JSON of bench.doc()."""
    return """
  (doc->'_id'->>'$oid')::objectid, (doc->>'recipe_no')::int, doc->>'title', doc->>'slug',
  (doc->>'category_id')::int, doc->>'cuisine', (doc->'nutrition'->>'calories')::int,
  (doc->'nutrition'->>'protein_g')::float8, (doc->'nutrition'->>'fat_g')::float8,
  (doc->'nutrition'->>'carbs_g')::float8, doc->'author'->>'name', doc->'author'->>'country',
  ARRAY(SELECT json_array_elements_text(doc->'tags')), (doc->'ingredients')::jsonb,
  (doc->'views'->>'$numberLong')::bigint, (doc->>'rating')::float8,
  timestamptz 'epoch' + (doc->'created_at'->'$date'->>'$numberLong')::bigint * interval '1 millisecond',
  (doc->'owner_id'->>'$oid')::objectid, (doc->>'is_public')::bool, (doc->>'is_vegan')::bool,
  (doc->>'servings')::int, (doc->>'prep_minutes')::int, doc->>'instructions'"""


def setup_writes():
    """Source rows for the bulk load (a PostgreSQL table with the foreign
    table's columns), the same documents as Extended JSON for insert_many and
    as COPY text, the foreign tables and the PostgreSQL tables."""
    t = time.monotonic()
    cols = ",\n  ".join(f"{c} {ty}" for c, ty, _ in COLUMNS)
    psql(PRELUDE + f"""
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench.wsrc_json, bench.wsrc, bench.wtxn_pg, bench.wcounter_pg;
CREATE TABLE bench.wsrc_json AS
  SELECT i, bench.doc(i, {SEED}) AS doc FROM generate_series(1, {W_BULK_DOCS}) i;
CREATE TABLE bench.wsrc (
  {cols});
INSERT INTO bench.wsrc SELECT {wsrc_select()}
  FROM bench.wsrc_json ORDER BY i;
VACUUM ANALYZE bench.wsrc;
CREATE TABLE bench.wtxn_pg (
  id bigserial PRIMARY KEY, user_id int NOT NULL, amount_cents int NOT NULL,
  note text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE bench.wcounter_pg (id int PRIMARY KEY, n int NOT NULL);
DROP SEQUENCE IF EXISTS bench.wtxn_oid;
CREATE SEQUENCE bench.wtxn_oid;
INSERT INTO bench.wcounter_pg VALUES (1, 0);
""" + foreign_table("recipes_w", COLL_WBULK) + f"""
DROP FOREIGN TABLE IF EXISTS public.txn_doc, public.counter_doc;
CREATE FOREIGN TABLE public.txn_doc (_id objectid, user_id int, kind text, n int, note text, at timestamptz)
  SERVER {SERVER} OPTIONS (collection {sql_lit(COLL_WTXN)});
CREATE FOREIGN TABLE public.counter_doc (_id text, n int)
  SERVER {SERVER} OPTIONS (collection {sql_lit(COLL_WCOUNTER)});
""")
    # insert_many's documents: bench.doc() with the fields in the order the
    # FDW writes them (by field path: top level and nested documents sorted
    # by name; jsonb values as they are), so both sides store byte-identical
    # BSON (checked below by digest).
    p = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c",
                          "SELECT doc FROM bench.wsrc_json ORDER BY i"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    n = 0
    with open(W_DOCFILE, "w") as f, open(W_COPY_DOCFILE, "w") as fc:
        for line in p.stdout:
            d = json.loads(line)
            for k in ("nutrition", "author"):
                d[k] = dict(sorted(d[k].items()))
            line = json.dumps(dict(sorted(d.items())), ensure_ascii=False, separators=(",", ":")) + "\n"
            f.write(line)
            n += 1
            if n <= W_COPY_DOCS:
                fc.write(line)
    if p.wait() != 0 or n != W_BULK_DOCS:
        raise RuntimeError(f"exporting the documents failed ({n} lines): {p.stderr.read().strip()}")
    with open(W_COPYFILE, "w") as f:
        p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                            f"COPY (SELECT * FROM bench.wsrc WHERE recipe_no <= {W_COPY_DOCS} ORDER BY recipe_no) "
                            "TO STDOUT"], stdout=f, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"COPY ... bench.wsrc TO STDOUT failed: {p.stderr.strip()}")
    W_NOKEY.write_text("000000000000000000000001\n")
    size = int(psql("SELECT pg_table_size('bench.wsrc');").strip())
    log(f"write-path data: {W_BULK_DOCS} rows in bench.wsrc ({size / 1048576:.0f} MB), "
        f"{W_DOCFILE.stat().st_size / 1048576:.0f} MB of Extended JSON, in {time.monotonic() - t:.0f} s")
    return {"wsrc_bytes": size, "json_bytes": W_DOCFILE.stat().st_size}


# CPU time of the processes involved, from /proc: the PostgreSQL cluster
# (postmaster, its children, and the children it has reaped: backends that
# exited), the applier worker, and the MongoDB server (FerretDB's process;
# unknown for an external server).

def proc_stat(pid):
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return st[st.rindex(")") + 2:].split()


def proc_cpu_ms(pid):
    f = proc_stat(pid) if pid else None
    return None if f is None else (int(f[11]) + int(f[12])) * TICK_MS


def applier_pid():
    out = psql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'nutragenie applier' "
               "AND datname = current_database();").split()
    return int(out[0]) if out else None


def server_pid():
    if EXTERNAL or not os.environ.get("NG_STACK_DIR"):
        return None
    try:
        return int(Path(os.environ["NG_STACK_DIR"], "mongo", "pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    def __init__(self):
        self.applier = applier_pid()
        if self.applier is None:        # started by the first write of the database
            psql(PRELUDE + f"SET nutragenie.commit_timeout = '{W_COMMIT_TIMEOUT}';\n"
                 "INSERT INTO counter_doc VALUES ('warm-up', 0);\nDELETE FROM counter_doc;\n")
            self.applier = applier_pid()
        f = proc_stat(self.applier) if self.applier else None
        self.postmaster = int(f[1]) if f else None
        self.server = server_pid()

    def cluster_ms(self):
        if not self.postmaster:
            return None
        total = 0
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                f = proc_stat(d.name)
                if f and f[1] == str(self.postmaster):
                    total += int(f[11]) + int(f[12])
        f = proc_stat(self.postmaster)
        if f is None:
            return None
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        return total * TICK_MS

    def snap(self):
        return {"pg": self.cluster_ms(), "applier": proc_cpu_ms(self.applier),
                "server": proc_cpu_ms(self.server)}

    @staticmethod
    def delta(a, b):
        return {k: (b[k] - a[k] if a[k] is not None and b[k] is not None else None) for k in a}


def drop_collection(coll):
    mongo_command({"drop": coll})       # "ns not found" (ok 0) is fine


def mongo_count(coll):
    return int(mongo_command({"count": coll})["n"])


def outbox_rows():
    return int(psql("SELECT count(*) FROM nutragenie_fdw.outbox;").strip())


def wait_outbox_empty(timeout=600):
    deadline = time.monotonic() + timeout
    while outbox_rows() > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the outbox did not drain (see nutragenie_fdw.write_queue)")
        time.sleep(0.5)


def fresh_outbox():
    """Every FDW run starts from the same outbox: empty and vacuumed.  The
    dead index entries of the rows the previous run queued and the applier
    deleted would otherwise slow this run's outbox queries, by an amount
    that depends on when autovacuum last came by."""
    wait_outbox_empty()
    psql("VACUUM nutragenie_fdw.outbox;")


def digest(coll):
    p = subprocess.run([str(BASELINE), URI, MDB, coll, "digest", "-", "--batch", str(BATCH)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"baseline digest failed: {p.stderr.strip()}")
    return dict(kv.split("=") for kv in p.stdout.split())


def bulk_fdw_run(kind, meter, check_digest=False):
    """One bulk load through the FDW, from BEGIN until COMMIT returns."""
    expected = W_BULK_DOCS if kind == "insert" else W_COPY_DOCS
    drop_collection(COLL_WBULK)
    fresh_outbox()
    body = ("INSERT INTO recipes_w SELECT * FROM bench.wsrc;\n" if kind == "insert"
            else f"\\copy recipes_w FROM {sql_lit(W_COPYFILE)}\n")
    script = (PRELUDE + f"SET nutragenie.commit_timeout = '{W_COMMIT_TIMEOUT}';\n"
              f"SELECT nutragenie_fdw.run_command({sql_lit(SERVER)}, '{{\"ping\": 1}}') IS NOT NULL;\n"
              "SELECT count(*) FROM bench.wsrc;\n" +
              STAT_SQL.format(tag="S0") + "\\timing on\nBEGIN;\n" + body + "COMMIT;\n\\timing off\n" +
              STAT_SQL.format(tag="S1"))
    c0 = meter.snap()
    out, err = psql(script, stderr=True)
    time.sleep(0.2)                     # let the postmaster reap the backend
    cpu = CpuMeter.delta(c0, meter.snap())
    times = [float(m) for m in re.findall(r"^Time: ([\d.]+) ms", out, re.M)]
    s0 = s1 = None
    for line in out.splitlines():
        if line.startswith("S0|"):
            s0 = parse_stat(line)
        elif line.startswith("S1|"):
            s1 = parse_stat(line)
    if len(times) != 3 or s0 is None or s1 is None:
        raise RuntimeError(f"unexpected psql output of the bulk {kind}:\n{out[-2000:]}\n{err[-2000:]}")
    if "WARNING" in err:
        raise RuntimeError(f"bulk {kind}: {err.strip()}")
    n = mongo_count(COLL_WBULK)
    queued = outbox_rows()
    if n != expected or queued:
        raise RuntimeError(f"after COMMIT of the bulk {kind}: {n} documents in MongoDB (expected "
                           f"{expected}), {queued} outbox rows left")
    r = {"wall_ms": sum(times), "stmt_ms": times[1], "commit_ms": times[2],
         "backend_cpu_ms": s1[0] - s0[0], "pg_cpu_ms": cpu["pg"], "applier_cpu_ms": cpu["applier"],
         "server_cpu_ms": cpu["server"], "docs": n}
    if check_digest:
        r["digest"] = digest(COLL_WBULK)
    return r


def bulk_baseline_run(meter, check_digest=False, docs=W_BULK_DOCS):
    drop_collection(COLL_WBULK)
    c0 = meter.snap()
    p = subprocess.run([str(BASELINE), URI, MDB, COLL_WBULK, "insert",
                        str(W_DOCFILE if docs == W_BULK_DOCS else W_COPY_DOCFILE),
                        "--batch", str(BATCH)], capture_output=True, text=True)
    cpu = CpuMeter.delta(c0, meter.snap())
    if p.returncode != 0:
        raise RuntimeError(f"baseline insert failed: {p.stderr.strip()}")
    d = dict(kv.split("=") for kv in p.stdout.split())
    n = mongo_count(COLL_WBULK)
    if n != docs or int(d["docs"]) != docs:
        raise RuntimeError(f"insert_many stored {n} documents, expected {docs}")
    r = {"wall_ms": float(d["wall_ms"]), "cpu_ms": float(d["cpu_ms"]), "calls": int(d["calls"]),
         "bytes": int(d["bytes"]), "server_cpu_ms": cpu["server"], "pg_cpu_ms": cpu["pg"], "docs": n}
    if check_digest:
        r["digest"] = digest(COLL_WBULK)
    return r


def summarize_w(runs, keys):
    s = {"median_ms": med(runs), "min_ms": min(r["wall_ms"] for r in runs),
         "max_ms": max(r["wall_ms"] for r in runs), "runs": runs}
    for k in keys:
        vals = [r[k] for r in runs if r.get(k) is not None]
        s["median_" + k] = statistics.median(vals) if vals else None
    return s


def bench_bulk(meter):
    log(f"W1. bulk load of {W_BULK_DOCS} documents: INSERT ... SELECT"
        + (f" and COPY of {W_COPY_DOCS} ({W_COPY_RUNS} run{'s' if W_COPY_RUNS != 1 else ''})" if W_COPY_RUNS else "")
        + f" vs insert_many in batches of {BATCH}")
    first = {}

    def once(name, fn):
        def thunk():
            r = fn(name not in first)
            first.setdefault(name, r)
            return r
        return thunk

    variants = {"fdw_insert": once("fdw_insert", lambda d: bulk_fdw_run("insert", meter, d)),
                "baseline": once("baseline", lambda d: bulk_baseline_run(meter, d))}
    copy_base = "baseline"
    if W_COPY_RUNS > 0:
        variants["fdw_copy"] = (once("fdw_copy", lambda d: bulk_fdw_run("copy", meter, d)), W_COPY_RUNS)
        if W_COPY_DOCS < W_BULK_DOCS:
            copy_base = "baseline_copy"
            variants[copy_base] = (once(copy_base, lambda d: bulk_baseline_run(meter, d, W_COPY_DOCS)),
                                   W_COPY_RUNS)
    runs = interleaved(variants)
    keys = ("stmt_ms", "commit_ms", "backend_cpu_ms", "pg_cpu_ms", "applier_cpu_ms", "server_cpu_ms", "cpu_ms")
    s = {k: summarize_w(v, keys) for k, v in runs.items()}
    digests = {k: v["digest"] for k, v in first.items()}
    same = len({(d["docs"], d["bytes"], d["digest"]) for k, d in digests.items()
                if k in ("fdw_insert", "baseline")}) == 1
    same_copy = len({(d["docs"], d["bytes"], d["digest"]) for k, d in digests.items()
                     if k in ("fdw_copy", copy_base)}) == 1
    base = s["baseline"]["median_ms"]
    res = {"docs": W_BULK_DOCS, "batch": BATCH, "statement": "INSERT INTO recipes_w SELECT * FROM bench.wsrc",
           "copy_statement": f"\\copy recipes_w FROM '{W_COPYFILE.name}'", **s, "digests": digests,
           "same_documents": same, "bytes": runs["baseline"][0]["bytes"],
           "calls": runs["baseline"][0]["calls"], "target": TARGET_BULK,
           "fdw_docs_s": W_BULK_DOCS / s["fdw_insert"]["median_ms"] * 1000,
           "baseline_docs_s": W_BULK_DOCS / base * 1000,
           "ratio": base / s["fdw_insert"]["median_ms"]}
    res["met"] = res["ratio"] >= TARGET_BULK and same
    if "fdw_copy" in s:
        cb = s[copy_base]["median_ms"]
        res.update({"copy_docs": W_COPY_DOCS, "copy_baseline": copy_base, "same_documents_copy": same_copy,
                    "copy_docs_s": W_COPY_DOCS / s["fdw_copy"]["median_ms"] * 1000,
                    "copy_baseline_docs_s": W_COPY_DOCS / cb * 1000,
                    "copy_ratio": cb / s["fdw_copy"]["median_ms"]})
        res["copy_met"] = res["copy_ratio"] >= TARGET_BULK and same_copy
        log(f"   COPY of {W_COPY_DOCS}: {res['copy_docs_s']:,.0f} docs/s vs insert_many "
            f"{res['copy_baseline_docs_s']:,.0f} docs/s: ratio {res['copy_ratio']:.2f}")
    log(f"   INSERT ... SELECT {res['fdw_docs_s']:,.0f} docs/s, insert_many {res['baseline_docs_s']:,.0f} docs/s: "
        f"ratio {res['ratio']:.2f} (target >= {TARGET_BULK}); same documents: {same}")
    return res


def parse_pgbench(out):
    r = {"statements": []}
    m = re.search(r"^tps = ([\d.]+)", out, re.M)
    r["tps"] = float(m.group(1)) if m else None
    m = re.search(r"^latency average = ([\d.]+) ms", out, re.M)
    r["latency_avg_ms"] = float(m.group(1)) if m else None
    m = re.search(r"^number of failed transactions: (\d+)", out, re.M)
    r["failed"] = int(m.group(1)) if m else 0
    m = re.search(r"^number of transactions actually processed: (\d+)", out, re.M)
    r["processed"] = int(m.group(1)) if m else None
    tail = out.split("statement latencies in milliseconds", 1)
    if len(tail) == 2:
        for line in tail[1].splitlines()[1:]:
            m = re.match(r"^\s+([\d.]+)\s+(\d+)\s+(.*\S)\s*$", line)
            if m and not m.group(3).startswith("\\"):
                r["statements"].append({"ms": float(m.group(1)), "failures": int(m.group(2)),
                                        "sql": m.group(3)})
    return r


def run_pgbench(script, clients, txns, log_prefix=None, wait_for_pid=None):
    path = OUT / f"pgbench-{abs(hash(script)) % 100000}.sql"
    path.write_text(script)
    cmd = [PGBENCH, "-n", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)),
           "-t", str(txns), "-r", "-f", str(path), "--random-seed", str(SEED)]
    if log_prefix:
        for old in OUT.glob(log_prefix.name + ".*"):
            old.unlink()
        cmd += ["-l", "--log-prefix", str(log_prefix)]
    env = os.environ.copy()
    env["PGOPTIONS"] = W_PGOPTIONS
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if wait_for_pid:
        wait_for_pid(p)
    out, _ = p.communicate()
    wall = (time.monotonic() - t) * 1000
    if p.returncode not in (0, 2) or "processed" not in out:      # 2: some transactions failed
        raise RuntimeError(f"pgbench failed ({p.returncode}):\n{out[-3000:]}")
    r = parse_pgbench(out)
    r["wall_ms"] = wall
    if log_prefix:
        lat = []
        for f in sorted(OUT.glob(log_prefix.name + ".*")):
            for line in f.read_text().splitlines():
                parts = line.split()
                lat.append((int(parts[1]), int(parts[0]), float(parts[2])))   # (txn no, client, us)
            f.unlink()
        r["latencies_us"] = [x[2] for x in sorted(lat)]
    return r


def pct(vals, q):
    v = sorted(vals)
    if not v:
        return None
    k = (len(v) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def lat_stats(us):
    return {"n": len(us), "median_us": pct(us, 0.5), "p95_us": pct(us, 0.95), "p99_us": pct(us, 0.99),
            "mean_us": statistics.fmean(us) if us else None, "min_us": min(us) if us else None,
            "max_us": max(us) if us else None}


def pg_rows(table):
    return int(psql(f"SELECT count(*) FROM {table};").strip())


def txn_fdw_run(meter, script=W_TXN_SCRIPT):
    drop_collection(COLL_WTXN)
    fresh_outbox()
    n = W_TXN_PER_RUN + W_TXN_WARMUP
    rows0 = pg_rows("bench.wtxn_pg")
    c0 = meter.snap()
    r = run_pgbench(script, 1, n, log_prefix=OUT / "pgbench-txn")
    time.sleep(0.2)
    cpu = CpuMeter.delta(c0, meter.snap())
    rows, docs = pg_rows("bench.wtxn_pg") - rows0, mongo_count(COLL_WTXN)
    if r["failed"] or rows != n or docs != n or len(r["latencies_us"]) != n:
        raise RuntimeError(f"FDW transactions: {r['failed']} failed, {rows} rows, {docs} documents, "
                           f"{len(r['latencies_us'])} logged; expected {n}")
    lat = r["latencies_us"][W_TXN_WARMUP:]
    return {"wall_ms": pct(lat, 0.5) / 1000, "latencies_us": lat, "statements": r["statements"],
            "total_ms": r["wall_ms"], "txns": n, "pg_cpu_ms": cpu["pg"], "applier_cpu_ms": cpu["applier"],
            "server_cpu_ms": cpu["server"]}


def baseline_txn(reps, seed=SEED):
    return subprocess.Popen([str(BASELINE), URI, MDB, COLL_WTXN, "txn", "bench.wtxn_pg",
                             "--reps", str(reps), "--seed", str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def parse_baseline_txn(p):
    out, err = p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"baseline txn failed: {err.strip()}")
    reps = [dict(kv.split("=") for kv in l.split()) for l in out.splitlines() if l.startswith("us=")]
    summary = dict(kv.split("=") for kv in [l for l in out.splitlines() if l.startswith("wall_ms=")][0].split())
    return ([float(x["us"]) for x in reps], [float(x["pg_us"]) for x in reps],
            [float(x["mongo_us"]) for x in reps], float(summary["wall_ms"]), float(summary["cpu_ms"]))


def txn_baseline_run(meter):
    drop_collection(COLL_WTXN)
    n = W_TXN_PER_RUN + W_TXN_WARMUP
    rows0 = pg_rows("bench.wtxn_pg")
    c0 = meter.snap()
    us, pg_us, mongo_us, wall, cpu_ms = parse_baseline_txn(baseline_txn(n))
    time.sleep(0.2)
    cpu = CpuMeter.delta(c0, meter.snap())
    rows, docs = pg_rows("bench.wtxn_pg") - rows0, mongo_count(COLL_WTXN)
    if rows != n or docs != n:
        raise RuntimeError(f"baseline transactions: {rows} rows, {docs} documents; expected {n}")
    w = W_TXN_WARMUP
    return {"wall_ms": pct(us[w:], 0.5) / 1000, "latencies_us": us[w:], "pg_us": pg_us[w:],
            "mongo_us": mongo_us[w:], "total_ms": wall, "cpu_ms": cpu_ms, "txns": n,
            "pg_cpu_ms": cpu["pg"], "server_cpu_ms": cpu["server"]}


def keyed_find_cost(docs):
    """What the FDW's duplicate check costs the server at a collection size:
    the driver sending the same find ({_id: {$in: [id]}}, projection _id)
    for an absent _id, and the same as {_id: id}; median of 15."""
    drop_collection(COLL_WTXN)
    if docs:
        for b in range(0, docs, 1000):
            mongo_command({"insert": COLL_WTXN, "documents": [
                {"user_id": i, "kind": "event", "n": 1, "note": "bench"} for i in range(b, min(b + 1000, docs))]})
    cmd = json.dumps({"find": COLL_WTXN, "projection": {"_id": 1}})
    res = {"docs": docs}
    for mode in ("in", "each"):
        p = subprocess.run([str(BASELINE), URI, MDB, COLL_WTXN, mode, cmd, "--keys", str(W_NOKEY),
                            "--repeat", "15"], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"baseline {mode} failed: {p.stderr.strip()}")
        res[mode + "_ms"] = statistics.median(
            float(re.search(r"wall_ms=([\d.]+)", l).group(1)) for l in p.stdout.splitlines() if "wall_ms=" in l)
    return res


def bench_txn(meter):
    log(f"W2. small transaction (one row + one document): {RUNS} runs of {W_TXN_PER_RUN} "
        f"(+{W_TXN_WARMUP} warm-up) per variant; the document's _id generated (W2) or given (W2b)")
    runs = interleaved({"fdw": lambda: txn_fdw_run(meter),
                        "fdw_explicit": lambda: txn_fdw_run(meter, W_TXN_SCRIPT_ID),
                        "baseline": lambda: txn_baseline_run(meter)})
    pooled = {k: [x for r in v for x in r["latencies_us"]] for k, v in runs.items()}
    st = {k: lat_stats(v) for k, v in pooled.items()}
    base = st["baseline"]

    def statements(side):
        """pgbench's per-statement averages over all runs (warm-up included)"""
        stm = {}
        for r in runs[side]:
            for i, x in enumerate(r["statements"]):
                stm.setdefault(i, {"sql": x["sql"], "ms": []})["ms"].append(x["ms"])
        return [{"sql": v["sql"], "avg_ms": statistics.fmean(v["ms"])} for _, v in sorted(stm.items())]

    # latency against the collection's size: the first and the last tenth of each run
    tenth = max(1, W_TXN_PER_RUN // 10)

    def early_late(side):
        return (statistics.median(x for r in runs[side] for x in r["latencies_us"][:tenth]),
                statistics.median(x for r in runs[side] for x in r["latencies_us"][-tenth:]))

    def per_txn_us(side, key):
        n = sum(len(r["latencies_us"]) + W_TXN_WARMUP for r in runs[side])
        vals = [r.get(key) for r in runs[side]]
        return None if any(v is None for v in vals) else sum(vals) / n * 1000

    log("   the existence check's find at the run's first and last collection size")
    checks = [keyed_find_cost(0), keyed_find_cost(W_TXN_PER_RUN + W_TXN_WARMUP)]
    res = {"runs": RUNS, "per_run": W_TXN_PER_RUN, "warmup": W_TXN_WARMUP, "script": W_TXN_SCRIPT,
           "script_explicit": W_TXN_SCRIPT_ID, "fdw": st["fdw"], "fdw_explicit": st["fdw_explicit"],
           "baseline": base, "tenth": tenth, "checks": checks, "target": TARGET_TXN,
           "baseline_pg_median_us": pct([x for r in runs["baseline"] for x in r["pg_us"]], 0.5),
           "baseline_mongo_median_us": pct([x for r in runs["baseline"] for x in r["mongo_us"]], 0.5),
           "baseline_pg_cpu_us": per_txn_us("baseline", "pg_cpu_ms"),
           "baseline_client_cpu_us": per_txn_us("baseline", "cpu_ms"),
           "baseline_server_cpu_us": per_txn_us("baseline", "server_cpu_ms")}
    for side, pre in (("fdw", "fdw"), ("fdw_explicit", "fdw_explicit"), ("baseline", "baseline")):
        res[pre + "_run_medians_us"] = [pct(r["latencies_us"], 0.5) for r in runs[side]]
    for side, pre in (("fdw", "fdw"), ("fdw_explicit", "fdw_explicit")):
        res[pre + "_early_median_us"], res[pre + "_late_median_us"] = early_late(side)
        res["statements" if side == "fdw" else "statements_explicit"] = statements(side)
        for key in ("pg_cpu", "applier_cpu", "server_cpu"):
            res[f"{pre}_{key}_us"] = per_txn_us(side, key + "_ms")
    res["ratio"] = st["fdw"]["median_us"] / base["median_us"]
    res["ratio_p95"] = st["fdw"]["p95_us"] / base["p95_us"]
    res["ratio_explicit"] = st["fdw_explicit"]["median_us"] / base["median_us"]
    res["met"] = res["ratio"] <= TARGET_TXN
    log(f"   median {st['fdw']['median_us'] / 1000:.2f} ms vs {base['median_us'] / 1000:.2f} ms: ratio "
        f"{res['ratio']:.2f} (target <= {TARGET_TXN}); p95 {st['fdw']['p95_us'] / 1000:.2f} vs "
        f"{base['p95_us'] / 1000:.2f} ms; explicit _id: median {st['fdw_explicit']['median_us'] / 1000:.2f} ms, "
        f"ratio {res['ratio_explicit']:.2f}")
    return res


def bench_concurrency():
    log(f"W3. {W_CLIENTS} sessions: the small transaction ({W_CONC_TXNS} each), "
        f"then incrementing one document ({W_COUNTER_TXNS} each)")
    n = W_CLIENTS * W_CONC_TXNS
    res = {"clients": W_CLIENTS, "txns_per_client": W_CONC_TXNS, "counter_txns_per_client": W_COUNTER_TXNS}
    drop_collection(COLL_WTXN)
    fresh_outbox()
    rows0 = pg_rows("bench.wtxn_pg")
    r = run_pgbench(W_TXN_SCRIPT, W_CLIENTS, W_CONC_TXNS)
    rows, docs = pg_rows("bench.wtxn_pg") - rows0, mongo_count(COLL_WTXN)
    res["txn"] = {**r, "rows": rows, "docs": docs, "expected": n, "consistent": rows == docs == n - r["failed"]}
    log(f"   FDW: {r['tps']:.0f} tps, {r['failed']} failed; {rows} rows, {docs} documents")
    # The same from CONC_CLIENTS baseline clients at once (context).
    drop_collection(COLL_WTXN)
    t = time.monotonic()
    procs = [baseline_txn(W_CONC_TXNS, SEED + i) for i in range(W_CLIENTS)]
    walls = [parse_baseline_txn(p)[3] for p in procs]
    res["baseline_txn"] = {"tps": n / (max(walls) / 1000), "elapsed_ms": (time.monotonic() - t) * 1000,
                           "docs": mongo_count(COLL_WTXN)}
    log(f"   baseline: {res['baseline_txn']['tps']:.0f} tps")
    # One document, CONC_CLIENTS sessions incrementing it.
    drop_collection(COLL_WCOUNTER)
    fresh_outbox()
    psql(PRELUDE + f"SET nutragenie.commit_timeout = '{W_COMMIT_TIMEOUT}';\n"
         "INSERT INTO counter_doc VALUES ('c', 0);\nUPDATE bench.wcounter_pg SET n = 0;\n")
    r = run_pgbench(W_COUNTER_SQL + "\n", W_CLIENTS, W_COUNTER_TXNS)
    final = int(mongo_command({"find": COLL_WCOUNTER, "filter": {"_id": "c"}})["cursor"]["firstBatch"][0]["n"])
    res["counter"] = {**r, "final": final, "expected": W_CLIENTS * W_COUNTER_TXNS - r["failed"],
                      "exact": final == W_CLIENTS * W_COUNTER_TXNS - r["failed"]}
    log(f"   counter: {r['tps']:.0f} tps, {r['failed']} failed, final n = {final}")
    r = run_pgbench(W_PGCOUNTER_SQL + "\n", W_CLIENTS, W_COUNTER_TXNS)
    res["pg_counter"] = {"tps": r["tps"], "failed": r["failed"],
                         "final": int(psql("SELECT n FROM bench.wcounter_pg;").strip())}
    log(f"   PostgreSQL-only counter: {r['tps']:.0f} tps")
    return res


# Profiles of the write path: the backend and the applier, perf attached to
# both during one more bulk INSERT and one more run of small transactions.

W_PROFILE_SKIP = re.compile(r"^(0x[0-9a-f]+|0+|main|__libc_start_call_main|__libc_start_main.*|_start|"
                            r"PostmasterMain|ServerLoop|BackendStartup|BackendRun|PostgresMain|"
                            r"StartBackgroundWorker|do_start_bgworker|maybe_start_bgworkers|__restore_rt|"
                            r"sigusr1_handler|ExitPostmaster|\[unknown\])$")


def parse_write_perf(perf, data, hz):
    def report(*args):
        return subprocess.run([perf, "report", "-i", str(data), "--stdio", "-g", "none", *args],
                              capture_output=True, text=True).stdout
    samples = 0
    by_dso = []
    for line in report("--no-children", "-n", "--sort", "dso").splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\d+)\s+(.*\S)\s*$", line)
        if m:
            samples += int(m.group(2))
            if float(m.group(1)) >= 1:
                by_dso.append((float(m.group(1)), m.group(3)))
    incl = []
    for line in report("--children", "--sort", "sym", "--percent-limit", "1.5").splitlines():
        m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+\[\.\]\s+(.*?)\s*$", line)
        if m and not W_PROFILE_SKIP.match(m.group(3)):
            incl.append((float(m.group(1)), float(m.group(2)), m.group(3)))
    return {"samples": samples, "cpu_ms": samples * 1000.0 / hz, "by_dso": by_dso, "inclusive": incl[:22]}


def perf_attach(pid, data, hz):
    for old in (data, data.with_name(data.name + ".old")):
        old.unlink(missing_ok=True)
    return subprocess.Popen([shutil.which("perf"), "record", "-q", "-e", "cpu-clock", "-F", str(hz), "-g",
                             "-p", str(pid), "-o", str(data)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def perf_stop(pr):
    pr.send_signal(signal.SIGINT)
    try:
        pr.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pr.kill()
        pr.wait()


def wait_backend(app, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = psql(f"SELECT pid FROM pg_stat_activity WHERE application_name = {sql_lit(app)} "
                   "AND backend_type = 'client backend';").split()
        if out:
            return int(out[0])
        time.sleep(0.02)
    return None


def write_profiles():
    perf = shutil.which("perf")
    if not perf:
        return [{"label": "write", "error": "perf is not installed"}]
    hz = 4999
    out = []
    apid = applier_pid()
    # 1. bulk INSERT ... SELECT
    drop_collection(COLL_WBULK)
    fresh_outbox()
    app = f"ng_bench_wprofile_{os.getpid()}"
    script = (PRELUDE + f"SET nutragenie.commit_timeout = '{W_COMMIT_TIMEOUT}';\n"
              f"SELECT nutragenie_fdw.run_command({sql_lit(SERVER)}, '{{\"ping\": 1}}') IS NOT NULL;\n"
              "SELECT pg_sleep(1.5);\n\\timing on\nBEGIN;\nINSERT INTO recipes_w SELECT * FROM bench.wsrc;\n"
              "COMMIT;\n")
    env = os.environ.copy()
    env["PGAPPNAME"] = app
    ps = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", "-"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    ps.stdin.write(script)
    ps.stdin.close()
    pid = wait_backend(app)
    if pid is None or apid is None:
        ps.kill()
        ps.wait()
        return [{"label": "bulk", "error": "backend or applier not found"}]
    d_b, d_a = OUT / "perf-write-bulk-backend.data", OUT / "perf-write-bulk-applier.data"
    prs = [perf_attach(pid, d_b, hz), perf_attach(apid, d_a, hz)]
    o = ps.stdout.read()
    ps.wait()
    for pr in prs:
        perf_stop(pr)
    times = [float(m) for m in re.findall(r"^Time: ([\d.]+) ms", o, re.M)]
    out.append({"label": "bulk", "what": f"INSERT INTO recipes_w SELECT * FROM bench.wsrc ({W_BULK_DOCS} rows)",
                "stmt_ms": times[1] if len(times) == 3 else None,
                "commit_ms": times[2] if len(times) == 3 else None,
                "backend": parse_write_perf(perf, d_b, hz), "applier": parse_write_perf(perf, d_a, hz)})
    # 2. small transactions, one session
    drop_collection(COLL_WTXN)
    fresh_outbox()
    n = W_TXN_PER_RUN + W_TXN_WARMUP
    d_b, d_a = OUT / "perf-write-txn-backend.data", OUT / "perf-write-txn-applier.data"
    prs = []

    def attach(p):
        pid = wait_backend("pgbench")
        if pid:
            prs.extend([perf_attach(pid, d_b, hz), perf_attach(apid, d_a, hz)])

    r = run_pgbench(W_TXN_SCRIPT, 1, n, wait_for_pid=attach)
    for pr in prs:
        perf_stop(pr)
    if prs:
        out.append({"label": "txn", "what": f"{n} small transactions, one pgbench session",
                    "txns": n, "latency_avg_ms": r["latency_avg_ms"],
                    "backend": parse_write_perf(perf, d_b, hz), "applier": parse_write_perf(perf, d_a, hz)})
    else:
        out.append({"label": "txn", "error": "pgbench backend not found"})
    return out


def bench_writes():
    t = time.monotonic()
    res = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
           "config": {"docs": W_BULK_DOCS, "batch": BATCH, "runs": RUNS, "copy_runs": W_COPY_RUNS,
                      "copy_docs": W_COPY_DOCS,
                      "txns": W_TXNS, "per_run": W_TXN_PER_RUN, "warmup": W_TXN_WARMUP,
                      "clients": W_CLIENTS, "conc_txns": W_CONC_TXNS, "counter_txns": W_COUNTER_TXNS,
                      "commit_timeout": W_COMMIT_TIMEOUT, "columns": len(COLUMNS)}}
    res["settings"] = dict(l.split("|", 1) for l in psql(
        "SELECT name || '|' || setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
        "('fsync', 'synchronous_commit', 'shared_buffers', 'nutragenie.applier_batch_size', "
        "'wal_level', 'full_page_writes') ORDER BY name;").split())
    res["data"] = setup_writes()
    meter = CpuMeter()
    res["cpu_sources"] = {"applier": meter.applier is not None, "server": meter.server is not None,
                          "pg": meter.postmaster is not None}
    res["bulk"] = bench_bulk(meter)
    res["txn"] = bench_txn(meter)
    res["conc"] = bench_concurrency()
    res["profiles"] = []
    if PROFILE:
        log("profiling the backend and the applier (perf, cpu-clock) during one more bulk load "
            "and one more run of small transactions")
        res["profiles"] = write_profiles()
    res["elapsed_s"] = round(time.monotonic() - t)
    return res


# --------------------------------------------------------------------- aggregates
#
# A1 SELECT category_id, count(*) FROM recipes_agg GROUP BY category_id: the
#    FDW pushes the grouping down as one aggregation pipeline; the baseline
#    (bench/baseline.c, mode aggregate) runs the same pipeline, taken from
#    EXPLAIN, through libmongoc.
# A2 the same on a text column with HAVING (pushed as a $match after the
#    $group; a text key also costs the FDW a check for ObjectIds among its
#    strings before the pipeline).
# A3 (context) count(col), min and max: pushed where the server accepts the
#    pipeline; a server that rejects it (FerretDB 1.x) makes the FDW run its
#    local plan, and the baseline then only reports the server's error.

AGG_DOCS = env_int("NG_BENCH_AGG_DOCS", 20000)
TARGET_AGG = 1.2                # FDW time <= 1.2 x the same pipeline through the driver
COLL_AGG = "recipes_agg"
AGG_HAVING = 150
Q_AGG = [   # label, what, query, judged, output columns
    ("A1", "GROUP BY an int column", "SELECT category_id, count(*) FROM recipes_agg GROUP BY category_id", True, 2),
    ("A2", "GROUP BY a text column, HAVING",
     f"SELECT cuisine, count(*) FROM recipes_agg GROUP BY cuisine HAVING count(*) > {AGG_HAVING}", True, 2),
    ("A3", "count(col), min, max",
     "SELECT category_id, count(servings), min(servings), max(prep_minutes) FROM recipes_agg GROUP BY category_id",
     False, 4),
]


def setup_agg():
    drop_collection(COLL_AGG)
    secs = load(COLL_AGG, AGG_DOCS)
    psql(PRELUDE + foreign_table("recipes_agg", COLL_AGG) + "ANALYZE recipes_agg;\n")
    return secs


def agg_rows(run, ncols):
    """The rows a psql run printed (fdw_run joins lines and fields with
    "|"), as a sorted list: the result's order is free."""
    f = run["result"].split("|") if run["result"] else []
    return sorted("|".join(f[i:i + ncols]) for i in range(0, len(f), ncols))


def bench_agg_one(label, what, query, judged, ncols):
    log(f"{label}. {what}: {query}")
    ex = explain(query, verbose=True)
    ea = explain(query, analyze=True)
    agg_cmds = [c for c in ex["commands"] if c.startswith('{"aggregate"')]
    res = {"label": label, "what": what, "query": query, "explain": ex["plan"], "explain_analyze": ea["plan"],
           "judged": judged, "target": TARGET_AGG}
    if not agg_cmds:
        res["error"] = "the aggregate was not pushed down (no aggregate command in EXPLAIN)"
        log("   " + res["error"])
        if judged:
            res["met"] = False
        return res
    command = agg_cmds[0]
    res["command"] = command
    res["pipeline"] = json.loads(command).get("pipeline")
    res["aggregates"] = sum(int(x) for x in re.findall(r"MongoDB Aggregates: (\d+)", ea["plan"]))
    res["checks"] = sum(int(x) for x in re.findall(r"MongoDB Checks: (\d+)", ea["plan"]))
    res["fallback_finds"] = ea["finds"]
    res["fallback_documents"] = ea["documents"]
    # Does the server run the pipeline itself?
    p = subprocess.run([str(BASELINE), URI, MDB, COLL_AGG, "aggregate", command], capture_output=True, text=True)
    if p.returncode != 0:
        res["server_error"] = p.stderr.strip()
        log(f"   the server rejects the pipeline ({res['server_error'][:200]}); the FDW runs its local plan")
        runs = interleaved({"fdw": lambda: fdw_run(query)})
        res["fdw"] = summarize(runs["fdw"])
        res["pushed"] = False
        if judged:
            res["met"] = False
        return res
    res["pushed"] = res["aggregates"] > 0
    runs = interleaved({"fdw": lambda: fdw_run(query),
                        "baseline": lambda: baseline_run(COLL_AGG, "aggregate", command)})
    fdw, base = summarize(runs["fdw"]), summarize(runs["baseline"])
    groups = len(agg_rows(runs["fdw"][0], ncols))
    res.update({"fdw": fdw, "baseline": base, "groups": groups, "baseline_docs": runs["baseline"][0]["docs"],
                "ratio": fdw["median_ms"] / base["median_ms"],
                "result_sample": agg_rows(runs["fdw"][0], ncols)[:12]})
    if groups != runs["baseline"][0]["docs"]:
        res["mismatch"] = f"FDW returned {groups} groups, the pipeline {runs['baseline'][0]['docs']}"
        log("   WARNING: " + res["mismatch"])
    if judged:
        res["met"] = res["ratio"] <= TARGET_AGG and res["pushed"] and "mismatch" not in res
    log(f"   FDW {fdw['median_ms']:.0f} ms, pipeline {base['median_ms']:.0f} ms: ratio {res['ratio']:.2f}"
        + (f" (target <= {TARGET_AGG})" if judged else " (context)"))
    return res


def bench_aggregates():
    t = time.monotonic()
    res = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": machine_info(),
           "config": {"docs": AGG_DOCS, "runs": RUNS, "seed": SEED, "batch": BATCH},
           "overrides": overrides()}
    log(f"A. grouped aggregates over {AGG_DOCS} documents, {RUNS} runs")
    res["load_s"] = setup_agg()
    res["queries"] = [bench_agg_one(*q) for q in Q_AGG]
    res["elapsed_s"] = round(time.monotonic() - t)
    return res


# --------------------------------------------------------------------- ng_full_recipe
#
# F  nutragenie.ng_full_recipe(id) for random ids under pgbench (FR_CLIENTS
#    clients, -j 2, -T FR_SECONDS) with the document cache off
#    (nutragenie.cache_ttl = 0) and warm (the default TTL, every id read once
#    before the run), against the seed app's own service path: bench/node/
#    fullrecipe.js (pg + mongodb drivers, FR_CLIENTS async loops).  The domain
#    lives in its own database (FR_DB) attached to its own MongoDB database,
#    seeded by ng_seed_demo(FR_USERS, FR_RECIPES, 0).

FR_RECIPES = env_int("NG_BENCH_FR_RECIPES", 2000)
FR_USERS = env_int("NG_BENCH_FR_USERS", 10)
FR_SECONDS = env_int("NG_BENCH_FR_SECONDS", 20)
FR_RUNS = env_int("NG_BENCH_FR_RUNS", min(RUNS, 3))
FR_CLIENTS = env_int("NG_BENCH_FR_CLIENTS", 8)
FR_CACHE_SLOTS = env_int("NG_BENCH_FR_CACHE_SIZE", max(1024, 8 * FR_RECIPES))
FR_APPLIER_BATCH = 50          # see setup_fullrecipe
FR_DB = os.environ.get("NG_BENCH_FR_DATABASE", "nutragenie_bench_fr")      # PostgreSQL
FR_MDB = MDB + "_app"                                                      # MongoDB
FR_SERVER = "bench_app_srv"
TARGET_FR_NOCACHE = 1.0         # FDW calls/s >= 1.0 x the Node service's, cache off
TARGET_FR_CACHE = 3.0           # ... >= 3 x with a warm cache
NODE_DIR = BENCH / "node"
FR_SCRIPT = "\\set id random(1, :nrecipes)\nSELECT nutragenie.ng_full_recipe(:id);\n"

if FR_RECIPES < 1 or FR_SECONDS < 1 or FR_RUNS < 1 or FR_CLIENTS < 1 or FR_USERS < 3:
    sys.exit("bench: NG_BENCH_FR_RECIPES/SECONDS/RUNS/CLIENTS >= 1, NG_BENCH_FR_USERS >= 3")


def with_uri_option(uri, key, value):
    """uri with ?key=value added, unless the URI already sets key."""
    if re.search(r"[?&]" + re.escape(key) + "=", uri, re.I):
        return uri
    if "?" in uri:
        return f"{uri}&{key}={value}"
    m = re.match(r"^(mongodb(?:\+srv)?://[^/]*)(/.*)?$", uri)
    base, path = m.group(1), m.group(2) or "/"
    return f"{base}{path}?{key}={value}"


def frpsql(script, stderr=False):
    return psql(script, stderr=stderr, database=FR_DB)


def fr_cache_size():
    """Give the document cache room for every recipe: nutragenie.cache_size
    is fixed at server start, so raise it (ALTER SYSTEM) and restart the
    stack's PostgreSQL when it is smaller than FR_CACHE_SLOTS."""
    cur = int(psql("SHOW nutragenie.cache_size;").strip())
    if cur >= FR_CACHE_SLOTS:
        return {"slots": cur, "restarted": False}
    stack_dir = os.environ.get("NG_STACK_DIR")
    if not stack_dir:
        log(f"   WARNING: nutragenie.cache_size = {cur} < {FR_CACHE_SLOTS} and no test/stack to restart")
        return {"slots": cur, "restarted": False}
    log(f"   nutragenie.cache_size {cur} -> {FR_CACHE_SLOTS} (ALTER SYSTEM, restarting PostgreSQL)")
    psql(f"ALTER SYSTEM SET nutragenie.cache_size = {FR_CACHE_SLOTS};")
    p = subprocess.run(["bash", str(ROOT / "test" / "stack"), "restart-pg"], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"test/stack restart-pg failed: {p.stderr.strip()}")
    return {"slots": int(psql("SHOW nutragenie.cache_size;").strip()), "restarted": True, "was": cur}


def fr_counts():
    try:
        out = frpsql("SELECT count(*) || '|' || coalesce(min(id), 0) || '|' || coalesce(max(id), 0) "
                     "FROM nutragenie.recipes;\n"
                     f"SELECT (nutragenie_fdw.run_command({sql_lit(FR_SERVER)}, "
                     "'{\"count\": \"recipe_content\"}') ->> 'n');\n").split()
        n, lo, hi = (int(x) for x in out[0].split("|"))
        return n, lo, hi, int(out[1])
    except (RuntimeError, ValueError, IndexError):
        return None


def setup_fullrecipe():
    """The domain in database FR_DB: extension, server, ng_attach_mongo and
    ng_seed_demo; kept when it already holds FR_RECIPES recipes 1..N with
    their documents (NG_BENCH_STACK_DIR)."""
    uri, user, pw = split_credentials(URI)
    c = fr_counts() if psql(f"SELECT count(*) FROM pg_database WHERE datname = {sql_lit(FR_DB)};").strip() == "1" else None
    if c == (FR_RECIPES, 1, FR_RECIPES, FR_RECIPES):
        log(f"   reusing database {FR_DB}: {FR_RECIPES} recipes with their documents")
        return {"seed_s": None, "reused": True}
    t = time.monotonic()
    psql(f"DROP DATABASE IF EXISTS {FR_DB} WITH (FORCE);\nCREATE DATABASE {FR_DB};\n")
    um = f" OPTIONS (username {sql_lit(user)}, password {sql_lit(pw)})" if user is not None else ""
    frpsql("SET client_min_messages = warning;\nCREATE EXTENSION nutragenie CASCADE;\n"
           f"\\i {ROOT / 'test' / 'demo_seed.sql'}\n"
           f"CREATE SERVER {FR_SERVER} FOREIGN DATA WRAPPER nutragenie_fdw\n"
           f"  OPTIONS (uri {sql_lit(uri)}, database {sql_lit(FR_MDB)});\n"
           f"CREATE USER MAPPING FOR CURRENT_USER SERVER {FR_SERVER}{um};\n"
           f"SELECT nutragenie_fdw.run_command({sql_lit(FR_SERVER)}, '{{\"dropDatabase\": 1}}') IS NOT NULL;\n")
    # The seed's commit queues one ratingAnalytics update per recipe, which
    # the applier sends as one update command per round.  FerretDB 1.24
    # (SQLite) stops answering for good on an update command of more than
    # about 100 statements (seen here: the 100th of 100 updates never
    # returns), so the applier sends rounds of FR_APPLIER_BATCH rows while
    # the seed is applied; the setting is reset afterwards.
    small = not EXTERNAL
    if small:
        psql(f"ALTER SYSTEM SET nutragenie.applier_batch_size = {FR_APPLIER_BATCH};\nSELECT pg_reload_conf();\n")
    try:
        out = frpsql(f"SET nutragenie.commit_timeout = '{W_COMMIT_TIMEOUT}';\n"
                     f"SELECT nutragenie.ng_attach_mongo({sql_lit(FR_SERVER)}, {sql_lit(FR_MDB)}) IS NOT NULL;\n"
                     f"SELECT nutragenie_demo.ng_seed_demo({FR_USERS}, {FR_RECIPES}, 0);\n"
                     "VACUUM ANALYZE;\n")
    finally:
        if small:
            psql("ALTER SYSTEM RESET nutragenie.applier_batch_size;\nSELECT pg_reload_conf();\n")
    secs = time.monotonic() - t
    c = fr_counts()
    if c != (FR_RECIPES, 1, FR_RECIPES, FR_RECIPES):
        raise RuntimeError(f"after ng_seed_demo: (recipes, min id, max id, documents) = {c}, expected "
                           f"({FR_RECIPES}, 1, {FR_RECIPES}, {FR_RECIPES})")
    log(f"   seeded {FR_USERS} users and {FR_RECIPES} recipes in {secs:.0f} s: {out.strip().splitlines()[-1]}")
    return {"seed_s": secs, "reused": False, "seed": json.loads(out.strip().splitlines()[-1])}


def node_env():
    env = os.environ.copy()
    env["PGDATABASE"] = FR_DB
    return env


def node_install():
    if (NODE_DIR / "node_modules" / "pg").exists() and (NODE_DIR / "node_modules" / "mongodb").exists():
        return
    log("   npm ci in bench/node")
    p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"npm ci failed: {p.stderr.strip()[-2000:]}")


def node_cmd(*args):
    return ["node", str(NODE_DIR / "fullrecipe.js"), *args, "--mongo", URI, "--db", FR_MDB]


def fr_check(ids):
    """ng_full_recipe and the Node service's merged object for a few ids:
    the same title, ingredients, steps, nutrition and tags?"""
    out = []
    for i in ids:
        fdw = json.loads(frpsql(f"SELECT nutragenie.ng_full_recipe({i});").strip())
        p = subprocess.run(node_cmd("check", str(i)), capture_output=True, text=True, env=node_env())
        if p.returncode != 0:
            raise RuntimeError(f"fullrecipe.js check failed: {p.stderr.strip()}")
        node = json.loads(p.stdout)
        keys = ("title", "category", "servings", "mongodbRecipeId", "rating", "contentMissing")
        ckeys = ("description", "cuisine", "ingredients", "steps", "nutrition", "tags")
        diff = [k for k in keys if fdw.get(k) != node.get(k)]
        diff += ["content." + k for k in ckeys if (fdw.get("content") or {}).get(k) != (node.get("content") or {}).get(k)]
        out.append({"id": i, "same": not diff, "differs": diff,
                    "ingredients": len((fdw.get("content") or {}).get("ingredients") or []),
                    "steps": len((fdw.get("content") or {}).get("steps") or []),
                    "bytes": len(json.dumps(fdw))})
        if i == ids[0]:
            sample = {"fdw": fdw, "node": node}
    return out, sample


def cache_stats():
    line = frpsql("SELECT row_to_json(s) FROM nutragenie_fdw.cache_stats() s;").strip()
    return json.loads(line)


def fr_warm():
    t = time.monotonic()
    frpsql(f"SELECT count(nutragenie.ng_full_recipe(i)) FROM generate_series(1, {FR_RECIPES}) i;")
    return time.monotonic() - t


def fr_pgbench(cache):
    path = OUT / "pgbench-fullrecipe.sql"
    path.write_text(FR_SCRIPT)
    env = os.environ.copy()
    env["PGDATABASE"] = FR_DB
    env["PGOPTIONS"] = "-c jit=off" + ("" if cache else " -c nutragenie.cache_ttl=0")
    warm_s = fr_warm() if cache else None
    s0 = cache_stats()
    cmd = [PGBENCH, "-n", "-c", str(FR_CLIENTS), "-j", str(min(2, FR_CLIENTS)), "-T", str(FR_SECONDS),
           "-f", str(path), "-D", f"nrecipes={FR_RECIPES}", "--random-seed", str(SEED)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0 or "processed" not in p.stdout:
        raise RuntimeError(f"pgbench failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    s1 = cache_stats()
    r = parse_pgbench(p.stdout)
    hits, misses = s1["hits"] - s0["hits"], s1["misses"] - s0["misses"]
    return {"wall_ms": 1000.0 / r["tps"], "calls_s": r["tps"], "latency_avg_ms": r["latency_avg_ms"],
            "processed": r["processed"], "failed": r["failed"], "cache_hits": hits, "cache_misses": misses,
            "hit_ratio": hits / (hits + misses) if hits + misses else None, "warm_s": warm_s,
            "cache_entries": s1["entries"]}


def fr_node():
    p = subprocess.run(node_cmd("run", "--ids", str(FR_RECIPES), "--workers", str(FR_CLIENTS),
                                "--seconds", str(FR_SECONDS), "--seed", str(SEED)),
                       capture_output=True, text=True, env=node_env())
    if p.returncode != 0:
        raise RuntimeError(f"fullrecipe.js failed: {p.stderr.strip()}")
    d = json.loads(p.stdout.strip().splitlines()[-1])
    if d["errors"] or d["missing"]:
        raise RuntimeError(f"fullrecipe.js: {d['errors']} errors, {d['missing']} missing ({d.get('first_error')})")
    return {"wall_ms": 1000.0 / d["calls_s"], **d}


def fr_explain():
    """Where one uncached call's time goes: the plans of ng_full_recipe's two
    reads, and the function as a whole, timed in one session."""
    out = frpsql("SET nutragenie.cache_ttl = 0;\nSET jit = off;\n"
                 "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF) SELECT * FROM nutragenie.recipes WHERE id = 7;\n"
                 "EXPLAIN (ANALYZE, COSTS OFF) SELECT nutragenie_fdw.cached_document(nutragenie.ng_mongo_server(), "
                 f"{sql_lit(FR_MDB)}, 'recipe_content', jsonb_build_object('$oid', r.mongodb_recipe_id::text)) "
                 "FROM nutragenie.recipes r WHERE id = 7;\n"
                 "EXPLAIN (ANALYZE, COSTS OFF) SELECT nutragenie.ng_full_recipe(7);\n"
                 "\\timing on\n"
                 f"SELECT count(nutragenie.ng_full_recipe(1 + i % {FR_RECIPES})) FROM generate_series(1, 200) i;\n"
                 "SET nutragenie.cache_ttl = '5min';\n"
                 f"SELECT count(nutragenie.ng_full_recipe(1 + i % {FR_RECIPES})) FROM generate_series(1, 200) i;\n"
                 f"SELECT count(nutragenie.ng_full_recipe(1 + i % {FR_RECIPES})) FROM generate_series(1, 200) i;\n")
    times = [float(m) for m in re.findall(r"^Time: ([\d.]+) ms", out, re.M)]
    return {"plans": re.sub(r"\nTime: .*", "", out).strip(),
            # times: the first SELECT, the SET, the two SELECTs with the cache on
            "serial_ms_per_call": {"no_cache": times[0] / 200 if times else None,
                                   "cache_first": times[2] / 200 if len(times) > 2 else None,
                                   "cache_warm": times[3] / 200 if len(times) > 3 else None}}


def bench_fullrecipe():
    t = time.monotonic()
    log(f"F. ng_full_recipe(id) for {FR_RECIPES} recipes: pgbench -c {FR_CLIENTS} -j 2 -T {FR_SECONDS} "
        f"(cache off / warm) vs bench/node/fullrecipe.js ({FR_CLIENTS} workers), {FR_RUNS} runs each")
    res = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
           "config": {"recipes": FR_RECIPES, "users": FR_USERS, "seconds": FR_SECONDS, "runs": FR_RUNS,
                      "clients": FR_CLIENTS, "cache_slots": FR_CACHE_SLOTS, "database": FR_DB,
                      "mongo_database": FR_MDB, "script": FR_SCRIPT},
           "overrides": overrides()}
    node_install()
    res["node_versions"] = subprocess.run(
        ["node", "-e", "console.log(process.version + ' pg ' + require('pg/package.json').version + "
                       "' mongodb ' + require('mongodb/package.json').version)"],
        cwd=NODE_DIR, capture_output=True, text=True).stdout.strip()
    res["cache"] = fr_cache_size()
    res["setup"] = setup_fullrecipe()
    res["machine"] = machine_info()
    res["cache_ttl"] = frpsql("SHOW nutragenie.cache_ttl;").strip()
    ids = sorted({1, max(1, FR_RECIPES // 2), FR_RECIPES})
    res["check"], res["sample"] = fr_check(ids)
    same = all(c["same"] for c in res["check"])
    log(f"   same content on both sides for ids {ids}: {same}"
        + ("" if same else f" (differs: {[c['differs'] for c in res['check']]})"))
    res["explain"] = fr_explain()
    runs = interleaved({"fdw_nocache": lambda: fr_pgbench(False), "fdw_cache": lambda: fr_pgbench(True),
                        "node": fr_node} if FR_RUNS == RUNS else
                       {"fdw_nocache": (lambda: fr_pgbench(False), FR_RUNS),
                        "fdw_cache": (lambda: fr_pgbench(True), FR_RUNS), "node": (fr_node, FR_RUNS)})
    for k, v in runs.items():
        res[k] = {"median_calls_s": statistics.median(r["calls_s"] for r in v), "runs": v}
    node = res["node"]["median_calls_s"]
    res["ratio_nocache"] = res["fdw_nocache"]["median_calls_s"] / node
    res["ratio_cache"] = res["fdw_cache"]["median_calls_s"] / node
    res["met_nocache"] = res["ratio_nocache"] >= TARGET_FR_NOCACHE and same
    res["met_cache"] = res["ratio_cache"] >= TARGET_FR_CACHE and same
    res["same_content"] = same
    res["targets"] = {"nocache": TARGET_FR_NOCACHE, "cache": TARGET_FR_CACHE}
    res["elapsed_s"] = round(time.monotonic() - t)
    log(f"   calls/s: FDW no cache {res['fdw_nocache']['median_calls_s']:.0f}, warm cache "
        f"{res['fdw_cache']['median_calls_s']:.0f}, Node {node:.0f}: ratios {res['ratio_nocache']:.2f} "
        f"(target >= {TARGET_FR_NOCACHE}), {res['ratio_cache']:.2f} (target >= {TARGET_FR_CACHE})")
    return res


def overrides():
    return {k: v for k, v in sorted(os.environ.items())
            if k.startswith("NG_BENCH_") and k not in ("NG_BENCH_EXTERNAL", "NG_BENCH_OUT")}


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
    """(path, mtime, size) of the nutragenie_fdw.so the backends load."""
    d = psql("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR';").strip()
    p = Path(d) / "nutragenie_fdw.so"
    try:
        st = p.stat()
        return [str(p), st.st_mtime, st.st_size]
    except OSError:
        return [str(p), None, None]


def env_flag(name, default=True):
    v = os.environ.get(name, "")
    if v == "":
        return default
    return v.lower() not in ("0", "no", "off", "false")


READS = env_flag("NG_BENCH_READS")
WRITES = env_flag("NG_BENCH_WRITES")
AGG = env_flag("NG_BENCH_AGG")
FULLRECIPE = env_flag("NG_BENCH_FULLRECIPE")
READ_KEYS = ("config", "machine", "data", "scan", "filter", "join", "memory", "profiles", "elapsed_s",
             "module_changed")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    if not READS and not WRITES and not AGG and not FULLRECIPE:
        sys.exit("bench: NG_BENCH_READS=0, NG_BENCH_WRITES=0, NG_BENCH_AGG=0 and NG_BENCH_FULLRECIPE=0: nothing to run")
    module_before = installed_module()
    # A part that is skipped keeps its results from the previous run, if any.
    prev = {}
    try:
        prev = json.loads((OUT / "results.json").read_text())
    except (OSError, ValueError):
        pass
    setup_schema()
    res = {}
    if READS:
        log(f"docs={N_DOCS} join_docs={JOIN_DOCS} join_keys={JOIN_KEYS} mem_docs={MEM_DOCS} runs={RUNS}/{SLOW_RUNS} "
            f"seed={SEED} batch={BATCH}")
        res["config"] = {"docs": N_DOCS, "join_docs": JOIN_DOCS, "join_keys": JOIN_KEYS, "mem_docs": MEM_DOCS,
                         "runs": RUNS, "slow_runs": SLOW_RUNS, "cheap_runs": CHEAP_RUNS,
                         "overrides": {k: v for k, v in sorted(os.environ.items()) if k.startswith("NG_BENCH_") and k not in ("NG_BENCH_EXTERNAL", "NG_BENCH_OUT")}, "seed": SEED, "batch": BATCH, "mem_bound_mb": MEM_BOUND_MB,
                         "columns": len(COLUMNS)}
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
    elif "scan" in prev:
        log("NG_BENCH_READS=0: the read-path results are those of the previous run")
        res.update({k: prev[k] for k in READ_KEYS if k in prev})
        res["reads_reused"] = True
    if WRITES:
        t = time.monotonic()
        wmach = machine_info()          # the build and commit the write part starts with
        res["write"] = bench_writes()
        res["write"]["machine"] = wmach
        res["write"]["overrides"] = {k: v for k, v in sorted(os.environ.items())
                                     if k.startswith("NG_BENCH_") and k not in ("NG_BENCH_EXTERNAL", "NG_BENCH_OUT")}
        res["write"]["elapsed_s"] = round(time.monotonic() - t)
    elif "write" in prev:
        log("NG_BENCH_WRITES=0: the write-path results are those of the previous run")
        res["write"] = prev["write"]
        res["write_reused"] = True
    # Aggregates and ng_full_recipe: likewise kept from the previous run when skipped.
    for part, flag, fn, var in (("agg", AGG, bench_aggregates, "NG_BENCH_AGG"),
                                ("fullrecipe", FULLRECIPE, bench_fullrecipe, "NG_BENCH_FULLRECIPE")):
        if flag:
            res[part] = fn()
        elif part in prev:
            log(f"{var}=0: the {part} results are those of the previous run")
            res[part] = prev[part]
            res[part + "_reused"] = True
    changed = installed_module() != module_before
    if changed:
        log(f"WARNING: {module_before[0]} was replaced during the run (another make install?): "
            "the runs may have measured different builds")
    if READS:
        res["module_changed"] = changed
    if WRITES:
        res["write"]["module_changed"] = changed
    for part, flag in (("agg", AGG), ("fullrecipe", FULLRECIPE)):
        if flag:
            res[part]["module_changed"] = changed
    (OUT / "results.json").write_text(json.dumps(res, indent=1))
    log(f"results: {OUT / 'results.json'}")
    import report
    report.write(res, DOCS / "benchmarks.md", DOCS / "benchmarks.png", OUT)


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    main()
