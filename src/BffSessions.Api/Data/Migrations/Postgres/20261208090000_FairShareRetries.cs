using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BffSessions.Api.Data.Migrations.Postgres
{
    /// <summary>
    /// The fair shares of the shared schedule as one instance's schedule has them (FairShares): a refusal over share
    /// says the share time after it moved it, a request refused for want of a turn moves no share, and no share is longer
    /// than max_share. The booking function is new (stripe_book_share_turn); stripe_book_fair_turn stays for instances
    /// of the previous version still running during a rolling upgrade. Not entities of the model.
    /// </summary>
    [DbContext(typeof(PostgresAppDbContext))]
    [Migration("20261208090000_FairShareRetries")]
    public partial class FairShareRetries : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // As stripe_book_fair_turn, under the same row lock, with FairShares' rule: the user is seen now and counted
            // with the users seen within active_window (asked a whole window ago is not active: InMemoryCallSchedule's
            // edge); their share time is kept however long they were quiet (the heartbeat forgets a user after an hour,
            // long after any share). With several users active, a turn in the far half of the wait goes only to a user
            // whose share time has come; a user asking before it is refused over share, their share time moved to at
            // least a share (active times the turn interval, at most max_share) from now, and wait_seconds is until that
            // moved share time. A booking moves the share time to a share after its turn; a refusal for want of a turn
            // moves nothing. Shares are per request: only its first call (p_first) is held to them or moves them. p_now
            // is for tests: null is the database's clock, read once the row is locked.
            migrationBuilder.Sql("""
                CREATE FUNCTION stripe_book_share_turn(p_user text, p_first boolean, rate double precision, max_wait double precision, hold double precision,
                    min_wait double precision, active_window double precision, max_share double precision, p_now timestamptz DEFAULT NULL)
                RETURNS TABLE (booked boolean, over_share boolean, wait_seconds double precision, cut_to double precision, cut_age_seconds double precision)
                LANGUAGE plpgsql AS $$
                DECLARE
                    sched stripe_call_schedule%ROWTYPE;
                    t_now timestamptz;
                    pace double precision;
                    step double precision;
                    turn timestamptz;
                    active bigint;
                    share interval;
                    user_next timestamptz;
                BEGIN
                    SET LOCAL synchronous_commit = off; -- a booking lost in a crash costs one turn
                    SELECT * INTO sched FROM stripe_call_schedule WHERE id = 1 FOR UPDATE;
                    t_now := coalesce(p_now, clock_timestamp());
                    pace := least(1.0, sched.cut_to + 0.1 * greatest(0.0, extract(epoch FROM t_now - sched.cut_at)::float8 - hold));
                    step := 1.0 / (rate * pace);
                    INSERT INTO stripe_budget_users AS u (user_key, next_at, seen_at) VALUES (p_user, 'epoch', t_now)
                        ON CONFLICT (user_key) DO UPDATE SET seen_at = EXCLUDED.seen_at
                        RETURNING u.next_at INTO user_next;
                    SELECT count(*) INTO active FROM stripe_budget_users WHERE seen_at > t_now - make_interval(secs => active_window);
                    share := make_interval(secs => least(step * greatest(active, 1), max_share));
                    turn := greatest(sched.next_at, t_now + make_interval(secs => min_wait));
                    over_share := p_first AND active > 1 AND turn > t_now + make_interval(secs => max_wait / 2) AND user_next > t_now;
                    IF over_share THEN
                        booked := false;
                        -- asking before one's share time counts as a share: a user asking more often than that is never due one;
                        -- the wait is until the share time after this move, so a client that waits for it is due when it asks
                        user_next := greatest(user_next, t_now + share);
                        UPDATE stripe_budget_users SET next_at = user_next WHERE user_key = p_user;
                        wait_seconds := extract(epoch FROM user_next - t_now)::float8;
                    ELSE
                        booked := turn <= t_now + make_interval(secs => max_wait);
                        IF booked THEN
                            UPDATE stripe_call_schedule SET next_at = turn + make_interval(secs => step) WHERE id = 1;
                            IF p_first THEN
                                UPDATE stripe_budget_users SET next_at = turn + share WHERE user_key = p_user;
                            END IF;
                        ELSIF turn > sched.next_at THEN
                            UPDATE stripe_call_schedule SET next_at = turn WHERE id = 1; -- kept free, booked or not
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
                DROP FUNCTION stripe_book_share_turn(text, boolean, double precision, double precision, double precision, double precision, double precision, double precision, timestamptz);
                """);
        }
    }
}
