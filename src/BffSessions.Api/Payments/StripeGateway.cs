using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using BffSessions.Hosting;
using Microsoft.Extensions.Options;
using Serilog;
using BffSessions.Api.Payments.Budget;
using Stripe;

namespace BffSessions.Api.Payments;

/// <summary>The Stripe calls this service makes, in its own small types; the seam the session issuer is tested against.</summary>
public interface IStripeGateway
{
    /// <summary>
    /// Creates the Stripe customer of <paramref name="owner"/> (or the one replacing <paramref name="replacing"/>,
    /// deleted in Stripe), of the given kind.
    /// </summary>
    Task<CustomerRef> CreateCustomerAsync(CustomerOwner owner, string? replacing, CustomerKind kind, CancellationToken cancellationToken);

    /// <summary>Creates a customer session for <paramref name="customer"/> with the given components.</summary>
    /// <exception cref="StripeCustomerMissingException">Stripe no longer knows the customer.</exception>
    Task<CreatedSession> CreateCustomerSessionAsync(CustomerRef customer, CustomerSessionComponentsOptions components, CancellationToken cancellationToken);
}

/// <summary>
/// The only place that calls Stripe, through Stripe.net's typed services. Each call runs within the
/// <see cref="StripeOptions.Timeout"/> (Stripe.net's retries included), within the bound on calls in flight,
/// and records Stripe's request id for the request log.
/// </summary>
public sealed class StripeGateway(
    StripeClient client, IOptions<StripeOptions> options, IDiagnosticContext diagnostics, ServiceMetrics metrics, TimeProvider time)
    : IStripeGateway, IDisposable
{
    /// <summary>Stripe's sessions last 30 minutes; anything beyond a day is not a session Stripe made.</summary>
    private static readonly TimeSpan MaxSessionLifetime = TimeSpan.FromDays(1);

    // A bound on Stripe calls in flight: past it a request is refused at once (503) instead of queueing without
    // bound behind a slow Stripe, tying up memory and connections.
    private readonly ConcurrencyLimiter _inFlight = new(new ConcurrencyLimiterOptions
    {
        PermitLimit = options.Value.MaxCallsInFlight,
        QueueLimit = 0,
    });

    private readonly TimeSpan _timeout = options.Value.Timeout;

    /// <summary>
    /// The idempotency key is derived from the user (and the replaced id), so a retried or racing creation gets
    /// the same customer back from Stripe for the 24 hours Stripe keeps keys; the map's lock is the lasting guard.
    /// </summary>
    public async Task<CustomerRef> CreateCustomerAsync(CustomerOwner owner, string? replacing, CustomerKind kind, CancellationToken cancellationToken)
    {
        var metadata = new Dictionary<string, string> { ["user_id"] = owner.UserId, ["issuer"] = owner.Issuer };
        var request = new RequestOptions { IdempotencyKey = CustomerIdempotencyKey(owner, replacing, kind) };
        if (kind == CustomerKind.Account)
        {
            // POST /v2/core/accounts (JSON): an Account that is a customer — the customer configuration, no merchant.
            var account = new Stripe.V2.Core.AccountCreateOptions
            {
                ContactEmail = owner.Email,
                DisplayName = owner.Name ?? owner.Email,
                Metadata = metadata,
                Configuration = new Stripe.V2.Core.AccountCreateConfigurationOptions { Customer = new() },
            };
            var created = await CallAsync("accounts.create", token => client.V2.Core.Accounts.CreateAsync(account, request, token), cancellationToken);
            return new CustomerRef(created.Id, CustomerKind.Account);
        }

        var create = new CustomerCreateOptions { Email = owner.Email, Name = owner.Name, Metadata = metadata };
        var customer = await CallAsync("customers.create", token => client.V1.Customers.CreateAsync(create, request, token), cancellationToken);
        return new CustomerRef(customer.Id, CustomerKind.Customer);
    }

    /// <summary>
    /// POST /v1/customer_sessions with exactly one of <c>customer</c> or <c>customer_account</c>, by the kind the map
    /// recorded. Stripe.net adds the idempotency key that its retries reuse.
    /// </summary>
    public async Task<CreatedSession> CreateCustomerSessionAsync(CustomerRef customer, CustomerSessionComponentsOptions components, CancellationToken cancellationToken)
    {
        var create = new CustomerSessionCreateOptions { Components = components };
        if (customer.Kind == CustomerKind.Account)
        {
            create.CustomerAccount = customer.Id;
        }
        else
        {
            create.Customer = customer.Id;
        }

        CustomerSession session;
        try
        {
            session = await CallAsync("customer_sessions.create", token => client.V1.CustomerSessions.CreateAsync(create, cancellationToken: token), cancellationToken);
        }
        catch (StripeException e) when (e.StripeError is { Code: "resource_missing", Param: "customer" or "customer_account" })
        {
            throw new StripeCustomerMissingException(customer.Id, e);
        }

        // A 200 that cannot be handed out is as broken as malformed JSON (which Stripe.net already turns into a
        // StripeException): answered like any other bad answer from Stripe.
        var requestId = session.StripeResponse?.RequestId;
        if (string.IsNullOrEmpty(session.ClientSecret))
        {
            throw new StripeAnswerRejectedException("the customer session has no client secret", requestId);
        }

        var now = time.GetUtcNow().UtcDateTime;
        var expiresAt = DateTime.SpecifyKind(session.ExpiresAt, DateTimeKind.Utc);
        if (expiresAt <= now || expiresAt > now + MaxSessionLifetime)
        {
            throw new StripeAnswerRejectedException("the customer session's expiry is not within the next day", requestId);
        }

        if ((customer.Kind == CustomerKind.Account ? session.CustomerAccount : session.CustomerId) != customer.Id)
        {
            throw new StripeAnswerRejectedException("the customer session belongs to another customer than the one asked for", requestId);
        }

        return new CreatedSession(session.ClientSecret, expiresAt);
    }

    public void Dispose() => _inFlight.Dispose();

    /// <summary>
    /// "bffsessions-customer-" (or "bffsessions-account-") and the SHA-256 of the user (issuer and subject): fixed length, whatever they hold, and
    /// different for equal subjects of two issuers. A replacement customer gets its own key (the replaced id appended),
    /// or Stripe would hand back the deleted one.
    /// </summary>
    public static string CustomerIdempotencyKey(CustomerOwner owner, string? replacing = null, CustomerKind kind = CustomerKind.Customer) =>
        (kind == CustomerKind.Account ? "bffsessions-account-" : "bffsessions-customer-")
        + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(owner.Key)))
        + (replacing is null ? "" : "-replacing-" + replacing);

    /// <summary>
    /// One Stripe call (Stripe.net's retries included), as one span and one measurement named by
    /// <paramref name="operation"/>: within the in-flight bound and the timeout, its request id noted for the log. The
    /// measurement is Stripe's time: a call never sent (stripe-busy) is not measured, and the time spent waiting for
    /// turns in the budget of Stripe calls is taken out.
    /// </summary>
    private async Task<T> CallAsync<T>(string operation, Func<CancellationToken, Task<T>> call, CancellationToken requestAborted)
        where T : IStripeEntity
    {
        using var activity = Telemetry.Source.StartActivity("stripe " + operation, ActivityKind.Internal);
        activity?.SetTag(Telemetry.StripeOperationTag, operation);
        var started = time.GetTimestamp();
        var waits = StripeBudget.StartTally();
        var outcome = "ok";
        try
        {
            return await WithinLimitsAsync(call, activity, requestAborted);
        }
        catch (Exception e) when (PaymentProblemTypes.Of(e) is { } problem)
        {
            outcome = ProblemTypes.ShortName(problem);
            activity?.SetStatus(ActivityStatusCode.Error, outcome);
            throw;
        }
        finally
        {
            activity?.SetTag("bffsessions.stripe.outcome", outcome);
            if (outcome != ProblemTypes.ShortName(PaymentProblemTypes.StripeBusy))
            {
                metrics.StripeCall(operation, outcome, time.GetElapsedTime(started) - waits.Waited);
            }
        }
    }

    private async Task<T> WithinLimitsAsync<T>(Func<CancellationToken, Task<T>> call, Activity? activity, CancellationToken requestAborted)
        where T : IStripeEntity
    {
        using var permit = _inFlight.AttemptAcquire();
        if (!permit.IsAcquired)
        {
            throw new StripeBusyException();
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        timeout.CancelAfter(_timeout);
        try
        {
            var result = await call(timeout.Token);
            NoteRequestId(result.StripeResponse?.RequestId, activity);
            return result;
        }
        catch (Exception e) when (timeout.IsCancellationRequested && !requestAborted.IsCancellationRequested && e is OperationCanceledException or StripeException)
        {
            throw new StripeTimeoutException(_timeout, e);
        }
        catch (StripeException e)
        {
            NoteRequestId(e.StripeResponse?.RequestId, activity);
            throw;
        }
    }

    /// <summary>Stripe's request id, for the request's log line and the span: what Stripe's support asks for.</summary>
    private void NoteRequestId(string? requestId, Activity? activity)
    {
        if (requestId is not null)
        {
            // Stripe's header, but still text from the network: cut, and without control characters.
            requestId = LogValues.Text(requestId);
            diagnostics.Set(LoggingExtensions.StripeRequestIdProperty, requestId);
            activity?.SetTag(Telemetry.StripeRequestIdTag, requestId);
        }
    }
}
