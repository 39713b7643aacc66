-- 0003_mfa: the TOTP second factor of an account (security.md A-8).
-- totp_secret_enc holds the base32 secret; it is named for what it will
-- become: the secret wrapped by the vault, once the vault exists (until
-- then it is the plain base32 text, readable by whoever reads the DB).
-- totp_step is the last accepted RFC 6238 time step (-1: none yet), kept
-- so a code is accepted once (compare-and-set on it); recovery_codes is
-- the encoded set of keyed hashes (totp.h), never the codes themselves.
ALTER TABLE accounts ADD COLUMN totp_secret_enc TEXT;
ALTER TABLE accounts ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN totp_step BIGINT NOT NULL DEFAULT -1;
ALTER TABLE accounts ADD COLUMN recovery_codes TEXT;
