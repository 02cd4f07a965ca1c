using Stripe;

namespace Inference.Platform.Billing;

/// <summary>
/// Card payments through Stripe: a PaymentIntent in KRW (a zero-decimal currency, so the amount is whole won) carrying
/// the invoice id in its metadata; the payment is recorded when Stripe's signed webhook reports it succeeded.
/// </summary>
public sealed class StripePaymentProvider(string apiKey) : IPaymentProvider
{
    public string Name => "stripe";

    public async Task<PaymentStart> StartAsync(Invoice invoice, CancellationToken ct)
    {
        var service = new PaymentIntentService(new StripeClient(apiKey));
        PaymentIntent intent = await service.CreateAsync(new PaymentIntentCreateOptions
        {
            Amount = invoice.TotalKrw,
            Currency = "krw",
            Description = invoice.Number,
            Metadata = new Dictionary<string, string> { ["invoice_id"] = invoice.Id!, ["organization_id"] = invoice.OrgId },
        }, new RequestOptions { IdempotencyKey = "invoice-" + invoice.Id }, ct).ConfigureAwait(false);
        return new PaymentStart(Name, intent.Id, null, intent.ClientSecret);
    }
}
