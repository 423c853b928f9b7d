// The benchmark's reference point (p): the least any service can do for a session request on this machine. Kestrel
// takes the POST, one pooled HttpClient call sends a fixed form to the Stripe stand-in, and a fixed JSON answer goes
// back. No authentication, validation, customer map, logging, rate limiting or Stripe.net. Whatever (p) reaches of
// the ceiling (c), no real service doing one upstream call per request can exceed on the same two cores.
using System.Net.Http.Headers;
using System.Text;

var upstream = new Uri(Environment.GetEnvironmentVariable("BAREPROXY_UPSTREAM") ?? "http://127.0.0.1:12190");
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();

using var http = new HttpClient(new SocketsHttpHandler()) { BaseAddress = upstream };
// The form names a customer the stand-in holds (bench/run creates one and passes it): it refuses unknown customers, as
// Stripe does.
var form = Environment.GetEnvironmentVariable("BAREPROXY_FORM")
    ?? throw new InvalidOperationException("BAREPROXY_FORM: the form to send, naming a customer the stand-in holds");
var answer = Encoding.UTF8.GetBytes("{\"clientSecret\":\"cuss_secret_bench\",\"expiresAt\":\"2030-01-01T00:00:00Z\"}");

app.MapPost("/api/customer-sessions", async (HttpContext context) =>
{
    var buffer = new byte[4096];
    while (await context.Request.Body.ReadAsync(buffer, context.RequestAborted) > 0)
    {
    }

    using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/customer_sessions")
    {
        Content = new StringContent(form, Encoding.UTF8, "application/x-www-form-urlencoded"),
    };
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk_test_benchmark");
    using var response = await http.SendAsync(request, context.RequestAborted);
    _ = await response.Content.ReadAsByteArrayAsync(context.RequestAborted);
    context.Response.StatusCode = response.IsSuccessStatusCode ? StatusCodes.Status200OK : StatusCodes.Status502BadGateway;
    context.Response.ContentType = "application/json";
    await context.Response.Body.WriteAsync(answer, context.RequestAborted);
});

app.Run();
