using System.Diagnostics;
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
    /// Creates the customer (or Account v2) <paramref name="creation"/> describes, under its idempotency key. Sent
    /// again with the same key and values after a lost answer, it gives back the customer the first call made.
    /// </summary>
    /// <exception cref="StripeKeySpentException">Stripe keeps a failure for the key: the next attempt needs a new one.</exception>
    /// <exception cref="StripeValueRefusedException">Stripe refused the name or the email: the next attempt leaves it out.</exception>
    Task<CustomerRef> CreateCustomerAsync(CustomerCreation creation, CancellationToken cancellationToken);

    /// <summary>
    /// The customers Stripe's search shows for the user, with the creation attempt that made each (metadata
    /// <c>bffsessions_creation</c>): how creations whose outcome Stripe left unknown are settled. Search shows a new
    /// customer only after <see cref="StripeOptions.SearchLag"/>.
    /// </summary>
    Task<IReadOnlyList<MadeCustomer>> FindCustomersOfAsync(string issuer, string userId, CancellationToken cancellationToken);

    /// <summary>Deletes a customer no user has (made by a creation whose answer was a failure). One already gone is no error.</summary>
    Task DeleteCustomerAsync(string customerId, CancellationToken cancellationToken);

    /// <summary>Creates a customer session for <paramref name="customer"/> with the given components.</summary>
    /// <exception cref="StripeCustomerMissingException">Stripe no longer knows the customer.</exception>
    Task<CreatedSession> CreateCustomerSessionAsync(CustomerRef customer, SessionComponents components, CancellationToken cancellationToken);
}

