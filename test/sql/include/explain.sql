\set ECHO none
-- EXPLAIN output that reads the same on every supported PostgreSQL version
-- (included with \i by the tests that need it, which run under pg_regress's
-- ECHO all; the functions land in the including test's schema).
-- explain_analyze(q): EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF,
--   BUFFERS OFF); 18 shows actual rows with two decimals: rounded, as 15
--   and 17 print them; memory use as NkB.
CREATE FUNCTION explain_analyze(q text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE
    line text;
    m text[];
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) ' || q LOOP
        LOOP
            m := regexp_match(line, 'rows=(\d+\.\d+)');
            EXIT WHEN m IS NULL;
            line := regexp_replace(line, 'rows=\d+\.\d+', 'rows=' || round(m[1]::numeric));
        END LOOP;
        RETURN NEXT regexp_replace(line, 'Memory: \d+kB', 'Memory: NkB');
    END LOOP;
END $f$;
-- explain_plan(q [, remote_only]): EXPLAIN (COSTS OFF) without "(returns $N)"
--   after an InitPlan, which 17 no longer prints; with remote_only, only the
--   foreign scans and what they send, in plan order (for queries whose local
--   plan shape, join method or redundant sort and group keys, differs
--   between versions).
CREATE FUNCTION explain_plan(q text, remote_only bool DEFAULT false)
RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        line := regexp_replace(line, '^(\s*InitPlan \d+) \(returns [$0-9, ]+\)', '\1');
        IF remote_only THEN
            line := regexp_replace(line, '^\s*(->\s+)?', '');
            CONTINUE WHEN line !~ '^(Foreign Scan|MongoDB )';
        END IF;
        RETURN NEXT line;
    END LOOP;
END $f$;
\set ECHO all
