using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BffSessions.Api.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ForgottenCustomersAndStripeEvents : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTime>(
                name: "forgotten_at",
                table: "customer_links",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "forgotten_customer_id",
                table: "customer_links",
                type: "character varying(255)",
                maxLength: 255,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "processed_stripe_events",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    type = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    received_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_processed_stripe_events", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_customer_links_customer_id",
                table: "customer_links",
                column: "customer_id");

            migrationBuilder.CreateIndex(
                name: "IX_customer_links_forgotten_at",
                table: "customer_links",
                column: "forgotten_at");

            migrationBuilder.CreateIndex(
                name: "IX_processed_stripe_events_received_at",
                table: "processed_stripe_events",
                column: "received_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "processed_stripe_events");

            migrationBuilder.DropIndex(
                name: "IX_customer_links_customer_id",
                table: "customer_links");

            migrationBuilder.DropIndex(
                name: "IX_customer_links_forgotten_at",
                table: "customer_links");

            migrationBuilder.DropColumn(
                name: "forgotten_at",
                table: "customer_links");

            migrationBuilder.DropColumn(
                name: "forgotten_customer_id",
                table: "customer_links");
        }
    }
}
