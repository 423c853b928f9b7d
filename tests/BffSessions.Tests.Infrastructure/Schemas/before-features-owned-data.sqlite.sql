CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (
    "MigrationId" TEXT NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY,
    "ProductVersion" TEXT NOT NULL
);

BEGIN TRANSACTION;
CREATE TABLE "customer_links" (
    "user_id" TEXT NOT NULL CONSTRAINT "PK_customer_links" PRIMARY KEY,
    "customer_id" TEXT NOT NULL,
    "created_at" TEXT NOT NULL,
    "updated_at" TEXT NOT NULL
);

CREATE TABLE "data_protection_keys" (
    "id" INTEGER NOT NULL CONSTRAINT "PK_data_protection_keys" PRIMARY KEY AUTOINCREMENT,
    "friendly_name" TEXT NULL,
    "xml" TEXT NULL
);

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261126030659_InitialSchema', '10.0.15');

COMMIT;

BEGIN TRANSACTION;
ALTER TABLE "customer_links" ADD "kind" TEXT NOT NULL DEFAULT 'Customer';

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261126035409_AddLinkKind', '10.0.15');

COMMIT;

BEGIN TRANSACTION;
ALTER TABLE "customer_links" ADD "issuer" TEXT NOT NULL DEFAULT '';

CREATE TABLE "browser_sessions" (
    "key_hash" TEXT NOT NULL CONSTRAINT "PK_browser_sessions" PRIMARY KEY,
    "issuer" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "sid" TEXT NULL,
    "created_at" TEXT NOT NULL,
    "renewed_at" TEXT NOT NULL,
    "expires_at" TEXT NOT NULL,
    "absolute_expires_at" TEXT NOT NULL,
    "ticket" BLOB NOT NULL
);

CREATE INDEX "IX_browser_sessions_expires_at" ON "browser_sessions" ("expires_at");

CREATE INDEX "IX_browser_sessions_issuer_sid" ON "browser_sessions" ("issuer", "sid");

CREATE INDEX "IX_browser_sessions_issuer_subject" ON "browser_sessions" ("issuer", "subject");

CREATE TABLE "ef_temp_customer_links" (
    "issuer" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "created_at" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL DEFAULT 'Customer',
    "updated_at" TEXT NOT NULL,
    CONSTRAINT "PK_customer_links" PRIMARY KEY ("issuer", "user_id")
);

INSERT INTO "ef_temp_customer_links" ("issuer", "user_id", "created_at", "customer_id", "kind", "updated_at")
SELECT "issuer", "user_id", "created_at", "customer_id", "kind", "updated_at"
FROM "customer_links";

COMMIT;

PRAGMA foreign_keys = 0;

BEGIN TRANSACTION;
DROP TABLE "customer_links";

ALTER TABLE "ef_temp_customer_links" RENAME TO "customer_links";

COMMIT;

PRAGMA foreign_keys = 1;

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261126121437_IssuerAndBrowserSessions', '10.0.15');

BEGIN TRANSACTION;
ALTER TABLE "customer_links" ADD "forgotten_at" TEXT NULL;

ALTER TABLE "customer_links" ADD "forgotten_customer_id" TEXT NULL;

CREATE TABLE "processed_stripe_events" (
    "id" TEXT NOT NULL CONSTRAINT "PK_processed_stripe_events" PRIMARY KEY,
    "type" TEXT NOT NULL,
    "received_at" TEXT NOT NULL
);

CREATE INDEX "IX_customer_links_customer_id" ON "customer_links" ("customer_id");

CREATE INDEX "IX_customer_links_forgotten_at" ON "customer_links" ("forgotten_at");

CREATE INDEX "IX_processed_stripe_events_received_at" ON "processed_stripe_events" ("received_at");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261126123713_ForgottenCustomersAndStripeEvents', '10.0.15');

COMMIT;

BEGIN TRANSACTION;
CREATE TABLE "customer_creations" (
    "idempotency_key" TEXT NOT NULL CONSTRAINT "PK_customer_creations" PRIMARY KEY,
    "issuer" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "email" TEXT NULL,
    "name" TEXT NULL,
    "replacing" TEXT NULL,
    "state" TEXT NOT NULL,
    "started_at" TEXT NOT NULL,
    "updated_at" TEXT NOT NULL,
    "settle_after" TEXT NULL
);

CREATE INDEX "IX_customer_creations_issuer_user_id" ON "customer_creations" ("issuer", "user_id");

CREATE INDEX "IX_customer_creations_state_settle_after" ON "customer_creations" ("state", "settle_after");

CREATE INDEX "IX_customer_creations_state_updated_at" ON "customer_creations" ("state", "updated_at");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261206203113_CustomerCreations', '10.0.15');

COMMIT;

BEGIN TRANSACTION;
CREATE TABLE "seen_logout_tokens" (
    "id" TEXT NOT NULL CONSTRAINT "PK_seen_logout_tokens" PRIMARY KEY,
    "issued_at" TEXT NOT NULL
);

CREATE INDEX "IX_seen_logout_tokens_issued_at" ON "seen_logout_tokens" ("issued_at");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261206210745_SeenLogoutTokens', '10.0.15');

COMMIT;

