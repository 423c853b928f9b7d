using System.ComponentModel.DataAnnotations;

namespace BffSessions.Api.Identity;

/// <summary>The <c>Bff</c> section: the browser session.</summary>
public sealed class BffOptions
{
    public const string SectionName = "Bff";

    /// <summary>
    /// How long a browser session lives without use; every request in the second half of that window renews it
    /// (sliding expiry).
    /// </summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan SessionIdleTimeout { get; set; } = TimeSpan.FromHours(1);
}
