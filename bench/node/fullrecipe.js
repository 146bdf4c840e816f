#!/usr/bin/env node
/*
 * bench/node/fullrecipe.js: the seed app's own service path for a full
 * recipe, the baseline of nutragenie.ng_full_recipe(id) in bench/bench.py.
 *
 * What the seed's RecipeService.getFullRecipe does, with the same drivers
 * (pg and mongodb): the recipes row by id from PostgreSQL, then the
 * recipe_content document by _id = mongodb_recipe_id from MongoDB, merged
 * into one JSON object (shaped like ng_full_recipe's, so that the two can be
 * compared).  No cache.
 *
 * usage: node fullrecipe.js run   [options]   throughput of WORKERS async loops
 *        node fullrecipe.js check ID [options] print the merged object of one id
 * options:
 *   --mongo URI        MongoDB connection string (default: $MONGODB_URI)
 *   --db NAME          MongoDB database (default nutragenie)
 *   --ids N            ids are drawn uniformly from 1..N (run)
 *   --workers W        concurrent loops (default 8); a pg Pool of W
 *                      connections and one MongoClient with a pool of >= W
 *   --seconds S        measure for S seconds (default 10) ...
 *   --count C          ... or until C calls are done in all (overrides --seconds)
 *   --warmup S         seconds of calls before measuring (default 1)
 *   --seed X           random ids (default 42)
 * PostgreSQL: the PG* environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
 *
 * "run" prints one JSON line: {"calls", "seconds", "calls_s", "errors",
 * "missing", "latency_ms": {"median", "p95", "p99", "mean"}, "workers", ...}.
 */
'use strict';

const { Pool } = require('pg');
const { MongoClient, ObjectId } = require('mongodb');

function parseArgs(argv) {
  const o = { mongo: process.env.MONGODB_URI, db: 'nutragenie', ids: 0, workers: 8, seconds: 10,
              count: 0, warmup: 1, seed: 42, pos: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const k = a.slice(2);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      o[k] = ['mongo', 'db'].includes(k) ? v : Number(v);
      if (Number.isNaN(o[k])) throw new Error(`${a}: not a number: ${v}`);
    } else {
      o.pos.push(a);
    }
  }
  return o;
}

// The seed's RecipeService.getFullRecipe: PostgreSQL row, then the document.
async function getFullRecipe(pool, content, id) {
  const r = await pool.query('SELECT * FROM nutragenie.recipes WHERE id = $1', [id]);
  if (r.rows.length === 0) return null;
  const row = r.rows[0];
  let doc = null;
  if (row.mongodb_recipe_id) {
    doc = await content.findOne({ _id: new ObjectId(row.mongodb_recipe_id) });
  }
  return {
    id: Number(row.id), title: row.title, category: row.category,
    difficultyLevel: row.difficulty_level, prepTimeMinutes: row.prep_time_minutes,
    cookTimeMinutes: row.cook_time_minutes, servings: row.servings,
    createdBy: row.created_by === null ? null : Number(row.created_by),
    rating: { average: row.average_rating === null ? null : Number(row.average_rating),
              count: row.rating_count },
    mongodbRecipeId: row.mongodb_recipe_id,
    contentMissing: doc === null,
    content: doc === null ? null : {
      description: doc.description, cuisine: doc.cuisine,
      ingredients: doc.ingredients ?? [], steps: doc.steps ?? [],
      nutrition: doc.nutrition ?? {}, tags: doc.tags ?? [],
      ratingAnalytics: doc.ratingAnalytics,
    },
  };
}

// xorshift32: reproducible ids per worker
function rng(seed) {
  let x = (seed >>> 0) || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

function pct(sorted, q) {
  if (sorted.length === 0) return null;
  const k = (sorted.length - 1) * q;
  const lo = Math.floor(k);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (k - lo);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const mode = o.pos[0];
  if (!o.mongo) throw new Error('no MongoDB URI (--mongo or MONGODB_URI)');
  const pool = new Pool({ max: o.workers });
  const client = new MongoClient(o.mongo, { maxPoolSize: Math.max(o.workers, 10), appName: 'nutragenie-bench-node' });
  await client.connect();
  const content = client.db(o.db).collection('recipe_content');
  try {
    if (mode === 'check') {
      const r = await getFullRecipe(pool, content, Number(o.pos[1]));
      process.stdout.write(JSON.stringify(r) + '\n');
      return;
    }
    if (mode !== 'run' || !(o.ids >= 1)) throw new Error('usage: fullrecipe.js run --ids N | check ID');
    // open every connection of both pools before timing
    await Promise.all(Array.from({ length: o.workers }, () => pool.query('SELECT 1')));
    await Promise.all(Array.from({ length: o.workers }, () => content.findOne({ _id: null })));

    let measuring = false;
    let stop = false;
    let calls = 0;
    let errors = 0;
    let missing = 0;
    let firstError = null;
    const lat = [];
    const target = o.count > 0 ? o.count : Infinity;
    async function worker(w) {
      const next = rng(o.seed * 7919 + w * 104729 + 1);
      while (!stop) {
        const id = 1 + (next() % o.ids);
        const t = process.hrtime.bigint();
        try {
          const r = await getFullRecipe(pool, content, id);
          if (measuring) {
            if (r === null || r.contentMissing) missing++;
            lat.push(Number(process.hrtime.bigint() - t) / 1e6);
            if (++calls >= target) stop = true;
          }
        } catch (e) {
          if (measuring) errors++;
          if (!firstError) firstError = String(e && e.message || e);
        }
      }
    }
    const loops = Array.from({ length: o.workers }, (_, w) => worker(w));
    await new Promise((res) => setTimeout(res, o.warmup * 1000));
    measuring = true;
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    if (o.count <= 0) setTimeout(() => { stop = true; }, o.seconds * 1000);
    await Promise.all(loops);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    lat.sort((a, b) => a - b);
    process.stdout.write(JSON.stringify({
      calls, seconds: secs, calls_s: calls / secs, errors, missing, first_error: firstError,
      workers: o.workers, ids: o.ids, client_cpu_ms: (cpu.user + cpu.system) / 1000,
      latency_ms: { median: pct(lat, 0.5), p95: pct(lat, 0.95), p99: pct(lat, 0.99),
                    mean: lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null },
    }) + '\n');
  } finally {
    await pool.end();
    await client.close();
  }
}

main().catch((e) => {
  process.stderr.write(`fullrecipe.js: ${e && e.stack || e}\n`);
  process.exit(1);
});
