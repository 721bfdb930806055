-- Dashboard sign-ins: a browser's session, found by the hash of the id its cookie holds (the
-- id itself and the API key are never stored). A session acts with its key's tenant and
-- scopes while the key lives: revoking or deleting the key ends it.
CREATE TABLE ui_sessions (
    id_hash     bytea PRIMARY KEY,
    key_id      uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,  -- what the session's forms must send back
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

CREATE INDEX ui_sessions_key_id ON ui_sessions (key_id);
CREATE INDEX ui_sessions_expires_at ON ui_sessions (expires_at);
