using BffSessions.Api.Payments;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace BffSessions.Api.Customers;

/// <summary>
/// user (<see cref="CustomerOwner.Key"/>) → customer (id and kind) in memory, bounded (Customers:CacheSize) and expiring (Customers:CacheDuration), so a
/// steady-state session request touches neither the database nor Stripe's customer API. Its own MemoryCache, so
/// nothing else in the process can evict or crowd it.
/// </summary>
public sealed class CustomerCache(IOptions<CustomersOptions> options, TimeProvider time) : IDisposable
{
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = options.Value.CacheSize, Clock = new Clock(time) });
    private readonly TimeSpan _duration = options.Value.CacheDuration;

    public bool TryGet(string userKey, out CustomerRef customer) => _cache.TryGetValue(userKey, out customer);

    public void Set(string userKey, CustomerRef customer) =>
        _cache.Set(userKey, customer, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = _duration });

    public void Remove(string userKey) => _cache.Remove(userKey);

    public void Dispose() => _cache.Dispose();

#pragma warning disable CS0618 // ISystemClock is what MemoryCacheOptions.Clock takes; it adapts the injected TimeProvider.
    private sealed class Clock(TimeProvider time) : Microsoft.Extensions.Internal.ISystemClock
    {
        public DateTimeOffset UtcNow => time.GetUtcNow();
    }
#pragma warning restore CS0618
}
