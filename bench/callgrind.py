#!/usr/bin/python3
"""bench/callgrind.py: nutragenie vs mongo_fdw vs a raw libmongoc client
(run by bench/callgrind.sh inside the PostgreSQL 18 chroot).

Expects a running stack (PGHOST/PGPORT/PGUSER/PGDATABASE, MONGODB_URI),
NG_CG_STACK (its test/stack directory: the callgrind part stops its
PostgreSQL and runs `postgres --single` on its data directory) and
NG_BENCH_OUT (with the baseline client built in it).  Writes
NG_BENCH_OUT/callgrind.json and the callgrind files in NG_BENCH_OUT/callgrind/.

Only SQL and the built extension are used: nothing here knows nutragenie's
source layout.
"""
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

os.environ.setdefault("NG_BENCH_DATABASE", "nutragenie_cg")
os.environ["NG_BENCH_MEM_DOCS"] = "0"
os.environ["NG_BENCH_DOCS"] = os.environ.get("NG_BENCH_CG_DOCS", "50000")
os.environ["NG_BENCH_RUNS"] = os.environ.get("NG_BENCH_CG_RUNS", "5")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402  (the loader, the data shape, the run helpers)

OUT = B.OUT
CGDIR = OUT / "callgrind"
STACK = Path(os.environ["NG_CG_STACK"])
PGDATA = STACK / "pg" / "data"
PGBIN = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
N = B.N_DOCS
RUNS = B.RUNS
WRITE_DOCS = B.env_int("NG_BENCH_CG_WRITE_DOCS", 100000)
WRITE_RUNS = B.env_int("NG_BENCH_CG_WRITE_RUNS", min(RUNS, 3))
DO_CALLGRIND = os.environ.get("NG_BENCH_CG_CALLGRIND", "1") != "0"
DO_WALL = os.environ.get("NG_BENCH_CG_WALL", "1") != "0"
SPARSE_CATEGORY = 7             # rating and prep_minutes are removed from these documents (~1%)
MSERVER = "mongo_srv"
COLL_EMPTY = "recipes_empty"
log = B.log
psql = B.psql
sql_lit = B.sql_lit


# --------------------------------------------------------------------- setup

def mongo_fdw_table(name, coll):
    """A mongo_fdw foreign table on coll (columns named by field path) and a
    view `name` with nutragenie's column names over it, so that every query
    text is the same for both wrappers but for the table name."""
    cols, sel = [], []
    for cname, ctype, field in B.COLUMNS:
        # mongo_fdw reads ObjectIds as name and documents/arrays as json (not jsonb)
        t = {"objectid": "name", "jsonb": "json"}.get(ctype, ctype)
        f = field or cname
        cols.append(f'"{f}" {t}')
        sel.append(f'"{f}" AS {cname}')
    return (f"DROP VIEW IF EXISTS public.{name};\n"
            f"DROP FOREIGN TABLE IF EXISTS public.{name}_ft;\n"
            f"CREATE FOREIGN TABLE public.{name}_ft (\n  " + ",\n  ".join(cols) +
            f"\n) SERVER {MSERVER} OPTIONS (database {sql_lit(B.MDB)}, collection {sql_lit(coll)});\n"
            f"CREATE VIEW public.{name} AS SELECT " + ", ".join(sel) + f" FROM public.{name}_ft;\n")


WRITE_COLS = [("_id", "objectid"), ("recipe_no", "int"), ("title", "text"), ("rating", "float8"),
              ("views", "bigint"), ("created_at", "timestamptz"), ("is_vegan", "bool")]


