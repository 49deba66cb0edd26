-- An Idempotency-Key replays the first response byte for byte: keep the response as
-- the text that was sent (jsonb reorders keys and normalises numbers).
ALTER TABLE ingest_batch ALTER COLUMN response TYPE text USING response::text;
COMMENT ON COLUMN ingest_batch.response IS
    'The JSON body answered to the request, exactly as sent; replayed for its '
    'Idempotency-Key.';
