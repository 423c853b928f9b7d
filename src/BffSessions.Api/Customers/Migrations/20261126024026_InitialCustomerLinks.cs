using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace BffSessions.Api.Customers.Migrations
{
    /// <inheritdoc />
    public partial class InitialCustomerLinks : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "customer_links",
                columns: table => new
                {
                    user_id = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    customer_id = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_customer_links", x => x.user_id);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "customer_links");
        }
    }
}