def setup():
    B.setup_schema()
    uri, user, pw = B.split_credentials(B.URI)
    u = urlsplit(uri)
    # mongo_fdw takes one address: the first host of the URI
    first = urlsplit(f"{u.scheme}://{u.netloc.split(',')[0]}/")
    host = first.hostname or "127.0.0.1"
    port = first.port or 27017
    um = srv_auth = ""
    if user is not None:
        um = f" OPTIONS (username {sql_lit(user)}, password {sql_lit(pw)})"
        src = parse_qs(u.query).get("authSource", ["admin"])[0]
        srv_auth = f", authentication_database {sql_lit(src)}"
    wcols_ng = ", ".join(f"{c} {t}" for c, t in WRITE_COLS)
    wcols_mf = ", ".join(f"{c} {'name' if t == 'objectid' else t}" for c, t in WRITE_COLS)
    psql(B.PRELUDE + "SET client_min_messages = warning;\n"
         "CREATE EXTENSION IF NOT EXISTS mongo_fdw;\n"
         f"DROP SERVER IF EXISTS {MSERVER} CASCADE;\n"
         f"CREATE SERVER {MSERVER} FOREIGN DATA WRAPPER mongo_fdw\n"
         f"  OPTIONS (address {sql_lit(host)}, port {sql_lit(port)}{srv_auth});\n"
         f"CREATE USER MAPPING FOR CURRENT_USER SERVER {MSERVER}{um};\n"
         + B.foreign_table("recipes_empty", COLL_EMPTY)
         + B.foreign_table("recipes_empty_root", COLL_EMPTY, root=True)
         + mongo_fdw_table("m_recipes", B.COLL_MAIN)
         + mongo_fdw_table("m_recipes_join", B.COLL_JOIN)
         + mongo_fdw_table("m_recipes_empty", COLL_EMPTY)
         + "DROP FOREIGN TABLE IF EXISTS public.w_ng, public.w_mf;\n"
         f"CREATE FOREIGN TABLE public.w_ng ({wcols_ng}) SERVER {B.SERVER}"
         f" OPTIONS (collection 'w_ng', batch_size {sql_lit(B.BATCH)});\n"
         f"CREATE FOREIGN TABLE public.w_mf ({wcols_mf}) SERVER {MSERVER}"
         f" OPTIONS (database {sql_lit(B.MDB)}, collection 'w_mf');\n")


def setup_data():
    log(f"dropping MongoDB database {B.MDB}")
    B.mongo_command({"dropDatabase": 1})
    res = {"load_s": {}}
    res["load_s"][B.COLL_MAIN] = B.load(B.COLL_MAIN, N)
    B.mongo_command({"createIndexes": B.COLL_MAIN,
                     "indexes": [{"key": {"category_id": 1}, "name": "category_id_1"}]})
    res["load_s"][B.COLL_JOIN] = B.load(B.COLL_JOIN, B.JOIN_DOCS)
    B.mongo_command({"create": COLL_EMPTY})
    # sparse fields: no rating (double) and no prep_minutes (int32) in one
    # category: NULL ordering, an all-NULL group
    r = B.mongo_command({"update": B.COLL_MAIN, "updates": [
        {"q": {"category_id": SPARSE_CATEGORY}, "u": {"$unset": {"rating": "", "prep_minutes": ""}},
         "multi": True}]})
    res["sparse_docs"] = int(r.get("nModified", r.get("n", 0)))
    log(f"removed rating and prep_minutes from {res['sparse_docs']} documents (category_id = {SPARSE_CATEGORY})")
    stride = B.JOIN_DOCS // B.JOIN_KEYS
    psql(B.PRELUDE + f"""
DROP TABLE IF EXISTS recipe_meta;
CREATE TABLE recipe_meta (
    id int PRIMARY KEY,
    mongodb_recipe_id objectid NOT NULL,
    key_name name NOT NULL,
    price_cents int NOT NULL);
INSERT INTO recipe_meta
SELECT k, bench.oid(i, {B.SEED})::objectid, bench.oid(i, {B.SEED})::name, 100 + bench.h(k, 61, {B.SEED}) % 2000
  FROM (SELECT k, (k - 1) * {stride} + 1 + bench.h(k, 60, {B.SEED}) % {stride} AS i
          FROM generate_series(1, {B.JOIN_KEYS}) k) s;
ANALYZE recipe_meta;
""")
    keys = psql(B.PRELUDE + "SELECT mongodb_recipe_id::text FROM recipe_meta ORDER BY id;").split()
    (OUT / "join_keys.txt").write_text("\n".join(keys) + "\n")
    return res


# --------------------------------------------------------------------- callgrind

