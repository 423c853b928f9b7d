using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BffSessions.Api.Data.Migrations.Postgres
{
    /// <summary>
    /// Fair shares in the shared schedule of Stripe calls (FairShares): a row per user who asked recently, with when they
    /// may book again while the schedule is contended. The booking function is new (stripe_book_fair_turn); the old one
    /// stays for instances of the previous version still running during a rolling upgrade. Not entities of the model.
    /// </summary>
    [DbContext(typeof(PostgresAppDbContext))]
    [Migration("20261206220000_FairStripeBudget")]
    public partial class FairStripeBudget : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE TABLE stripe_budget_users (
                    user_key text PRIMARY KEY,
                    next_at  timestamptz NOT NULL,
                    seen_at  timestamptz NOT NULL);
                CREATE INDEX ix_stripe_budget_users_seen_at ON stripe_budget_users (seen_at);
                """);
            // As stripe_book_turn, under the same row lock, plus the user's fair share (FairShares, the same rule as one
            // instance's schedule): the user is counted active (seen now); with several users active, a turn in the far
            // half of the wait goes only to a user whose share time has come (else over_share, wait_seconds until it
            // does); each request, booked or refused for want of a turn, puts its user's share active times the turn
            // interval on. Shares are per request: only its first call (p_first) is held to them or moves them.
            migrationBuilder.Sql("""
                CREATE FUNCTION stripe_book_fair_turn(p_user text, p_first boolean, rate double precision, max_wait double precision, hold double precision,
                    min_wait double precision, active_window double precision)
                RETURNS TABLE (booked boolean, over_share boolean, wait_seconds double precision, cut_to double precision, cut_age_seconds double precision)
                LANGUAGE plpgsql AS $$
                DECLARE
                    sched stripe_call_schedule%ROWTYPE;
                    t_now timestamptz;
                    pace double precision;
                    turn timestamptz;
                    user_next timestamptz;
                    active bigint;
                    step double precision;
                BEGIN
                    SET LOCAL synchronous_commit = off; -- a booking lost in a crash costs one turn
                    SELECT * INTO sched FROM stripe_call_schedule WHERE id = 1 FOR UPDATE;
                    t_now := clock_timestamp();
                    pace := least(1.0, sched.cut_to + 0.1 * greatest(0.0, extract(epoch FROM t_now - sched.cut_at)::float8 - hold));
                    step := 1.0 / (rate * pace);
                    INSERT INTO stripe_budget_users AS u (user_key, next_at, seen_at) VALUES (p_user, 'epoch', t_now)
                        ON CONFLICT (user_key) DO UPDATE SET seen_at = EXCLUDED.seen_at
                        RETURNING u.next_at INTO user_next;
                    SELECT count(*) INTO active FROM stripe_budget_users WHERE seen_at > t_now - make_interval(secs => active_window);
                    turn := greatest(sched.next_at, t_now + make_interval(secs => min_wait));
                    over_share := p_first AND active > 1 AND turn > t_now + make_interval(secs => max_wait / 2) AND user_next > t_now;
                    IF over_share THEN
                        booked := false;
                        wait_seconds := extract(epoch FROM user_next - t_now)::float8;
                        -- asking counts as a share: a user asking more often than their share is never due one
                        UPDATE stripe_budget_users SET next_at = greatest(user_next, t_now + make_interval(secs => step * greatest(active, 1)))
                        WHERE user_key = p_user;
                    ELSE
                        booked := turn <= t_now + make_interval(secs => max_wait);
                        IF booked THEN
                            UPDATE stripe_call_schedule SET next_at = turn + make_interval(secs => step) WHERE id = 1;
                            IF p_first THEN
                                UPDATE stripe_budget_users SET next_at = turn + make_interval(secs => step * greatest(active, 1)) WHERE user_key = p_user;
                            END IF;
                        ELSE
                            IF turn > sched.next_at THEN
                                UPDATE stripe_call_schedule SET next_at = turn WHERE id = 1; -- kept free, booked or not
                            END IF;
                            IF p_first THEN -- asking counts as a share
                                UPDATE stripe_budget_users SET next_at = greatest(user_next, t_now + make_interval(secs => step * greatest(active, 1)))
                                WHERE user_key = p_user;
                            END IF;
                        END IF;
                        wait_seconds := extract(epoch FROM turn - t_now)::float8;
                    END IF;
                    cut_to := sched.cut_to;
                    cut_age_seconds := extract(epoch FROM t_now - sched.cut_at)::float8;
                    RETURN NEXT;
                END $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP FUNCTION stripe_book_fair_turn(text, boolean, double precision, double precision, double precision, double precision, double precision);
                DROP TABLE stripe_budget_users;
                """);
        }
    }
}
