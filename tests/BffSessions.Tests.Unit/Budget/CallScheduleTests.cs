using BffSessions.Api.Payments.Budget;
using Microsoft.Extensions.Time.Testing;

namespace BffSessions.Tests.Budget;

/// <summary>The schedule one instance keeps: turns spaced 1 / rate apart, booked only within the wait, slowed by 429s.</summary>
public sealed class CallScheduleTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Turns_are_spaced_one_over_the_rate_and_none_is_booked_beyond_the_wait()
    {
        var schedule = new InMemoryCallSchedule(_time);

        var waits = Enumerable.Range(0, 12).Select(_ => schedule.Book(10, TimeSpan.FromSeconds(1))).ToList();

        Assert.All(waits.Take(11), booking => Assert.True(booking.Booked));
        Assert.Equal(Enumerable.Range(0, 11).Select(i => i * 100.0), waits.Take(11).Select(b => Math.Round(b.Wait.TotalMilliseconds)));
        Assert.False(waits[11].Booked); // its turn would be 1.1 s away
        Assert.Equal(1100, Math.Round(waits[11].Wait.TotalMilliseconds));
    }

    [Fact]
    public void An_idle_schedule_saves_up_nothing()
    {
        var schedule = new InMemoryCallSchedule(_time);
        schedule.Book(10, TimeSpan.Zero);

        _time.Advance(TimeSpan.FromMinutes(1));
        var first = schedule.Book(10, TimeSpan.Zero);
        var second = schedule.Book(10, TimeSpan.Zero);

        Assert.Equal((true, TimeSpan.Zero), (first.Booked, first.Wait));
        Assert.False(second.Booked); // a minute of quiet is no burst allowance: the next turn is 100 ms on
    }

    [Fact]
    public async Task A_429_halves_the_pace_once_a_second_down_to_a_tenth_and_it_grows_back_a_tenth_a_second()
    {
        var schedule = new InMemoryCallSchedule(_time);

        await schedule.SlowDownAsync(CancellationToken.None);
        await schedule.SlowDownAsync(CancellationToken.None); // within the same second: one cut
        var afterOne = schedule.Pace;
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await schedule.SlowDownAsync(CancellationToken.None);
        }

        var floor = schedule.Pace;
        _time.Advance(TimeSpan.FromSeconds(1));
        var afterAHold = schedule.Pace;
        _time.Advance(TimeSpan.FromSeconds(3));
        var threeSecondsOn = schedule.Pace;
        _time.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(0.5, afterOne, 3);
        Assert.Equal(StripePace.Floor, floor, 3);
        Assert.Equal(0.1, afterAHold, 3);
        Assert.Equal(0.4, threeSecondsOn, 3);
        Assert.Equal(1.0, schedule.Pace, 3);
        Assert.Equal(TimeSpan.Zero, schedule.Book(10, TimeSpan.Zero).Wait);
        Assert.Equal(100, Math.Round(schedule.Book(10, TimeSpan.FromSeconds(1)).Wait.TotalMilliseconds));
    }

    [Fact]
    public async Task At_half_pace_turns_are_twice_as_far_apart()
    {
        var schedule = new InMemoryCallSchedule(_time);
        await schedule.SlowDownAsync(CancellationToken.None);

        schedule.Book(10, TimeSpan.Zero);
        var next = schedule.Book(10, TimeSpan.FromSeconds(1));

        Assert.Equal(200, Math.Round(next.Wait.TotalMilliseconds));
    }
}
