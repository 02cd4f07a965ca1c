using System.Text.Json;
using Inference.Gateway.Serving;
using Inference.Gateway.Workers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Inference.Gateway.HealthChecks;

/// <summary>
/// The gateway's health through ASP.NET Core's health-checks framework: /health (liveness: the process serves HTTP;
/// no checks, so a busy or workerless gateway is not restarted) and /ready (readiness: the checks tagged "ready":
/// not draining and at least one Ready worker with a fresh load report). 200 when healthy, 503 otherwise, with a
/// JSON body listing each check, its description and the workers' states.
/// </summary>
public static class GatewayHealthChecks
{
    public const string ReadyTag = "ready";

    public static IHealthChecksBuilder AddGatewayHealthChecks(this IServiceCollection services) =>
        services.AddHealthChecks()
            .AddCheck<WorkersHealthCheck>("workers", HealthStatus.Unhealthy, [ReadyTag]);

    public static void MapGatewayHealthChecks(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync });
        app.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync });
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new Dictionary<string, object?>
        {
            ["status"] = report.Status.ToString(),
            ["checks"] = report.Entries.ToDictionary(e => e.Key, e => (object?)new Dictionary<string, object?>
            {
                ["status"] = e.Value.Status.ToString(),
                ["description"] = e.Value.Description,
                ["data"] = e.Value.Data,
            }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, cancellationToken: context.RequestAborted);
    }
}

/// <summary>Ready while the gateway is not draining and a worker can serve (<see cref="GatewayService.IsReady"/>).</summary>
internal sealed class WorkersHealthCheck(GatewayService service) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        WorkerPool pool = service.Pool;
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (IWorker worker in pool.Workers)
        {
            data[worker.Id] = pool.IsDraining(worker) ? "leaving" : worker.State.ToString().ToLowerInvariant();
        }

        HealthCheckResult result = service.IsReady ? HealthCheckResult.Healthy("ready", data)
            : new HealthCheckResult(context.Registration.FailureStatus, service.Draining ? "draining" : "no ready worker", data: data);
        return Task.FromResult(result);
    }
}
