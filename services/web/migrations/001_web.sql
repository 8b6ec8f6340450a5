-- Server-side sessions: the browser holds only a random id (its SHA-256 is the key here).
-- Before sign-in a row holds the state, nonce and PKCE verifier of the provider round trip;
-- after, the person's tokens. Nothing in it is business data.
create table sessions (
    id_hash     text primary key,
    csrf        text not null,
    data        jsonb not null,
    created_at  timestamptz not null,
    expires_at  timestamptz not null
);
create index sessions_expiry on sessions (expires_at);
