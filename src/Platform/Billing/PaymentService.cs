using System.Data.Common;
using Dapper;
using Inference.Platform.Api;
using Inference.Platform.Audit;
using Inference.Platform.Data;
using Stripe;

namespace Inference.Platform.Billing;

/// <summary>Payments of invoices: started through the provider, recorded by an admin (manual) or by Stripe's signed webhook.</summary>
public sealed class PaymentService(PlatformDatabase database, InvoiceService invoices, IPaymentProvider provider, AuditLog audit, TimeProvider time, string? stripeWebhookSecret)
{
    public async Task<PaymentStart> StartAsync(string orgId, string invoiceId, CancellationToken ct)
    {
        Invoice invoice = await invoices.GetAsync(orgId, invoiceId, ct).ConfigureAwait(false);
        if (invoice.Status == "paid")
        {
            throw PlatformException.Conflict("invoice_paid", "The invoice is already paid.");
        }

        PaymentStart start = await provider.StartAsync(invoice, ct).ConfigureAwait(false);
        await InsertAsync(invoice, provider.Name, start.ProviderReference, "pending", ct).ConfigureAwait(false);
        return start;
    }

    /// <summary>Records a payment that arrived outside the platform (bank transfer): platform admins only.</summary>
    public async Task<Invoice> RecordAsync(string orgId, string invoiceId, string? reference, string actorId, CancellationToken ct)
    {
        Invoice invoice = await invoices.GetAsync(orgId, invoiceId, ct).ConfigureAwait(false);
        if (invoice.Status == "paid")
        {
            throw PlatformException.Conflict("invoice_paid", "The invoice is already paid.");
        }

        await InsertAsync(invoice, "manual", reference, "succeeded", ct).ConfigureAwait(false);
        await audit.WriteAsync(AuditAction.PaymentRecorded, orgId, actorId, invoiceId, $"{Money.Format(invoice.TotalKrw)} ({reference})").ConfigureAwait(false);
        return await invoices.GetAsync(orgId, invoiceId, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Handles a Stripe webhook: verifies its Stripe-Signature (HMAC over the raw body, 5-minute tolerance) and records
    /// payment_intent.succeeded for the invoice in its metadata (once per PaymentIntent). 400 when the signature fails.
    /// </summary>
    public async Task<string> HandleStripeWebhookAsync(string body, string? signature, CancellationToken ct)
    {
        if (stripeWebhookSecret is null)
        {
            throw PlatformException.NotFound("The Stripe webhook (Stripe is not configured)");
        }

        Event stripeEvent;
        try
        {
            stripeEvent = EventUtility.ConstructEvent(body, signature ?? string.Empty, stripeWebhookSecret, tolerance: 300, throwOnApiVersionMismatch: false);
        }
        catch (StripeException ex)
        {
            throw PlatformException.Invalid("Stripe-Signature", $"The webhook signature does not verify: {ex.Message}");
        }

        if (stripeEvent.Type != EventTypes.PaymentIntentSucceeded || stripeEvent.Data.Object is not PaymentIntent intent
            || !intent.Metadata.TryGetValue("invoice_id", out string? invoiceId) || !intent.Metadata.TryGetValue("organization_id", out string? orgId))
        {
            return "ignored";
        }

        Invoice invoice = await invoices.GetAsync(orgId, invoiceId, ct).ConfigureAwait(false);
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        long already = await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM payments WHERE provider = 'stripe' AND provider_ref = @providerRef AND status = 'succeeded'", new { providerRef = intent.Id }).ConfigureAwait(false);
        if (already > 0)
        {
            return "duplicate";
        }

        int updated = await connection.ExecuteAsync("UPDATE payments SET status = 'succeeded', amount_krw = @amount, updated_ms = @now WHERE provider = 'stripe' AND provider_ref = @providerRef",
            new { amount = intent.AmountReceived, now, providerRef = intent.Id }).ConfigureAwait(false);
        if (updated == 0)
        {
            await connection.ExecuteAsync(
                "INSERT INTO payments (id, invoice_id, provider, provider_ref, status, amount_krw, created_ms, updated_ms) VALUES (@paymentId, @invoiceId, 'stripe', @providerRef, 'succeeded', @amount, @now, @now)",
                new { paymentId = Ids.New("pay", time.GetUtcNow()), invoiceId, providerRef = intent.Id, amount = intent.AmountReceived, now }).ConfigureAwait(false);
        }

        await audit.WriteAsync(AuditAction.PaymentRecorded, orgId, null, invoice.Id, $"stripe {intent.Id}: {Money.Format(intent.AmountReceived)}", null, connection).ConfigureAwait(false);
        return "recorded";
    }

    private async Task InsertAsync(Invoice invoice, string providerName, string? reference, string status, CancellationToken ct)
    {
        DateTimeOffset now = time.GetUtcNow();
        await using DbConnection connection = await database.OpenAsync(ct).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO payments (id, invoice_id, provider, provider_ref, status, amount_krw, created_ms, updated_ms) VALUES (@paymentId, @invoiceId, @providerName, @reference, @status, @TotalKrw, @now, @now)",
            new { paymentId = Ids.New("pay", now), invoiceId = invoice.Id, providerName, reference, status, invoice.TotalKrw, now = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
    }
}