def stack_cmd(*args):
    env = dict(os.environ, NG_STACK_DIR=str(STACK), PG_CONFIG=str(PGBIN / "pg_config"),
               NG_SERVER=os.environ.get("NG_CG_SERVER", "documentdb"))
    subprocess.run(["bash", str(B.ROOT / "test" / "stack"), *args], check=True, env=env,
                   stdout=subprocess.DEVNULL)


VG = ["valgrind", "--tool=callgrind", "--dump-instr=no", "--collect-jumps=no"]


def single_user(tag, query):
    """query in `postgres --single` under callgrind: (callgrind file, stdout)."""
    out = CGDIR / f"{tag}.out"
    env = ["env", "-i", "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "MONGOC_DISABLE_SHM=1"]
    cmd = ["runuser", "-u", "postgres", "--", *env, *VG, f"--callgrind-out-file={out}",
           f"--log-file={CGDIR / (tag + '.log')}",
           str(PGBIN / "postgres"), "--single", "-D", str(PGDATA), "-c", "jit=off",
           "-c", "max_parallel_workers_per_gather=0", os.environ["PGDATABASE"]]
    stdin = B.PRELUDE + query + "\n"         # single-user mode: one statement per line
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd="/")
    if p.returncode != 0 or "ERROR:" in p.stdout + p.stderr:
        raise RuntimeError(f"postgres --single ({tag}) failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return out, p.stdout


def raw_client(tag, coll, command):
    out = CGDIR / f"{tag}.out"
    env = dict(os.environ, MONGOC_DISABLE_SHM="1")
    p = subprocess.run([*VG, f"--callgrind-out-file={out}", f"--log-file={CGDIR / (tag + '.log')}",
                        str(B.BASELINE), B.URI, B.MDB, coll, "find", command, "--batch", str(B.BATCH)],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"baseline under callgrind ({tag}) failed: {p.stderr[-2000:]}")
    return out, p.stdout


def total_ir(path):
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


OBJ_CLASSES = (("nutragenie", re.compile(r"nutragenie[^/]*\.so")),
               ("mongo_fdw", re.compile(r"mongo_fdw\.so")),
               ("libbson", re.compile(r"libbson")),
               ("libmongoc", re.compile(r"libmongoc")),
               ("postgres", re.compile(r"/bin/postgres$")),
               ("libc", re.compile(r"libc[.-]")),
               ("ld.so", re.compile(r"ld-linux")),
               ("baseline", re.compile(r"/baseline$")))


def obj_class(obj):
    for name, rx in OBJ_CLASSES:
        if rx.search(obj):
            return name
    return "other"


ANN_LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\*\s+)?(.*?)\s*(?:\[(.*)\])?\s*$")


def annotate(path, inclusive):
    """{(function, object): Ir} from callgrind_annotate (every function)."""
    p = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}",
                        "--threshold=100", "--show-percs=no", "--context=0", "--auto=no", str(path)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"callgrind_annotate {path} failed: {p.stderr[-1000:]}")
    res = {}
    lines = p.stdout.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if re.match(r"^\s*Ir\s+file:function", l)) + 2
    except StopIteration:
        raise RuntimeError(f"callgrind_annotate {path}: no function list") from None
    for line in lines[start:]:
        m = ANN_LINE.match(line)
        if not m or not m.group(2):
            if line.strip() == "":
                break
            continue
        fl, _, fn = m.group(2).rpartition(":")
        v = int(m.group(1).replace(",", ""))
        base = re.sub(r"'\d+$", "", fn)        # recursion depth suffix (f'2 ...)
        key = (base, m.group(3) or "")
        # self costs of the recursion levels add up; the inclusive cost of
        # the outermost level already holds the inner ones
        res[key] = max(res.get(key, 0), v) if inclusive else res.get(key, 0) + v
    return res


