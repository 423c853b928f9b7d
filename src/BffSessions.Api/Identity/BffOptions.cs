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

    /// <summary>How long a browser session lives however often it is used: it ends this long after sign-in.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "90.00:00:00")]
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>How often expired sessions are deleted from the database (in batches of <see cref="SessionCleanupBatch"/>).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan SessionCleanupInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Most expired sessions deleted in one statement, so cleanup never holds a long lock.</summary>
    [Range(1, 100_000)]
    public int SessionCleanupBatch { get; set; } = 500;
}
