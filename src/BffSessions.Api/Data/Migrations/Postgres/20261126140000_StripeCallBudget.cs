using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BffSessions.Api.Data.Migrations.Postgres
{
    /// <summary>
    /// The shared schedule of Stripe calls (PostgresCallSchedule): a row, an instance table and two functions. Not
    /// entities of the model, since only these functions touch them; PostgreSQL only, since one SQLite instance keeps
    /// its schedule in memory. The pace formula is StripePace's: cut_to, grown back by a tenth a second from a hold
    /// after the cut.
    /// </summary>
    [DbContext(typeof(PostgresAppDbContext))]
    [Migration("20261126140000_StripeCallBudget")]
    public partial class StripeCallBudget : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE TABLE stripe_call_schedule (
                    id      smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
                    next_at timestamptz NOT NULL DEFAULT 'epoch',
                    cut_to  double precision NOT NULL DEFAULT 1 CHECK (cut_to > 0 AND cut_to <= 1),
                    cut_at  timestamptz NOT NULL DEFAULT 'epoch');
                INSERT INTO stripe_call_schedule DEFAULT VALUES;
                CREATE TABLE stripe_budget_instances (
                    instance_id uuid PRIMARY KEY,
                    seen_at     timestamptz NOT NULL);
                """);
            // Books the next turn: locks the row first, then reads the clock, so a booking that waited for the lock
            // measures from when it got it. No turn sooner than min_wait seconds, for anyone: an instance back from its
            // own share keeps that time free (its own calls, and other instances' still on theirs, may go out until then). Returns whether it booked, the seconds until the turn (or until the
            // schedule frees up), and the pace's cut and its age, for the instance's gauge.
            migrationBuilder.Sql("""
                CREATE FUNCTION stripe_book_turn(rate double precision, max_wait double precision, hold double precision, min_wait double precision)
                RETURNS TABLE (booked boolean, wait_seconds double precision, cut_to double precision, cut_age_seconds double precision)
                LANGUAGE plpgsql AS $$
                DECLARE
                    sched stripe_call_schedule%ROWTYPE;
                    t_now timestamptz;
                    pace double precision;
                    turn timestamptz;
                BEGIN
                    SET LOCAL synchronous_commit = off; -- a booking lost in a crash costs one turn
                    SELECT * INTO sched FROM stripe_call_schedule WHERE id = 1 FOR UPDATE;
                    t_now := clock_timestamp();
                    pace := least(1.0, sched.cut_to + 0.1 * greatest(0.0, extract(epoch FROM t_now - sched.cut_at)::float8 - hold));
                    turn := greatest(sched.next_at, t_now + make_interval(secs => min_wait));
                    booked := turn <= t_now + make_interval(secs => max_wait);
                    IF booked THEN
                        UPDATE stripe_call_schedule SET next_at = turn + make_interval(secs => 1.0 / (rate * pace)) WHERE id = 1;
                    ELSIF turn > sched.next_at THEN
                        UPDATE stripe_call_schedule SET next_at = turn WHERE id = 1; -- kept free, booked or not
                    END IF;
                    wait_seconds := extract(epoch FROM turn - t_now)::float8;
                    cut_to := sched.cut_to;
                    cut_age_seconds := extract(epoch FROM t_now - sched.cut_at)::float8;
                    RETURN NEXT;
                END $$;
                """);
            // Halves the pace, at most once a second for the whole deployment; returns the cut and its age.
            migrationBuilder.Sql("""
                CREATE FUNCTION stripe_slow_down(pace_floor double precision, hold double precision)
                RETURNS TABLE (cut_to double precision, cut_age_seconds double precision)
                LANGUAGE plpgsql AS $$
                DECLARE
                    sched stripe_call_schedule%ROWTYPE;
                    t_now timestamptz;
                BEGIN
                    SET LOCAL synchronous_commit = off;
                    SELECT * INTO sched FROM stripe_call_schedule WHERE id = 1 FOR UPDATE;
                    t_now := clock_timestamp();
                    IF sched.cut_at < t_now - make_interval(secs => hold) THEN
                        sched.cut_to := greatest(pace_floor,
                            0.5 * least(1.0, sched.cut_to + 0.1 * greatest(0.0, extract(epoch FROM t_now - sched.cut_at)::float8 - hold)));
                        sched.cut_at := t_now;
                        UPDATE stripe_call_schedule SET cut_to = sched.cut_to, cut_at = sched.cut_at WHERE id = 1;
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
                DROP FUNCTION stripe_slow_down(double precision, double precision);
                DROP FUNCTION stripe_book_turn(double precision, double precision, double precision, double precision);
                DROP TABLE stripe_budget_instances;
                DROP TABLE stripe_call_schedule;
                """);
        }
    }
}
