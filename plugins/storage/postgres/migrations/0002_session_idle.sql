-- 0002_session_idle: what the session contract (callixo/session.h) keeps
-- per session beyond migration 0001: the idle timeout it was created
-- with, and the core's JSON data (ip, user agent, role, mfa state).
ALTER TABLE sessions ADD COLUMN idle_ms BIGINT NOT NULL DEFAULT 1800000;
ALTER TABLE sessions ADD COLUMN data TEXT;
