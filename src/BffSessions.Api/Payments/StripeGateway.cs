using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using BffSessions.Api.Customers;
using BffSessions.Api.Identity;
using Microsoft.Extensions.Options;
using Serilog;
using Stripe;

namespace BffSessions.Api.Payments;

/// <summary>
/// The only place that calls Stripe. Each call runs within the <see cref="StripeOptions.Timeout"/> budget
/// (Stripe.net's retries included) and records Stripe's request id for the request log.
/// </summary>
public sealed class StripeGateway(
    StripeClient client, IOptions<StripeOptions> options, IOptions<Hosting.RateLimitingOptions> limits, IDiagnosticContext diagnostics)
    : IDisposable
{
    // A bound on Stripe calls in flight: past it a request is refused at once (503) instead of queueing without
    // bound behind a slow Stripe, tying up memory and connections.
    private readonly ConcurrencyLimiter _inFlight = new(new ConcurrencyLimiterOptions
    {
        PermitLimit = limits.Value.StripeConcurrency,
        QueueLimit = 0,
    });

    private readonly CustomerService _customers = new(client);
    private readonly Stripe.V2.Core.AccountService _accounts = client.V2.Core.Accounts;
    private readonly TimeSpan _budget = options.Value.Timeout;

    /// <summary>
    /// Creates the user's Stripe customer (or the one replacing <paramref name="replacing"/>, deleted in Stripe).
    /// The idempotency key is derived from the user id (and the replaced id), so a retried or racing creation gets
    /// the same customer back from Stripe for the 24 hours Stripe keeps keys; the map's lock is the lasting guard.
    /// </summary>
    public async Task<CustomerRef> CreateCustomerAsync(SignedInUser user, string? replacing, CustomerKind kind, CancellationToken cancellationToken)
    {
        var metadata = new Dictionary<string, string> { ["user_id"] = user.Id };
        var request = new RequestOptions { IdempotencyKey = CustomerIdempotencyKey(user.Id, replacing, kind) };
        if (kind == CustomerKind.Account)
        {
            // POST /v2/core/accounts (JSON): an Account that is a customer — the customer configuration, no merchant.
            var account = new Stripe.V2.Core.AccountCreateOptions
            {
                ContactEmail = user.Email,
                DisplayName = user.Name ?? user.Email,
                Metadata = metadata,
                Configuration = new Stripe.V2.Core.AccountCreateConfigurationOptions { Customer = new() },
            };
            var created = await WithinBudgetAsync(token => _accounts.CreateAsync(account, request, token), cancellationToken);
            return new CustomerRef(created.Id, CustomerKind.Account);
        }

        var create = new CustomerCreateOptions { Email = user.Email, Name = user.Name, Metadata = metadata };
        var customer = await WithinBudgetAsync(token => _customers.CreateAsync(create, request, token), cancellationToken);
        return new CustomerRef(customer.Id, CustomerKind.Customer);
    }

    /// <summary>
    /// Creates a session from the form <see cref="CustomerSessions.StripeComponents.ToStripeForm"/> wrote; throws
    /// <see cref="StripeCustomerMissingException"/> when Stripe no longer knows the customer. Sent through Stripe.net's
    /// raw request (its transport, headers, retries, idempotency and errors) with the form already encoded, and read
    /// for the two fields the response needs: on this hot path Stripe.net's reflection-based options encoder alone took
    /// about 15% of the service's CPU (docs/benchmarks.md).
    /// </summary>
    public async Task<CreatedSession> CreateCustomerSessionAsync(CustomerRef customer, string form, CancellationToken cancellationToken)
    {
        try
        {
            var response = await WithinBudgetAsync(
                token => client.RawRequestAsync(HttpMethod.Post, "/v1/customer_sessions", form, cancellationToken: token), cancellationToken);
            return CreatedSession.Parse(response.Content);
        }
        catch (StripeException e) when (e.StripeError is { Code: "resource_missing", Param: "customer" or "customer_account" })
        {
            throw new StripeCustomerMissingException(customer.Id, e);
        }
    }

    public void Dispose() => _inFlight.Dispose();

    /// <summary>
    /// "bffsessions-customer-" and the SHA-256 of the user id: fixed length, whatever the id holds. A replacement
    /// customer gets its own key (the replaced id appended), or Stripe would hand back the deleted one.
    /// </summary>
    public static string CustomerIdempotencyKey(string userId, string? replacing = null, CustomerKind kind = CustomerKind.Customer) =>
        (kind == CustomerKind.Account ? "bffsessions-account-" : "bffsessions-customer-")
        + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(userId)))
        + (replacing is null ? "" : "-replacing-" + replacing);

    private async Task<T> WithinBudgetAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken requestAborted)
        where T : class
    {
        using var permit = _inFlight.AttemptAcquire();
        if (!permit.IsAcquired)
        {
            throw new StripeBusyException();
        }

        using var budget = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        budget.CancelAfter(_budget);
        try
        {
            var result = await call(budget.Token);
            var response = result as StripeResponse ?? (result as IStripeEntity)?.StripeResponse;
            if (response?.RequestId is { } requestId)
            {
                diagnostics.Set("StripeRequestId", requestId);
            }

            return result;
        }
        catch (Exception e) when (budget.IsCancellationRequested && !requestAborted.IsCancellationRequested && e is OperationCanceledException or StripeException)
        {
            throw new StripeTimeoutException(_budget, e);
        }
        catch (StripeException e) when (e.StripeResponse?.RequestId is { } requestId)
        {
            diagnostics.Set("StripeRequestId", requestId);
            throw;
        }
    }
}
