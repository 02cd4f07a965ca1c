namespace Inference.Platform.Billing;

/// <summary>An issued invoice (immutable) or a draft for the current period (<see cref="Id"/> null).</summary>
public sealed record Invoice(
    string? Id,
    string OrgId,
    string Period,
    string Number,
    string Plan,
    long TotalKrw,
    DateTimeOffset? IssuedAt,
    IReadOnlyList<InvoiceLine> Lines,
    string Status = "draft");

/// <summary>One line: quantity, unit price as text ("30,000 KRW / month", "5 KRW / 1,000 tokens"), amount in whole won.</summary>
public sealed record InvoiceLine(int LineNo, string Description, long Quantity, string UnitPrice, long AmountKrw);