TREE_LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?([<*>])\s+(?:[^:\s]*:)?(\S+?)(?:'\d+)?(?:\s+\([\d,]+x\))?\s+\[(.*)\]\s*$")


def static_callers(path):
    """{(function, object): its costliest named caller} for the functions
    without a symbol (static functions of stripped binaries: 0x...)."""
    p = subprocess.run(["callgrind_annotate", "--tree=caller", "--inclusive=yes", "--threshold=100",
                        "--show-percs=no", "--context=0", "--auto=no", str(path)],
                       capture_output=True, text=True)
    res = {}
    callers = []
    for line in p.stdout.splitlines():
        m = TREE_LINE.match(line)
        if not m:
            callers = []
            continue
        cost, kind, fn, obj = int(m.group(1).replace(",", "")), m.group(2), m.group(3), m.group(4)
        if kind == "<":
            callers.append((cost, fn))
        elif kind == "*":
            if fn.startswith("0x") and (fn, obj) not in res:
                named = sorted(((c, f) for c, f in callers if not f.startswith("0x")), reverse=True)
                if named:
                    res[(fn, obj)] = named[0][1]
            callers = []
    return res


def diff_profile(full, empty, n):
    """Per-document Ir by function (self and inclusive) and self by object."""
    sf, se = annotate(full, False), annotate(empty, False)
    inf, ine = annotate(full, True), annotate(empty, True)
    fns = {}
    for key in set(sf) | set(inf):
        s = (sf.get(key, 0) - se.get(key, 0)) / n
        i = (inf.get(key, 0) - ine.get(key, 0)) / n
        if abs(s) >= 1 or abs(i) >= 1:
            fns[key] = (s, i)
    objs = {}
    for (fn, obj), (s, _) in fns.items():
        c = obj_class(obj)
        objs[c] = objs.get(c, 0) + s
    called_by = static_callers(full)
    rows = [{"function": fn, "object": obj_class(obj), "object_path": obj, "self": round(s, 1),
             "inclusive": round(i, 1), **({"called_by": called_by[(fn, obj)]} if (fn, obj) in called_by else {})}
            for (fn, obj), (s, i) in fns.items()]
    by_self = sorted(rows, key=lambda r: -r["self"])
    by_incl = sorted(rows, key=lambda r: -r["inclusive"])
    per_obj = {}
    for r in by_self:
        lst = per_obj.setdefault(r["object"], {"self": [], "inclusive": []})
        if len(lst["self"]) < 15 and r["self"] >= 1:
            lst["self"].append(r)
    for r in by_incl:
        lst = per_obj.setdefault(r["object"], {"self": [], "inclusive": []})
        if len(lst["inclusive"]) < 15 and r["inclusive"] >= 1:
            lst["inclusive"].append(r)
    return {"objects": {k: round(v, 1) for k, v in sorted(objs.items(), key=lambda kv: -kv[1])},
            "top_self": by_self[:30], "top_inclusive": by_incl[:30], "per_object": per_obj}


def check_count(stdout, expected, tag):
    m = re.search(r'count = "(\d+)"', stdout)
    got = int(m.group(1)) if m else None
    if got != expected:
        raise RuntimeError(f"{tag}: count {got}, expected {expected}:\n{stdout[-1500:]}")


def bench_callgrind():
    cols = ", ".join(c[0] for c in B.COLUMNS)
    q_scan = "SELECT count(*), sum(num_nonnulls({cols})) FROM {t}"
    q_root = "SELECT count(*), sum(num_nonnulls(doc)) FROM {t}"
    cmd_scan = B.explain(q_scan.format(cols=cols, t="recipes"))["commands"][0]
    cmd_root = B.explain(q_root.format(t="recipes_root"))["commands"][0]
    cases = [
        ("nutragenie", "nutragenie, 23 typed columns", q_scan.format(cols=cols, t="recipes"),
         q_scan.format(cols=cols, t="recipes_empty")),
        ("nutragenie_root", "nutragenie, $$ROOT into one jsonb column", q_root.format(t="recipes_root"),
         q_root.format(t="recipes_empty_root")),
        ("mongo_fdw", "mongo_fdw 5.5, 23 typed columns", q_scan.format(cols=cols, t="m_recipes"),
         q_scan.format(cols=cols, t="m_recipes_empty")),
    ]
    if CGDIR.exists():
        shutil.rmtree(CGDIR)
    CGDIR.mkdir(parents=True)
    subprocess.run(["chown", "postgres:postgres", str(CGDIR)], check=True)
    res = {"docs": N, "commands": {"scan": cmd_scan, "root": cmd_root}, "cases": {}}
    def measure(key, label, what, full, empty):
        """full/empty: thunks giving (callgrind file, output) of the runs."""
        t = time.monotonic()
        f_full, f_empty = full(), empty()
        ir_full, ir_empty = total_ir(f_full), total_ir(f_empty)
        res["cases"][key] = {"label": label, **what, "ir_full": ir_full, "ir_empty": ir_empty,
                             "ir_per_doc": (ir_full - ir_empty) / N,
                             "profile": diff_profile(f_full, f_empty, N)}
        log(f"callgrind {key}: {(ir_full - ir_empty) / N:,.0f} instructions/document "
            f"({time.monotonic() - t:.0f} s)")

    def backend(tag, query, expected):
        path, out = single_user(tag, query)
        check_count(out, expected, tag)
        return path

    def client(tag, coll, cmd, expected):
        path, out = raw_client(tag, coll, cmd)
        if f"docs={expected} " not in out:
            raise RuntimeError(f"raw client {tag}: {out}, expected docs={expected}")
        return path

    log("callgrind: stopping the stack's PostgreSQL for single-user runs")
    stack_cmd("stop-pg", "-m", "fast")
    try:
        for key, label, q_full, q_empty in cases:
            measure(key, label, {"query": q_full},
                    lambda: backend(key + "_full", q_full, N), lambda: backend(key + "_empty", q_empty, 0))
    finally:
        stack_cmd("start-pg")
    for key, label, cmd in (("raw", "raw libmongoc client, the 23-column find", cmd_scan),
                            ("raw_root", "raw libmongoc client, the $$ROOT find", cmd_root)):
        measure(key, label, {"command": cmd}, lambda: client(key + "_full", B.COLL_MAIN, cmd, N),
                lambda: client(key + "_empty", COLL_EMPTY, cmd, 0))
    c = res["cases"]
    res["ratios"] = {
        "nutragenie_vs_raw": c["nutragenie"]["ir_per_doc"] / c["raw"]["ir_per_doc"],
        "nutragenie_vs_mongo_fdw": c["nutragenie"]["ir_per_doc"] / c["mongo_fdw"]["ir_per_doc"],
        "mongo_fdw_vs_raw": c["mongo_fdw"]["ir_per_doc"] / c["raw"]["ir_per_doc"],
        "root_vs_raw_root": c["nutragenie_root"]["ir_per_doc"] / c["raw_root"]["ir_per_doc"],
        "root_vs_raw": c["nutragenie_root"]["ir_per_doc"] / c["raw"]["ir_per_doc"],
    }
    return res


# --------------------------------------------------------------------- wall clock

def mf_warm():
    """Tiny queries through both wrappers: their connections are made
    before timing (SQL only: no function of the extension is named)."""
    return ("SELECT count(*) FROM (SELECT 1 FROM m_recipes_join LIMIT 1) s;\n"
            "SELECT count(*) FROM (SELECT 1 FROM recipes_join LIMIT 1) s;\n")


def run_query(query, settings=""):
    return B.fdw_run(query, settings, pre=mf_warm())


def results_equal(a, b):
    """Same rows, numbers compared with a relative tolerance of 1e-9."""
    ra, rb = a.split("|"), b.split("|")
    if len(ra) != len(rb):
        return False
    for x, y in zip(ra, rb):
        if x == y:
            continue
        try:
            fx, fy = float(x), float(y)
        except ValueError:
            return False
        if abs(fx - fy) > 1e-9 * max(abs(fx), abs(fy)):
            return False
    return True


def compare(key, label, template, raw=None, settings="", note=""):
    """template: {p} is the table prefix ("" nutragenie, "m_" mongo_fdw, "l_"
    the local copy), {k} the join key column of recipe_meta (an objectid, or
    a name for mongo_fdw, whose _id is a name)."""
    q_ng = template.format(p="", k="mongodb_recipe_id")
    q_mf = template.format(p="m_", k="key_name")
    log(f"{label}")
    variants = {"nutragenie": lambda: run_query(q_ng, settings),
                "mongo_fdw": lambda: run_query(q_mf, settings)}
    if raw:
        variants["raw"] = raw
    runs = B.interleaved(variants)
    ng, mf = runs["nutragenie"], runs["mongo_fdw"]
    res_ng, res_mf = ng[0]["result"], mf[0]["result"]
    r = {"key": key, "label": label, "query": q_ng, "query_mongo_fdw": q_mf,
         "nutragenie": B.summarize(ng), "mongo_fdw": B.summarize(mf),
         "same_result": results_equal(res_ng, res_mf),
         "result_nutragenie": res_ng[:2000], "result_mongo_fdw": res_mf[:2000],
         "stable": all(x["result"] == res_ng for x in ng) and all(x["result"] == res_mf for x in mf),
         "plan_nutragenie": B.explain(q_ng, settings, verbose=True)["plan"],
         "plan_mongo_fdw": B.explain(q_mf, settings, verbose=True)["plan"], "note": note}
    if raw:
        r["raw"] = B.summarize(runs["raw"])
    # the right answer: the same query on a local copy of the documents
    if key in EXPECTED_FROM_LOCAL:
        q_l = template.format(p="l_", k="mongodb_recipe_id")
        rows = {side: query_rows(q, settings) for side, q in
                (("nutragenie", q_ng), ("mongo_fdw", q_mf), ("local", q_l))}
        r["result_local"] = "|".join(rows["local"])[:2000]
        r["nutragenie_right"] = results_equal("|".join(rows["nutragenie"]), "|".join(rows["local"]))
        r["mongo_fdw_right"] = results_equal("|".join(rows["mongo_fdw"]), "|".join(rows["local"]))
        r["row_diffs"], r["rounding_rows"] = row_diffs(rows)
    return r


def query_rows(query, settings=""):
    """The rows of query as psql -At prints them (a NULL-only row is "")."""
    return psql(B.PRELUDE + settings + query + ";\n").split("\n")[:-1]


def row_diffs(rows):
    """Rows where the wrappers or the heap copy disagree (up to 8), and the
    number of rows that differ only in the last digits of a float."""
    diffs, rounding = [], 0
    n = max(len(v) for v in rows.values())
    for i in range(n):
        vals = {side: (v[i] if i < len(v) else None) for side, v in rows.items()}
        if len(set(vals.values())) == 1:
            continue
        if None not in vals.values() and all(results_equal(x, vals["local"]) for x in vals.values()):
            rounding += 1
            continue
        if len(diffs) < 8:
            diffs.append({"row": i + 1, **vals})
    return diffs, rounding


EXPECTED_FROM_LOCAL = {"group_sum", "group_minmax", "order_nulls_first", "order_nulls_last",
                       "filter", "join_2k", "join_50k", "scan"}


def local_copy():
    """l_recipes / l_recipes_join: heap copies of the collections read
    through nutragenie, the reference the results are checked against (a
    check independent of either wrapper's pushdown)."""
    psql(B.PRELUDE + "SET client_min_messages = warning;\n"
         "DROP TABLE IF EXISTS public.l_recipes, public.l_recipes_join;\n"
         "CREATE TABLE public.l_recipes AS SELECT * FROM public.recipes;\n"
         "CREATE TABLE public.l_recipes_join AS SELECT * FROM public.recipes_join;\n"
         "ANALYZE public.l_recipes, public.l_recipes_join;\n")


def write_run(side):
    coll = "w_ng" if side == "nutragenie" else "w_mf"
    B.drop_collection(coll)
    if side == "nutragenie":
        B.fresh_outbox()
    sel = (f"SELECT bench.oid(i, 7)::{'objectid' if side == 'nutragenie' else 'name'}, i::int, 'recipe ' || i, "
           f"(i % 500) / 100.0, 5000000000 + i, timestamptz '2020-01-01 00:00+00' + i * interval '1 s', i % 5 = 0 "
           f"FROM generate_series(1, {WRITE_DOCS}) i")
    script = (B.PRELUDE + "SET nutragenie.commit_timeout = '30min';\n" + mf_warm() + "\\timing on\nBEGIN;\n" + f"INSERT INTO {coll} {sel};\n" + "COMMIT;\n\\timing off\n")
    out = psql(script)
    times = [float(m) for m in re.findall(r"^Time: ([\d.]+) ms", out, re.M)]
    n = B.mongo_count(coll)
    return {"wall_ms": sum(times), "docs": n}


def bench_write():
    log(f"INSERT of {WRITE_DOCS} rows: nutragenie vs mongo_fdw")
    runs = {"nutragenie": [], "mongo_fdw": []}
    for r in range(WRITE_RUNS):
        order = ["nutragenie", "mongo_fdw"] if r % 2 == 0 else ["mongo_fdw", "nutragenie"]
        for side in order:
            runs[side].append(write_run(side))
        log(f"  run {r + 1}/{WRITE_RUNS}: " + ", ".join(f"{s} {runs[s][-1]['wall_ms']:.0f} ms" for s in runs))
    # what each stored: one document per row, same values
    q = ("SELECT count(*), sum(recipe_no), sum(rating), sum(views), min(created_at), max(created_at), "
         "count(*) FILTER (WHERE is_vegan) FROM {t}")
    st_ng = psql(B.PRELUDE + q.format(t="w_ng") + ";\n").strip()
    st_mf = psql(B.PRELUDE + q.format(t="w_mf") + ";\n").strip()
    # mongo_fdw's documents read back through nutragenie (one reader for both)
    psql(B.PRELUDE + "DROP FOREIGN TABLE IF EXISTS public.w_mf_ng;\n"
         "CREATE FOREIGN TABLE public.w_mf_ng (_id objectid, recipe_no int, title text, rating float8, "
         f"views bigint, created_at timestamptz, is_vegan bool) SERVER {B.SERVER} OPTIONS (collection 'w_mf');\n")
    st_mf_ng = psql(B.PRELUDE + q.format(t="w_mf_ng") + ";\n").strip()
    types = {}
    for coll in ("w_ng", "w_mf"):
        reply = B.mongo_command({"aggregate": coll, "pipeline": [
            {"$limit": 1}, {"$project": {"_id": {"$type": "$_id"}, "recipe_no": {"$type": "$recipe_no"},
                                         "rating": {"$type": "$rating"}, "views": {"$type": "$views"},
                                         "created_at": {"$type": "$created_at"}}}], "cursor": {}})
        types[coll] = reply.get("cursor", {}).get("firstBatch", [None])[0]
    return {"rows": WRITE_DOCS, "nutragenie": B.summarize_w(runs["nutragenie"], []),
            "mongo_fdw": B.summarize_w(runs["mongo_fdw"], []), "check_nutragenie": st_ng,
            "check_mongo_fdw": st_mf, "check_mongo_fdw_via_nutragenie": st_mf_ng, "bson_types": types}


def bench_wall():
    cols = ", ".join(c[0] for c in B.COLUMNS)
    res = {}
    local_copy()
    ex = B.explain(f"SELECT count(*), sum(num_nonnulls({cols})) FROM recipes")
    cmd_scan = ex["commands"][0]
    ex_f = B.explain(f"SELECT count(*), sum(num_nonnulls({cols})) FROM recipes WHERE category_id = {B.CATEGORY}")
    cmd_filter = ex_f["commands"][0]
    res["scan"] = compare("scan", f"full scan of {N} documents, {len(B.COLUMNS)} columns",
                          f"SELECT count(*), sum(num_nonnulls({cols})) FROM {{p}}recipes",
                          raw=lambda: B.baseline_run(B.COLL_MAIN, "find", cmd_scan))
    res["filter"] = compare("filter", f"selective filter category_id = {B.CATEGORY} (indexed, ~1%)",
                            f"SELECT count(*), sum(num_nonnulls({cols})) FROM {{p}}recipes "
                            f"WHERE category_id = {B.CATEGORY}",
                            raw=lambda: B.baseline_run(B.COLL_MAIN, "find", cmd_filter))
    for key, coll, table in (("join_2k", B.COLL_JOIN, "recipes_join"), ("join_50k", B.COLL_MAIN, "recipes")):
        n = B.JOIN_DOCS if key == "join_2k" else N
        cmd = B.explain(f"SELECT _id, title, kcal, tags, rating FROM {table}")["commands"][0]
        res[key] = compare(
            key, f"key join of {B.JOIN_KEYS} PostgreSQL rows to {n} documents",
            "SELECT count(*), sum(num_nonnulls(k.price_cents, c.title, c.kcal, c.tags, c.rating)) "
            f"FROM recipe_meta k JOIN {{p}}{table} c ON c._id = k.{{k}}",
            raw=(lambda coll=coll, cmd=cmd: B.baseline_run(coll, "in", cmd, keys=True)))
    res["group_sum"] = compare("group_sum", f"GROUP BY category_id: count, sum, avg (group {SPARSE_CATEGORY}: "
                               "no rating)",
                               "SELECT category_id, count(*), sum(rating), avg(rating), sum(kcal) FROM {p}recipes "
                               "GROUP BY category_id ORDER BY category_id")
    res["group_minmax"] = compare("group_minmax", "GROUP BY cuisine: count, min, max (int, date)",
                                  "SELECT cuisine, count(*), min(kcal), max(kcal), min(created_at), max(created_at) "
                                  "FROM {p}recipes GROUP BY cuisine ORDER BY cuisine")
    res["order_nulls_first"] = compare("order_nulls_first", "ORDER BY prep_minutes ASC NULLS FIRST LIMIT 20 (int, ~1% NULL)",
                                       "SELECT prep_minutes FROM {p}recipes ORDER BY prep_minutes ASC NULLS FIRST LIMIT 20")
    res["order_nulls_last"] = compare("order_nulls_last", "ORDER BY prep_minutes ASC NULLS LAST LIMIT 20",
                                      "SELECT prep_minutes FROM {p}recipes ORDER BY prep_minutes ASC NULLS LAST LIMIT 20")
    if WRITE_DOCS > 0:
        res["insert"] = bench_write()
    return res


# --------------------------------------------------------------------- main

def versions():
    def q(sql):
        try:
            return psql(sql).strip()
        except RuntimeError as e:
            return f"? ({str(e).splitlines()[0]})"
    v = {"postgresql": q("SHOW server_version;"),
         "mongo_fdw": q("SELECT extversion FROM pg_extension WHERE extname = 'mongo_fdw';"),
         "mongo_fdw_package": subprocess.run(["dpkg-query", "-W", "-f=${Version}", f"postgresql-{PGBIN.parent.name}-mongo-fdw"],
                                             capture_output=True, text=True).stdout.strip(),
         "libmongoc": subprocess.run(["pkg-config", "--modversion", "mongoc2"], capture_output=True,
                                     text=True).stdout.strip() or
         subprocess.run(["pkg-config", "--modversion", "libmongoc-1.0"], capture_output=True, text=True).stdout.strip(),
         "valgrind": subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()}
    try:
        bi = B.mongo_command({"buildInfo": 1})
        v["server"] = f"{bi.get('version', '?')}" + (f" (FerretDB {bi['ferretdb']['version']})"
                                                      if isinstance(bi.get("ferretdb"), dict) and "version" in bi["ferretdb"] else "")
    except Exception as e:  # noqa: BLE001 (informational only)
        v["server"] = f"? ({e})"
    return v


def main():
    t0 = time.monotonic()
    path = OUT / "callgrind.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    res = {"machine": {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                       "commit": os.environ.get("NG_CG_COMMIT", ""), "nproc": os.cpu_count(),
                       "external": B.EXTERNAL}, "docs": N, "runs": RUNS}
    log("setting up the schemas (nutragenie and mongo_fdw)")
    setup()
    res["data"] = setup_data()
    res["machine"].update(versions())
    if DO_CALLGRIND:
        res["callgrind"] = bench_callgrind()
    elif "callgrind" in old:
        res["callgrind"] = old["callgrind"]
        res["callgrind_reused"] = True
    if DO_WALL:
        res["wall"] = bench_wall()
    elif "wall" in old:
        res["wall"] = old["wall"]
        res["wall_reused"] = True
    res["elapsed_s"] = int(time.monotonic() - t0)
    path.write_text(json.dumps(res, indent=1))
    log(f"wrote {path} in {res['elapsed_s']} s")


if __name__ == "__main__":
    main()
