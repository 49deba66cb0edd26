-- What a faster ingest path needs beyond 002: per-ocid claims instead of advisory lock
-- buckets, and the flat tables filled from C (daemon/ocds_flat.c), which now alone
-- decides which published amounts and dates can be read.

-- One row per contracting process a batch has written. A batch claims the rows of its
-- ocids (INSERT ... ON CONFLICT DO UPDATE ... WHERE false, in ocid order) and holds the
-- row locks to COMMIT: batches with no ocid in common run side by side, and two that
-- share one compile it one after the other. Row locks live in the rows, not in the
-- shared lock table, however many ocids a batch has.
CREATE TABLE ocds_ocid (
	ocid	text PRIMARY KEY
);
COMMENT ON TABLE ocds_ocid IS
    'Contracting processes written by ingest batches; locked per ocid while one compiles.';

INSERT INTO ocds_ocid (ocid)
SELECT ocid FROM ocds_release UNION SELECT ocid FROM ocds_compiled;

-- The flat rows are read from compiled releases in C: these readers have no user left.
DROP FUNCTION ingest_numeric(jsonb);
DROP FUNCTION ingest_timestamptz(text);
