using System.Net;
using System.Security.Claims;
using BffSessions.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Identity;

/// <summary>
/// Development without an identity provider: sign in as any user id and email, to try the browser flow locally.
/// Mapped only in Development and only when no OpenID Connect Authority is configured.
/// </summary>
public static class DevSignIn
{
    /// <summary>
    /// The issuer of identities from this form. Sessions it issued are refused outside Development
    /// (<see cref="BrowserSessionStore"/>), and its users are never confused with a real provider's.
    /// </summary>
    public const string Issuer = "urn:bffsessions:dev-sign-in";

    public static IResult Form(HttpContext http, string? returnUrl)
    {
        returnUrl = ReturnUrls.OrRoot(returnUrl);
        if (!ReturnUrls.IsPlainLocalPath(returnUrl))
        {
            return ReturnUrls.Refused();
        }

        var html = $$"""
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><title>Local sign-in (Development)</title>
            <link rel="stylesheet" href="/demo.css"></head>
            <body>
            <main>
              <h1>Local sign-in</h1>
              <p>Development only: no identity provider is configured, so you can sign in as anyone.</p>
              <form method="post" action="/bff/login">
                <label>User id <input name="userId" required maxlength="255" value="dev-user"></label>
                <label>Email <input name="email" type="email" maxlength="512" value="dev-user@example.com"></label>
                <label>Name <input name="name" maxlength="256" value="Dev User"></label>
                <input type="hidden" name="returnUrl" value="{{WebUtility.HtmlEncode(returnUrl)}}">
                <button type="submit">Sign in</button>
              </form>
            </main>
            </body>
            </html>
            """;
        // The demo page's policy: no script at all is needed here, and no other site may frame the form.
        http.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        return TypedResults.Content(html, "text/html; charset=utf-8");
    }

    public static async Task<IResult> SignInAsync(HttpContext http, IOptions<UserClaimsOptions> claimNames)
    {
        // Only this site's own form may sign someone in (a login CSRF would sign the victim in as the attacker).
        var origin = http.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && origin != $"{http.Request.Scheme}://{http.Request.Host}")
        {
            return IdentityProblems.CrossSiteSignIn.Result("Sign in with the form this site serves at /bff/login.");
        }

        if (!http.Request.HasFormContentType)
        {
            return CommonProblems.UnsupportedMediaType.Result("Post the form as application/x-www-form-urlencoded.");
        }

        if (await RequestForms.ReadOrNullAsync(http.Request, http.RequestAborted) is not { } form)
        {
            return CommonProblems.InvalidBody.Result("The sign-in form could not be read: post the form this site serves at /bff/login.");
        }

        var userId = form["userId"].ToString().Trim();
        var rawEmail = form["email"].ToString().Trim();
        // The same rule as a provider's claims get on their way to Stripe (DisplayText): a name is cleaned of control
        // and bidirectional-override characters and markup; an email must be an address Stripe takes.
        var email = DisplayText.EmailAddress(rawEmail, DisplayText.MaxEmailLength);
        var name = DisplayText.Clean(form["name"].ToString(), DisplayText.MaxNameLength + 1); // one more, to tell a long name
        var returnUrl = ReturnUrls.OrRoot(form["returnUrl"].ToString());
        var errors = new Dictionary<string, string[]>();
        if (!CurrentUserAccessor.IsUsable(userId, IdentityLimits.MaxSubjectLength))
        {
            errors["userId"] = ["A user id of 1 to 255 characters, without control characters, is required."];
        }

        if (rawEmail.Length > 0 && email is null)
        {
            errors["email"] = [$"An email address (name@example.com) of at most {DisplayText.MaxEmailLength} characters, or nothing."];
        }

        if (name?.Length > DisplayText.MaxNameLength)
        {
            errors["name"] = [$"At most {DisplayText.MaxNameLength} characters."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: CommonProblems.InvalidRequest.Title, type: CommonProblems.InvalidRequest.Type);
        }

        if (!ReturnUrls.IsPlainLocalPath(returnUrl))
        {
            return ReturnUrls.Refused();
        }

        var names = claimNames.Value;
        var claims = new List<Claim> { new(CurrentUserAccessor.IssuerClaim, Issuer), new(names.UserIdClaim, userId) };
        if (email is not null)
        {
            claims.Add(new Claim(names.EmailClaim, email));
        }

        if (name is not null)
        {
            claims.Add(new Claim(names.NameClaim, name));
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, "dev-sign-in", names.NameClaim, "role"));
        await http.SignInAsync(IdentityExtensions.CookieScheme, principal);
        return TypedResults.Redirect(returnUrl);
    }
}
