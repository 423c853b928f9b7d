using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BffSessions.Api.Data.Migrations.Postgres
{
    /// <summary>
    /// Each user's token bucket, shared by every instance (CustomerSessions' SharedUserBuckets): a table and one function.
    /// Not an entity of the model, since only the function and the idle-row cleanup touch it; PostgreSQL only, since
    /// one SQLite instance keeps its buckets in memory. Keys are SHA-256 hex of the limiter's partition key, so the
    /// table names no user.
    /// </summary>
    [DbContext(typeof(PostgresAppDbContext))]
    [Migration("20261207090000_SharedUserRateLimits")]
    public partial class SharedUserRateLimits : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // No index but the key: every request updates tokens and updated_at, and with neither indexed those updates
            // stay on the row's page (HOT), which the fill factor leaves room for. The cleanup's scan every few minutes
            // reads only the users active in the last refill.
            migrationBuilder.Sql("""
                CREATE TABLE user_rate_limits (
                    user_key   text PRIMARY KEY,
                    tokens     double precision NOT NULL,
                    updated_at timestamptz NOT NULL)
                WITH (fillfactor = 70);
                """);
            // Takes one token from the user's bucket, or says in how many seconds the next one comes. Locks the row first,
            // then reads the clock, so a take that waited for the lock refills from when it got it, on the database's
            // clock (the instances' clocks need not agree). A new user starts full; the loop covers a row the cleanup
            // deleted between the insert and the lock. A refusal writes nothing: the row refills from updated_at alike.
            migrationBuilder.Sql("""
                CREATE FUNCTION take_user_token(key text, capacity double precision, per_second double precision)
                RETURNS TABLE (granted boolean, retry_after_seconds double precision)
                LANGUAGE plpgsql AS $$
                DECLARE
                    held double precision;
                    since timestamptz;
                    t_now timestamptz;
                BEGIN
                    SET LOCAL synchronous_commit = off; -- a take lost in a crash gives the user one token back
                    LOOP
                        SELECT r.tokens, r.updated_at INTO held, since FROM user_rate_limits r WHERE r.user_key = key FOR UPDATE;
                        EXIT WHEN FOUND;
                        INSERT INTO user_rate_limits (user_key, tokens, updated_at) VALUES (key, capacity, clock_timestamp())
                            ON CONFLICT (user_key) DO NOTHING;
                    END LOOP;
                    t_now := clock_timestamp();
                    held := least(capacity, held + per_second * greatest(0.0, extract(epoch FROM t_now - since)::float8));
                    granted := held >= 1.0;
                    IF granted THEN
                        UPDATE user_rate_limits SET tokens = held - 1.0, updated_at = t_now WHERE user_key = key;
                        retry_after_seconds := 0.0;
                    ELSE
                        retry_after_seconds := (1.0 - held) / per_second;
                    END IF;
                    RETURN NEXT;
                END $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP FUNCTION take_user_token(text, double precision, double precision);
                DROP TABLE user_rate_limits;
                """);
        }
    }
}
