using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BffSessions.Api.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class IssuerAndBrowserSessions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropPrimaryKey(
                name: "PK_customer_links",
                table: "customer_links");

            migrationBuilder.AddColumn<string>(
                name: "issuer",
                table: "customer_links",
                type: "TEXT",
                maxLength: 512,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddPrimaryKey(
                name: "PK_customer_links",
                table: "customer_links",
                columns: new[] { "issuer", "user_id" });

            migrationBuilder.CreateTable(
                name: "browser_sessions",
                columns: table => new
                {
                    key_hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    issuer = table.Column<string>(type: "TEXT", maxLength: 512, nullable: false),
                    subject = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    sid = table.Column<string>(type: "TEXT", maxLength: 255, nullable: true),
                    created_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    renewed_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    expires_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    absolute_expires_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ticket = table.Column<byte[]>(type: "BLOB", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_browser_sessions", x => x.key_hash);
                });

            migrationBuilder.CreateIndex(
                name: "IX_browser_sessions_expires_at",
                table: "browser_sessions",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "IX_browser_sessions_issuer_sid",
                table: "browser_sessions",
                columns: new[] { "issuer", "sid" });

            migrationBuilder.CreateIndex(
                name: "IX_browser_sessions_issuer_subject",
                table: "browser_sessions",
                columns: new[] { "issuer", "subject" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "browser_sessions");

            migrationBuilder.DropPrimaryKey(
                name: "PK_customer_links",
                table: "customer_links");

            migrationBuilder.DropColumn(
                name: "issuer",
                table: "customer_links");

            migrationBuilder.AddPrimaryKey(
                name: "PK_customer_links",
                table: "customer_links",
                column: "user_id");
        }
    }
}
