/**
 * Schema migrations, applied in order at every boot (each in its own transaction; see
 * migrate.ts). Adding a table is a one-file change: append `{version: N + 1, name, sql}` here.
 * Never edit or reorder a migration that has shipped.
 *
 * Keep the SQL within PostgreSQL 15: the same schema runs on PGlite (PostgreSQL 18) and on
 * the Debian 12 server (15). No plaintext secret or token column, anywhere. Rule ids in the SQL
 * comments (S1, S6) are those of docs/SECURITY.md.
 */
export interface Migration {
  version: number
  name: string
  sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core',
    sql: `
CREATE TABLE orgs (
  id          text PRIMARY KEY,
  slug        text NOT NULL UNIQUE,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id             text PRIMARY KEY,
  email          text,
  name           text NOT NULL,
  is_admin       boolean NOT NULL DEFAULT false,
  password_hash  text,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
  org_id      text NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('owner', 'member')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- S1: only the SHA-256 of a token is stored; the CHECK keeps a plaintext out of token_hash.
CREATE TABLE tokens (
  id            text PRIMARY KEY,
  org_id        text NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name          text NOT NULL,
  token_hash    text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  scopes        text[] NOT NULL,
  expires_at    timestamptz,
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tokens_owner_idx ON tokens (org_id, user_id);

CREATE TABLE agents (
  org_id      text NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  agent_id    text NOT NULL,
  spec        jsonb NOT NULL,
  managed_by  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, agent_id)
);

-- S6: values are AES-256-GCM ciphertexts ("v1:" + base64) and keyed hashes, never plaintext.
CREATE TABLE secrets (
  org_id      text NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  name        text NOT NULL,
  ciphertext  text NOT NULL CHECK (ciphertext ~ '^v[0-9]+:'),
  keyed_hash  text NOT NULL CHECK (keyed_hash ~ '^[0-9a-f]{64}$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, name)
);

CREATE TABLE meta (
  key    text PRIMARY KEY,
  value  text NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'sessions',
    sql: `
-- A session is one thread of one user with one agent; its key is an opaque random id.
-- Deleting the agent (or the org / user) deletes its sessions, their history and events.
CREATE TABLE sessions (
  key            text PRIMARY KEY,
  org_id         text NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  user_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  agent_id       text NOT NULL,
  thread         text NOT NULL,
  last_event_id  bigint NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (org_id, agent_id) REFERENCES agents (org_id, agent_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX sessions_thread_key ON sessions (org_id, user_id, agent_id, thread);

CREATE TABLE session_messages (
  seq          bigserial PRIMARY KEY,
  session_key  text NOT NULL REFERENCES sessions (key) ON DELETE CASCADE,
  message_id   text NOT NULL,
  role         text NOT NULL CHECK (role IN ('user', 'assistant')),
  content      text NOT NULL,
  status       text NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'partial')),
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_messages_session_idx ON session_messages (session_key, seq);

-- The SSE log of a session, for Last-Event-ID replay: ids are monotonic per session.
CREATE TABLE session_events (
  session_key  text NOT NULL REFERENCES sessions (key) ON DELETE CASCADE,
  id           bigint NOT NULL,
  message_id   text,
  event        text NOT NULL,
  data         text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_key, id)
);
`,
  },
  {
    version: 3,
    name: 'oauth',
    sql: `
-- Device authorization grant (RFC 8628) of \`lobu oauth login\`. Device and user codes are
-- stored as SHA-256 only; org and user are set when someone approves.
CREATE TABLE oauth_device_codes (
  id                text PRIMARY KEY,
  device_code_hash  text NOT NULL UNIQUE CHECK (device_code_hash ~ '^[0-9a-f]{64}$'),
  user_code_hash    text NOT NULL UNIQUE CHECK (user_code_hash ~ '^[0-9a-f]{64}$'),
  client_id         text NOT NULL,
  scopes            text[] NOT NULL,
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
  org_id            text REFERENCES orgs (id) ON DELETE CASCADE,
  user_id           text REFERENCES users (id) ON DELETE CASCADE,
  interval_seconds  integer NOT NULL,
  last_polled_at    timestamptz,
  failed_attempts   integer NOT NULL DEFAULT 0,
  expires_at        timestamptz NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_device_codes_expiry_idx ON oauth_device_codes (expires_at);

-- Failed logins on the device page, per user code and per email (both hashed): rate limits.
CREATE TABLE oauth_attempts (
  key           text PRIMARY KEY,
  failures      integer NOT NULL,
  window_start  timestamptz NOT NULL
);

-- Authorization-code + PKCE flows in progress: single use, bound to (org, user, agent, target),
-- short-lived. The state is stored hashed, the PKCE verifier encrypted.
CREATE TABLE oauth_states (
  state_hash     text PRIMARY KEY CHECK (state_hash ~ '^[0-9a-f]{64}$'),
  org_id         text NOT NULL,
  user_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  agent_id       text NOT NULL,
  target         text NOT NULL,
  code_verifier  text NOT NULL CHECK (code_verifier ~ '^v[0-9]+:'),
  redirect_uri   text NOT NULL,
  expires_at     timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (org_id, agent_id) REFERENCES agents (org_id, agent_id) ON DELETE CASCADE
);

-- A user's own credentials for one agent: OAuth grants of its MCP servers (kind 'mcp') and API
-- keys for its providers (kind 'provider', BYOK). Values are AES-256-GCM ciphertexts only (S6).
CREATE TABLE oauth_grants (
  id                   text PRIMARY KEY,
  org_id               text NOT NULL,
  user_id              text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  agent_id             text NOT NULL,
  kind                 text NOT NULL CHECK (kind IN ('mcp', 'provider')),
  target               text NOT NULL,
  access_token         text NOT NULL CHECK (access_token ~ '^v[0-9]+:'),
  refresh_token        text CHECK (refresh_token ~ '^v[0-9]+:'),
  scopes               text[] NOT NULL DEFAULT '{}',
  expires_at           timestamptz,
  status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'needs_reauth')),
  last_error           text,
  refresh_lease_until  timestamptz,
  refreshed_at         timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (org_id, agent_id) REFERENCES agents (org_id, agent_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX oauth_grants_owner_key ON oauth_grants (org_id, user_id, agent_id, kind, target);
CREATE INDEX oauth_grants_refresh_idx ON oauth_grants (expires_at) WHERE refresh_token IS NOT NULL;
`,
  },
  {
    version: 4,
    name: 'tools',
    sql: `
-- Tool calls and results are part of a session's history: an assistant message may carry the
-- tool calls it made, and a 'tool' message is the result of one call. \`tool\` is JSON:
-- {"calls":[{"callId","name","arguments"}]} on an assistant message,
-- {"callId","name","isError"} on a tool message.
ALTER TABLE session_messages DROP CONSTRAINT session_messages_role_check;
ALTER TABLE session_messages ADD CONSTRAINT session_messages_role_check CHECK (role IN ('user', 'assistant', 'tool'));
ALTER TABLE session_messages ADD COLUMN tool text;

-- Standing approvals of a user for one tool of an agent ("1h", "24h", "always" = no expiry).
CREATE TABLE tool_grants (
  org_id      text NOT NULL,
  user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  agent_id    text NOT NULL,
  path        text NOT NULL CHECK (path ~ '^/mcp/[^/]+/tools/[^/]+$'),
  expires_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, user_id, agent_id, path),
  FOREIGN KEY (org_id, agent_id) REFERENCES agents (org_id, agent_id) ON DELETE CASCADE
);

-- Tool calls waiting for (or given) a decision. A decision is claimed once: the row is updated
-- only while decision IS NULL. The owner columns bind it to the session's org and user.
CREATE TABLE tool_approvals (
  session_key  text NOT NULL REFERENCES sessions (key) ON DELETE CASCADE,
  call_id      text NOT NULL,
  org_id       text NOT NULL,
  user_id      text NOT NULL,
  agent_id     text NOT NULL,
  server       text NOT NULL,
  tool         text NOT NULL,
  decision     text CHECK (decision IN ('once', '1h', '24h', 'always', 'deny', 'timeout', 'cancelled')),
  expires_at   timestamptz NOT NULL,
  decided_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_key, call_id)
);
CREATE INDEX tool_approvals_expiry_idx ON tool_approvals (expires_at);
`,
  },
]

/** The schema version this build of lobu expects. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0)
