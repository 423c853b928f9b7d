namespace BffSessions.Hosting;

/// <summary>Reading a form a client posted, without letting a malformed one become a 500.</summary>
public static class RequestForms
{
    /// <summary>
    /// The form, or null when the body is not a readable form: not form-encoded, a multipart body without its boundary,
    /// more fields or longer values than ASP.NET Core's form limits allow, or cut off mid-way.
    /// </summary>
    public static async Task<IFormCollection?> ReadOrNullAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!request.HasFormContentType)
        {
            return null;
        }

        try
        {
            return await request.ReadFormAsync(cancellationToken);
        }
        // A body over the size cap is not a malformed form: it stays a 413 (BadHttpRequestException, an IOException).
        catch (Exception e) when (e is InvalidDataException or InvalidOperationException or (IOException and not BadHttpRequestException))
        {
            return null;
        }
    }
}
