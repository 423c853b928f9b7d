using BffSessions.Api.Identity;
using BffSessions.Api.Payments;
using Microsoft.EntityFrameworkCore;

namespace BffSessions.Api.Customers;

/// <summary>
/// user id → Stripe customer id. The first request of a user creates the customer in Stripe and stores the
/// link; every later request reads it, so a session costs one Stripe call.
/// </summary>
public sealed class CustomerResolver(IDbContextFactory<CustomersDbContext> databases, StripeGateway stripe, TimeProvider time)
{
    public async Task<string> ResolveAsync(SignedInUser user, CancellationToken cancellationToken)
    {
        if (await FindAsync(user.Id, cancellationToken) is { } known)
        {
            return known;
        }

        // Two first requests of one user may both get here. Both ask Stripe with the same idempotency key and
        // get the same customer back; the primary key on user_id lets one insert win, and the loser re-reads.
        var customerId = await stripe.CreateCustomerAsync(user, cancellationToken);
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        db.CustomerLinks.Add(new CustomerLink { UserId = user.Id, CustomerId = customerId, CreatedAt = time.GetUtcNow() });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return customerId;
        }
        catch (DbUpdateException)
        {
            // Provider-neutral: whatever the violation's error code, a row that is now there is the winner.
            var winner = await FindAsync(user.Id, cancellationToken);
            if (winner is null)
            {
                throw;
            }

            return winner;
        }
    }

    private async Task<string?> FindAsync(string userId, CancellationToken cancellationToken)
    {
        await using var db = await databases.CreateDbContextAsync(cancellationToken);
        return await db.CustomerLinks.AsNoTracking()
            .Where(l => l.UserId == userId)
            .Select(l => l.CustomerId)
            .FirstOrDefaultAsync(cancellationToken);
    }
}
