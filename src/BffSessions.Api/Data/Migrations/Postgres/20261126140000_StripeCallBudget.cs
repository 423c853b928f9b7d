using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BffSessions.Api.Data.Migrations.Postgres
{
    /// <summary>
    /// The shared schedule of Stripe calls (PostgresCallSchedule): not entities of the model, since only raw SQL reads
    /// them, and PostgreSQL only, since one SQLite instance keeps its schedule in memory.
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
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TABLE stripe_budget_instances; DROP TABLE stripe_call_schedule;");
        }
    }
}
