using System.Diagnostics.Metrics;
using BffSessions.Hosting;
using OpenTelemetry.Instrumentation.Http;

namespace BffSessions.Api.Payments;

/// <summary>
/// Payments' instrument on the service's meter: how long each Stripe call took, by operation and outcome (closed
/// sets: the operations this service calls, the problem names). Each call is a span too, tagged with the operation and
/// Stripe's request id, and so is its HTTP request.
/// </summary>
public sealed class StripeMetrics
{
    /// <summary>The tag naming which Stripe call a span is (customers.create, customer_sessions.create, …).</summary>
    public const string OperationTag = "bffsessions.stripe.operation";

    /// <summary>Stripe's request id on a span: what Stripe's support asks for.</summary>
    public const string RequestIdTag = "stripe.request_id";

    /// <summary>Stripe's request id on the request's log line (the Development console shows it).</summary>
    public const string RequestIdProperty = "StripeRequestId";

    private readonly Histogram<double> _calls;

    public StripeMetrics(IMeterFactory meters)
    {
        _calls = meters.Create(Telemetry.Name).CreateHistogram<double>("bffsessions.stripe.duration", "s",
            "How long each Stripe call took, retries included, by operation and outcome.", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    }

    public void Call(string operation, string outcome, TimeSpan elapsed) => _calls.Record(elapsed.TotalSeconds,
        new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>Stripe's HTTP requests are children of the gateway's span: they carry its operation, and Stripe's request id.</summary>
    internal static void Enrich(HttpClientTraceInstrumentationOptions http)
    {
        http.EnrichWithHttpRequestMessage = (activity, _) =>
        {
            if (activity.Parent is { Source.Name: Telemetry.Name } parent && parent.GetTagItem(OperationTag) is string operation)
            {
                activity.SetTag(OperationTag, operation);
            }
        };
        http.EnrichWithHttpResponseMessage = (activity, response) =>
        {
            if (activity.Parent is { Source.Name: Telemetry.Name } && response.Headers.TryGetValues("Request-Id", out var ids))
            {
                activity.SetTag(RequestIdTag, ids.FirstOrDefault());
            }
        };
    }
}
