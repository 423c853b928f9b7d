using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BffSessions.Api.Identity;

/// <summary>Where sign-in and sign-out may send the browser back to: a plain path on this site, nothing else.</summary>
public static class ReturnUrls
{
    // RFC 3986's characters: anything else (non-ASCII, controls, spaces, quotes, a backslash) cannot go into a
    // Location header as it is, and some browsers read a backslash as a slash.
    private static readonly SearchValues<char> UriCharacters = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%");

    /// <summary>
    /// "/checkout?step=2" is plain. Not "//evil.example" or "/\evil.example" (another host), not "https://…", not
    /// "/é" or "/a\tb" (unsendable; "/caf%C3%A9" is fine), and no escape that hides a slash, a backslash, a control or another escape
    /// ("/%2F%2Fevil.example", "/%5Cevil", "/%0d%0a…", "/%252f").
    /// </summary>
    public static bool IsPlainLocalPath([NotNullWhen(true)] string? url)
    {
        if (string.IsNullOrEmpty(url) || url.Length > 2048 || url[0] != '/' || (url.Length > 1 && url[1] is '/' or '\\')
            || url.AsSpan().ContainsAnyExcept(UriCharacters))
        {
            return false;
        }

        // In the path: no empty or dot segments ("/.//x", "/a/../x", "/a/%2e%2e/x" as a browser reads it), which only
        // ever serve to disguise where it goes.
        var path = url.AsSpan(0, url.AsSpan().IndexOfAny('?', '#') is var end and >= 0 ? end : url.Length);
        if (path.Contains("//", StringComparison.Ordinal) || path.Contains("%2e", StringComparison.OrdinalIgnoreCase) || path.Contains("/./", StringComparison.Ordinal)
            || path.Contains("/../", StringComparison.Ordinal) || path.EndsWith("/.", StringComparison.Ordinal) || path.EndsWith("/..", StringComparison.Ordinal))
        {
            return false;
        }

        for (var i = url.IndexOf('%', StringComparison.Ordinal); i >= 0; i = url.IndexOf('%', i + 1))
        {
            if (i + 2 >= url.Length
                || !byte.TryParse(url.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var escaped)
                || escaped < 0x20 || escaped == 0x7F || escaped is (byte)'/' or (byte)'\\' or (byte)'%')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An absent or empty returnUrl means the site's root.</summary>
    public static string OrRoot(string? returnUrl) => string.IsNullOrEmpty(returnUrl) ? "/" : returnUrl;

    public static ProblemHttpResult Refused() => IdentityProblems.InvalidReturnUrl.Result(IdentityProblems.InvalidReturnUrlDetail);
}
