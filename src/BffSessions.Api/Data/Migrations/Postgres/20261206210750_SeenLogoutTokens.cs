using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BffSessions.Api.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class SeenLogoutTokens : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "seen_logout_tokens",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    issued_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_seen_logout_tokens", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_seen_logout_tokens_issued_at",
                table: "seen_logout_tokens",
                column: "issued_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "seen_logout_tokens");
        }
    }
}
