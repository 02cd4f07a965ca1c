using System.Text.Json;
using Inference.Gateway.Serving;
using Inference.Gateway.Workers;
using Inference.Platform.Api;
using Inference.Platform.Web;
using Microsoft.AspNetCore.Mvc;

namespace Inference.Platform.Pages.Dashboard;

/// <summary>Platform admins only: the gateway's workers, their queues and KV cache.</summary>
public sealed class OperatorModel : DashboardPage
{
    public DateTimeOffset Now { get; private set; }

    public int InFlight { get; private set; }

    public IReadOnlyList<WorkerRow> Rows { get; private set; } = [];

    public string KvChart { get; private set; } = "{}";

    public IActionResult OnGet()
    {
        if (!CurrentUser.IsAdmin)
        {
            Error = new PlatformException(System.Net.HttpStatusCode.Forbidden, "forbidden", UiText.T("Only platform admins see the operator pages.")).Message;
            Response.StatusCode = 403;
            return Page();
        }

        GatewayService gateway = Service<GatewayService>();
        Now = Service<TimeProvider>().GetUtcNow();
        InFlight = gateway.InFlight;
        Rows = gateway.Pool.Workers.Select(w =>
        {
            var load = w.Load;
            int total = load?.KvBlocksTotal ?? w.Info?.KvBlocksTotal ?? 0;
            int used = load?.KvBlocksUsed ?? 0;
            double? hit = load is { PrefixCacheQueryTokens: > 0 } l ? (double)l.PrefixCacheHitTokens / l.PrefixCacheQueryTokens : null;
            return new WorkerRow(w.Id, w.Info?.Model ?? "—", w.State.ToString(), w.Info?.Device ?? "—",
                (load?.WaitingInteractive ?? 0) + (load?.WaitingStandard ?? 0) + (load?.WaitingBatch ?? 0), load?.Running ?? 0,
                used, total, total == 0 ? 0 : 100.0 * used / total, hit);
        }).ToList();
        KvChart = JsonSerializer.Serialize(new
        {
            type = "bar",
            data = new
            {
                labels = Rows.Select(r => r.Id),
                datasets = new object[] { new { label = UiText.T("KV blocks used (%)"), data = Rows.Select(r => Math.Round(r.KvPercent, 1)), backgroundColor = "#0f766e" } },
            },
            options = new { indexAxis = "y", scales = new { x = new { beginAtZero = true, max = 100 } } },
        });
        return Page();
    }

    public sealed record WorkerRow(string Id, string Model, string State, string Device, int Waiting, int Running, int KvUsed, int KvTotal, double KvPercent, double? PrefixHitRate);
}
