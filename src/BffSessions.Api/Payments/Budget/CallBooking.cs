namespace BffSessions.Api.Payments.Budget;

/// <summary>
/// One booking: the turn is <see cref="Wait"/> from now; or (not booked) the schedule is full that far ahead, or
/// (<see cref="OverShare"/>) it is contended and the user has had their fair share until <see cref="Wait"/> from now.
/// </summary>
public readonly record struct CallBooking(bool Booked, TimeSpan Wait, bool OverShare = false);