/// <summary>
/// The only place that calls Stripe, through Stripe.net's typed services. Each call runs within the
/// <see cref="StripeOptions.Timeout"/> (Stripe.net's retries included), within the bound on calls in flight,
/// and records Stripe's request id for the request log.
/// </summary>
public sealed class StripeGateway(
    StripeClient client, IOptions<StripeOptions> options, IDiagnosticContext diagnostics, StripeMetrics metrics, TimeProvider time)
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

    private readonly int _maxRetries = options.Value.MaxNetworkRetries;

    public async Task<CustomerRef> CreateCustomerAsync(CustomerCreation creation, CancellationToken cancellationToken)
    {
        var request = new RequestOptions { IdempotencyKey = creation.Key };
        try
        {
            if (creation.Kind == CustomerKind.Account)
            {
                // POST /v2/core/accounts (JSON): an Account that is a customer — the customer configuration, no merchant.
                var account = new Stripe.V2.Core.AccountCreateOptions
                {
                    ContactEmail = creation.Email,
                    // An address may be longer than a display name may be (320 against 256): cut as a name is.
                    DisplayName = creation.Name ?? StripeCustomerFields.Name(creation.Email),
                    Metadata = creation.Metadata(),
                    Configuration = new Stripe.V2.Core.AccountCreateConfigurationOptions { Customer = new() },
                };
                var created = await CallAsync("accounts.create", token => client.V2.Core.Accounts.CreateAsync(account, request, token), cancellationToken);
                return new CustomerRef(created.Id, CustomerKind.Account);
            }

            var create = new CustomerCreateOptions { Email = creation.Email, Name = creation.Name, Metadata = creation.Metadata() };
            var customer = await CallAsync("customers.create", token => client.V1.Customers.CreateAsync(create, request, token), cancellationToken);
            return new CustomerRef(customer.Id, CustomerKind.Customer);
        }
        catch (StripeException e) when (creation.Kind == CustomerKind.Customer && StripeFailures.IsKeptForKey(e))
        {
            throw new StripeKeySpentException(creation.Key, e);
        }
        catch (StripeException e) when (StripeFailures.RefusedField(e) is { } field && creation.Has(field))
        {
            throw new StripeValueRefusedException(field, e);
        }
    }

    public async Task<IReadOnlyList<MadeCustomer>> FindCustomersOfAsync(string issuer, string userId, CancellationToken cancellationToken)
    {
        // Stripe's query language quotes values in ' and escapes with \; the issuer is compared here, as stored.
        var search = new CustomerSearchOptions { Query = $"metadata['user_id']:'{Quote(StripeCustomerFields.MetadataValue(userId))}'", Limit = 100 };
        var found = await CallAsync("customers.search", token => client.V1.Customers.SearchAsync(search, cancellationToken: token), cancellationToken);
        var issuerValue = StripeCustomerFields.MetadataValue(issuer);
        return found.Data
            .Where(c => c.Metadata?.GetValueOrDefault("issuer") == issuerValue && c.Metadata?.GetValueOrDefault("user_id") == StripeCustomerFields.MetadataValue(userId))
            .Select(c => new MadeCustomer(c.Id, c.Metadata.GetValueOrDefault(StripeCustomerFields.CreationKeyMetadata)))
            .ToList();

        static string Quote(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal);
    }

    public async Task DeleteCustomerAsync(string customerId, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync("customers.delete", token => client.V1.Customers.DeleteAsync(customerId, cancellationToken: token), cancellationToken);
        }
        catch (StripeException e) when (e.StripeError?.Code == "resource_missing")
        {
            // Deleted already (by a settle on another instance, or in the Dashboard): what was asked for is so.
        }
    }

    /// <summary>
    /// POST /v1/customer_sessions with exactly one of <c>customer</c> or <c>customer_account</c>, by the kind the map
    /// recorded. Stripe.net adds the idempotency key that its retries reuse.
    /// </summary>
    public async Task<CreatedSession> CreateCustomerSessionAsync(CustomerRef customer, SessionComponents components, CancellationToken cancellationToken)
    {
        var create = new CustomerSessionCreateOptions { Components = components.ToStripeOptions() };
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
            // A session is cheap and harmless twice, so a 5xx Stripe keeps for one key is tried again under a new one.
            session = await CallAsync("customer_sessions.create", token => client.V1.CustomerSessions.CreateAsync(create, cancellationToken: token),
                cancellationToken, retryUnderNewKey: true);
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
    /// One Stripe call (Stripe.net's retries included), as one span and one measurement named by
    /// <paramref name="operation"/>: within the in-flight bound and the timeout, its request id noted for the log. The
    /// measurement is Stripe's time: a call never sent (stripe-busy) is not measured, and the time spent waiting for
    /// turns in the budget of Stripe calls is taken out.
    /// </summary>
    private async Task<T> CallAsync<T>(string operation, Func<CancellationToken, Task<T>> call, CancellationToken requestAborted, bool retryUnderNewKey = false)
        where T : IStripeEntity
    {
        using var activity = Telemetry.Source.StartActivity("stripe " + operation, ActivityKind.Internal);
        activity?.SetTag(StripeMetrics.OperationTag, operation);
        var started = time.GetTimestamp();
        var waits = StripeBudget.StartTally();
        var outcome = "ok";
        try
        {
            return await WithinLimitsAsync(call, activity, retryUnderNewKey, requestAborted);
        }
        catch (Exception e) when (PaymentProblems.Of(e) is { } problem)
        {
            outcome = problem.Name;
            activity?.SetStatus(ActivityStatusCode.Error, outcome);
            throw;
        }
        finally
        {
            activity?.SetTag("bffsessions.stripe.outcome", outcome);
            if (outcome != PaymentProblems.StripeBusy.Name)
            {
                metrics.Call(operation, outcome, time.GetElapsedTime(started) - waits.Waited);
            }
        }
    }

    /// <summary>
    /// The call within the in-flight bound and the timeout. Stripe.net retries a lost connection or a 409 under the same
    /// key (a replay is what is wanted then), but not a 5xx that Stripe keeps for the key (StripeIdempotencyHandler):
    /// with <paramref name="retryUnderNewKey"/>, that is tried again here, as often as Stripe.net would, each time
    /// under the new key Stripe.net gives every call.
    /// </summary>
    private async Task<T> WithinLimitsAsync<T>(Func<CancellationToken, Task<T>> call, Activity? activity, bool retryUnderNewKey, CancellationToken requestAborted)
        where T : IStripeEntity
    {
        using var permit = _inFlight.AttemptAcquire();
        if (!permit.IsAcquired)
        {
            throw new StripeBusyException();
        }

        // The request's calls share one Stripe:Timeout (StripeAllowance); a call outside a request gets it whole.
        var left = StripeAllowance.Active?.TimeLeft ?? _timeout;
        if (left <= TimeSpan.Zero)
        {
            throw new StripeTimeoutException(_timeout, new TimeoutException("No time is left of the request's Stripe:Timeout."));
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        timeout.CancelAfter(left < _timeout ? left : _timeout);
        for (var retry = 0; ; retry++)
        {
            try
            {
                if (retry > 0)
                {
                    await Task.Delay(StripeFailures.RetryDelay(retry - 1), time, timeout.Token);
                }

                var result = await call(timeout.Token);
                NoteRequestId(result.StripeResponse?.RequestId, activity);
                return result;
            }
            catch (Exception e) when (timeout.IsCancellationRequested && !requestAborted.IsCancellationRequested && e is OperationCanceledException or StripeException)
            {
                throw new StripeTimeoutException(_timeout, e);
            }
            catch (StripeException e) when (retryUnderNewKey && retry < _maxRetries && StripeFailures.IsKeptForKey(e))
            {
                NoteRequestId(e.StripeResponse?.RequestId, activity);
            }
            catch (StripeException e)
            {
                NoteRequestId(e.StripeResponse?.RequestId, activity);
                throw;
            }
        }
    }

    /// <summary>Stripe's request id, for the request's log line and the span: what Stripe's support asks for.</summary>
    private void NoteRequestId(string? requestId, Activity? activity)
    {
        if (requestId is not null)
        {
            // Stripe's header, but still text from the network: cut, and without control characters.
            requestId = LogValues.Text(requestId);
            diagnostics.Set(StripeMetrics.RequestIdProperty, requestId);
            activity?.SetTag(StripeMetrics.RequestIdTag, requestId);
        }
    }
}
