using System.Security.Cryptography;
using System.Text;
using BffSessions.Api.Identity;
using Microsoft.Extensions.Options;
using Serilog;
using Stripe;

namespace BffSessions.Api.Payments;

/// <summary>
/// The only place that calls Stripe. Each call runs within the <see cref="StripeOptions.Timeout"/> budget
/// (Stripe.net's retries included) and records Stripe's request id for the request log.
/// </summary>
public sealed class StripeGateway(IStripeClient client, IOptions<StripeOptions> options, IDiagnosticContext diagnostics)
{
    private readonly CustomerService _customers = new(client);
    private readonly CustomerSessionService _sessions = new(client);
    private readonly TimeSpan _budget = options.Value.Timeout;

    /// <summary>
    /// Creates the user's Stripe customer. The idempotency key is derived from the user id, so two racing
    /// first requests for one user get the same customer back from Stripe (for the 24 hours Stripe keeps keys);
    /// the unique user id in our own map is the lasting guard.
    /// </summary>
    public Task<string> CreateCustomerAsync(SignedInUser user, CancellationToken cancellationToken)
    {
        var create = new CustomerCreateOptions
        {
            Email = user.Email,
            Name = user.Name,
            Metadata = new Dictionary<string, string> { ["user_id"] = user.Id },
        };
        var request = new RequestOptions { IdempotencyKey = CustomerIdempotencyKey(user.Id) };
        return WithinBudgetAsync(
            async token => (await _customers.CreateAsync(create, request, token)).Id,
            cancellationToken);
    }

    public Task<CustomerSession> CreateCustomerSessionAsync(
        string customerId, CustomerSessionComponentsOptions components, CancellationToken cancellationToken)
    {
        var create = new CustomerSessionCreateOptions { Customer = customerId, Components = components };
        return WithinBudgetAsync(token => _sessions.CreateAsync(create, cancellationToken: token), cancellationToken);
    }

    /// <summary>"bffsessions-customer-" and the SHA-256 of the user id: fixed length, whatever the id holds.</summary>
    public static string CustomerIdempotencyKey(string userId) =>
        "bffsessions-customer-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(userId)));

    private async Task<T> WithinBudgetAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken requestAborted)
        where T : class
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        budget.CancelAfter(_budget);
        try
        {
            var result = await call(budget.Token);
            if (result is IStripeEntity { StripeResponse.RequestId: { } requestId })
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
