using System.Net;
using Microsoft.AspNetCore.Http.Features;

namespace BffSessions.StandIn;

/// <summary>
/// An HttpClient handler that answers in this process, through the same code a served request takes: the request
/// becomes an <see cref="HttpContext"/>, the stand-in answers it, the answer becomes the response. A dropped answer
/// (<see cref="FaultMode.Drop"/>) is an <see cref="HttpRequestException"/>, as a broken connection is.
/// </summary>
internal sealed class InProcessHandler(StripeStandIn standIn, IServiceProvider services) : HttpMessageHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var headers = new HeaderDictionary();
        foreach (var (name, values) in request.Headers.Concat(request.Content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>()))
        {
            headers[name] = values.ToArray();
        }

        headers.ContentLength = body.Length;
        var uri = request.RequestUri!;
        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(new HttpRequestFeature
        {
            Method = request.Method.Method,
            Scheme = uri.Scheme,
            Path = Uri.UnescapeDataString(uri.AbsolutePath),
            QueryString = uri.Query,
            Protocol = "HTTP/1.1",
            Headers = headers,
            Body = new MemoryStream(body),
        });
        var responseBody = new MemoryStream();
        features.Set<IHttpResponseFeature>(new HttpResponseFeature());
        features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(responseBody));
        var lifetime = new Lifetime(cancellationToken);
        features.Set<IHttpRequestLifetimeFeature>(lifetime);

        await using var scope = services.CreateAsyncScope();
        var http = new DefaultHttpContext(features) { RequestServices = scope.ServiceProvider };
        await standIn.HandleAsync(http);
        if (lifetime.Aborted)
        {
            throw new HttpRequestException(HttpRequestError.ResponseEnded, "The Stripe stand-in dropped the connection before answering.");
        }

        var response = new HttpResponseMessage((HttpStatusCode)http.Response.StatusCode)
        {
            RequestMessage = request,
            Content = new ByteArrayContent(responseBody.ToArray()),
        };
        foreach (var (name, values) in http.Response.Headers)
        {
            if (!response.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
            {
                response.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        return response;
    }

    private sealed class Lifetime(CancellationToken requestAborted) : IHttpRequestLifetimeFeature
    {
        public bool Aborted { get; private set; }

        public CancellationToken RequestAborted { get; set; } = requestAborted;

        public void Abort() => Aborted = true;
    }
}
