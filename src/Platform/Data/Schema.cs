namespace Inference.Platform.Data;

/// <summary>
/// The platform's schema as ordered migrations, in SQL that SQLite and PostgreSQL both run. A migration is never
/// edited once released: changes come as new entries. Times are Unix milliseconds, flags 0/1, money whole won.
/// </summary>
internal static class Schema
{
    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations { get; } =
    [
        (1, "accounts, organizations, keys, ledger, billing, audit", """
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                is_admin BIGINT NOT NULL DEFAULT 0,
                failed_logins BIGINT NOT NULL DEFAULT 0,
                locked_until_ms BIGINT,
                totp_secret TEXT,
                totp_enabled BIGINT NOT NULL DEFAULT 0,
                totp_last_step BIGINT,
                created_ms BIGINT NOT NULL
            );
            CREATE TABLE recovery_codes (
                user_id TEXT NOT NULL REFERENCES users(id),
                code_hash TEXT NOT NULL,
                used_ms BIGINT,
                PRIMARY KEY (user_id, code_hash)
            );
            CREATE TABLE organizations (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                plan TEXT NOT NULL,
                overrides TEXT,
                budget_krw BIGINT,
                budget_hard_stop BIGINT NOT NULL DEFAULT 0,
                webhook_url TEXT,
                webhook_secret TEXT,
                created_ms BIGINT NOT NULL,
                updated_ms BIGINT NOT NULL
            );
            CREATE TABLE memberships (
                org_id TEXT NOT NULL REFERENCES organizations(id),
                user_id TEXT NOT NULL REFERENCES users(id),
                role TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                PRIMARY KEY (org_id, user_id)
            );
            CREATE INDEX memberships_user ON memberships (user_id);
            CREATE TABLE invitations (
                id TEXT PRIMARY KEY,
                org_id TEXT NOT NULL REFERENCES organizations(id),
                email TEXT NOT NULL,
                role TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_by TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                expires_ms BIGINT NOT NULL,
                accepted_ms BIGINT,
                revoked_ms BIGINT
            );
            CREATE TABLE refresh_tokens (
                token_hash TEXT PRIMARY KEY,
                family_id TEXT NOT NULL,
                user_id TEXT NOT NULL REFERENCES users(id),
                created_ms BIGINT NOT NULL,
                expires_ms BIGINT NOT NULL,
                used_ms BIGINT,
                revoked_ms BIGINT
            );
            CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
            CREATE TABLE sessions (
                token_hash TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id),
                csrf_token TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                expires_ms BIGINT NOT NULL,
                revoked_ms BIGINT
            );
            CREATE TABLE reset_tokens (
                token_hash TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id),
                created_ms BIGINT NOT NULL,
                expires_ms BIGINT NOT NULL,
                used_ms BIGINT
            );
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                org_id TEXT NOT NULL REFERENCES organizations(id),
                name TEXT NOT NULL,
                prefix TEXT NOT NULL,
                key_hash TEXT NOT NULL UNIQUE,
                key_id TEXT NOT NULL,
                limits TEXT,
                created_by TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                expires_ms BIGINT,
                revoked_ms BIGINT,
                last_used_ms BIGINT
            );
            CREATE INDEX api_keys_org ON api_keys (org_id);
            CREATE TABLE usage_records (
                request_id TEXT PRIMARY KEY,
                org_id TEXT NOT NULL,
                key_id TEXT,
                period TEXT NOT NULL,
                model TEXT NOT NULL,
                api TEXT NOT NULL,
                status TEXT NOT NULL,
                finish_reason TEXT,
                prompt_tokens BIGINT NOT NULL,
                completion_tokens BIGINT NOT NULL,
                cached_tokens BIGINT NOT NULL,
                response_cache_hit BIGINT NOT NULL,
                duration_ms BIGINT NOT NULL,
                ttft_ms BIGINT,
                ts_ms BIGINT NOT NULL
            );
            CREATE INDEX usage_records_org_period ON usage_records (org_id, period);
            CREATE TABLE invoices (
                id TEXT PRIMARY KEY,
                org_id TEXT NOT NULL REFERENCES organizations(id),
                period TEXT NOT NULL,
                number TEXT NOT NULL UNIQUE,
                plan TEXT NOT NULL,
                currency TEXT NOT NULL,
                total_krw BIGINT NOT NULL,
                issued_ms BIGINT NOT NULL,
                UNIQUE (org_id, period)
            );
            CREATE TABLE invoice_lines (
                invoice_id TEXT NOT NULL REFERENCES invoices(id),
                line_no BIGINT NOT NULL,
                description TEXT NOT NULL,
                quantity BIGINT NOT NULL,
                unit_price TEXT NOT NULL,
                amount_krw BIGINT NOT NULL,
                PRIMARY KEY (invoice_id, line_no)
            );
            CREATE TABLE payments (
                id TEXT PRIMARY KEY,
                invoice_id TEXT NOT NULL REFERENCES invoices(id),
                provider TEXT NOT NULL,
                provider_ref TEXT,
                status TEXT NOT NULL,
                amount_krw BIGINT NOT NULL,
                created_ms BIGINT NOT NULL,
                updated_ms BIGINT NOT NULL
            );
            CREATE INDEX payments_invoice ON payments (invoice_id);
            CREATE TABLE budget_alerts (
                org_id TEXT NOT NULL REFERENCES organizations(id),
                period TEXT NOT NULL,
                threshold BIGINT NOT NULL,
                spend_krw BIGINT NOT NULL,
                budget_krw BIGINT NOT NULL,
                created_ms BIGINT NOT NULL,
                delivered_ms BIGINT,
                attempts BIGINT NOT NULL DEFAULT 0,
                last_error TEXT,
                PRIMARY KEY (org_id, period, threshold)
            );
            CREATE TABLE audit_events (
                id TEXT PRIMARY KEY,
                org_id TEXT,
                user_id TEXT,
                action TEXT NOT NULL,
                target TEXT,
                detail TEXT,
                ip TEXT,
                created_ms BIGINT NOT NULL
            );
            CREATE INDEX audit_events_org ON audit_events (org_id, created_ms);
            CREATE TABLE settings (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL
            );
            """),
        (2, "apps, and keys scoped to one app", """
            CREATE TABLE apps (
                id TEXT PRIMARY KEY,
                org_id TEXT NOT NULL REFERENCES organizations(id),
                name TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                archived_ms BIGINT
            );
            CREATE INDEX apps_org ON apps (org_id);
            ALTER TABLE api_keys ADD COLUMN app_id TEXT REFERENCES apps(id);
            CREATE INDEX api_keys_app ON api_keys (app_id);
            """),
        (3, "organization deletion", """
            ALTER TABLE organizations ADD COLUMN deleted_ms BIGINT;
            """),
        (4, "app builder: drafts, releases, publishable app keys", """
            ALTER TABLE apps ADD COLUMN slug TEXT;
            CREATE UNIQUE INDEX apps_slug ON apps (slug);
            ALTER TABLE apps ADD COLUMN draft TEXT;
            ALTER TABLE apps ADD COLUMN published_version BIGINT;
            ALTER TABLE apps ADD COLUMN public_key TEXT;
            ALTER TABLE apps ADD COLUMN allowed_origins TEXT;
            ALTER TABLE api_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'secret';
            CREATE UNIQUE INDEX api_keys_one_app_key ON api_keys (app_id) WHERE kind = 'app' AND revoked_ms IS NULL;
            CREATE TABLE app_releases (
                app_id TEXT NOT NULL REFERENCES apps(id),
                version BIGINT NOT NULL,
                spec TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                PRIMARY KEY (app_id, version)
            );
            """),
    ];
}
