namespace BffSessions.Api.Payments.Budget;

/// <summary>One booking: the turn is <see cref="Wait"/> from now, or (not booked) the schedule is full that far ahead.</summary>
public readonly record struct CallBooking(bool Booked, TimeSpan Wait);
