namespace BffSessions.Hosting;

/// <summary>Reading a form a client posted, without letting a malformed one become a 500.</summary>
public static class RequestForms
{
    /// <summary>
    /// The form, or null when the body is not a readable URL-encoded form: another content type (multipart too: no form
    /// here takes files, and its parts could each declare a charset of their own), more fields or longer values than
    /// ASP.NET Core's form limits allow, or cut off mid-way.
    /// </summary>
    public static async Task<IFormCollection?> ReadOrNullAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
            || !type.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            return await request.ReadFormAsync(cancellationToken);
        }
        // A body over the size cap is not a malformed form: it stays a 413 (BadHttpRequestException, an IOException).
        catch (Exception e) when (e is InvalidDataException or InvalidOperationException or NotSupportedException or ArgumentException
                                      or System.Text.DecoderFallbackException or (IOException and not BadHttpRequestException))
        {
            return null;
        }
    }
}
