namespace BffSessions.Api.Identity;

/// <summary>Claim types the BFF itself gives a session.</summary>
public static class BffClaims
{
    /// <summary>The session's id: the identity provider's <c>sid</c> when it sends one, else one of our own.</summary>
    public const string SessionId = "sid";
}

/// <summary>Marks an endpoint that signs someone in: the session a request to it presents is ended, not reused (BrowserSessionStore).</summary>
public sealed class SignsIn;
