using System.Net;
using Inference.Gateway.Grpc;
using Inference.Gateway.Http;
using Inference.Gateway.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Inference.Gateway.Hosting;

/// <summary>
/// The gateway's request pipeline on a host whose services came from <see cref="GatewayServices.AddInferenceGateway"/>:
/// its error handling (<see cref="UseInferenceGatewayErrors"/>, first in the pipeline) and its endpoints
/// (<see cref="MapInferenceGateway"/>: the OpenAI HTTP API, /health, /ready, /metrics, the public gRPC API).
/// </summary>
public static partial class GatewayApplication
{
    /// <summary>
    /// Answers what escapes an endpoint: a client that left is not answered, bad framing gets Kestrel's status as an
    /// OpenAI error, anything else an OpenAI error object (503 with Retry-After when a shared store is down).
    /// </summary>
    public static WebApplication UseInferenceGatewayErrors(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        GatewayService service = app.Services.GetRequiredService<GatewayService>();
        ILogger log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Inference.Gateway");
        app.Use(async (ctx, next) =>
        {
            try
            {
                await next(ctx).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsClientGone(ctx, ex))
            {
                // The client reset the connection or left (mid-body, mid-stream): nobody to answer, not our failure.
                // Aborting tells Kestrel not to drain a body it can no longer read.
                LogClientGone(log, ctx.Request.Path, ex);
                ctx.Abort();
            }
            catch (BadHttpRequestException ex)
            {
                // Bad framing (400), a body too slow (408) or too large (413): the client's fault, answered with the
                // status Kestrel chose. The connection cannot be reused (its framing is lost or the body unread).
                LogBadRequest(log, ctx.Request.Path, ex.StatusCode, ex.Message);
                service.Metrics.Rejected(ex.StatusCode);
                ctx.Response.Headers.Connection = "close";
                await HttpErrors.WriteAsync(ctx, HttpErrors.ClientFault(ex)).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // A failure of our own (a limits store down, a bug) still gets an OpenAI error object, never an
                // empty 500; the server keeps serving.
                LogUnhandled(log, ex, ctx.Request.Path);
                bool store = ex is RedisException or RedisTimeoutException;
                await HttpErrors.WriteAsync(ctx, store
                    ? Api.ApiException.Unavailable("A shared store (limits or cache) is unavailable; retry shortly.", TimeSpan.FromSeconds(2))
                    : new Api.ApiException(HttpStatusCode.InternalServerError, "server_error", "internal_error", null, "The server had an error while processing your request.")).ConfigureAwait(false);
            }
        });
        return app;
    }

    /// <summary>
    /// Maps the gateway's endpoints (the gRPC API only when <see cref="GatewayOptions.GrpcPort"/> is not -1) and starts
    /// the drain when the host begins to stop: readiness false and new requests refused while in-flight ones finish.
    /// </summary>
    public static WebApplication MapInferenceGateway(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        GatewayService service = app.Services.GetRequiredService<GatewayService>();
        GatewayOptions options = app.Services.GetRequiredService<GatewayOptions>();
        ILogger log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Inference.Gateway");
        OpenAIEndpoints.Map(app, service);
        InferenceGrpcService.Map(app, service, options.GrpcPort >= 0);
        app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() =>
        {
            service.StartDraining();
            LogDraining(log, options.DrainTimeout.TotalSeconds);
        });
        return app;
    }

    // A reset shows as ConnectionResetException before Kestrel has marked the request aborted; a cancelled read or
    // write, or a failed one, counts only once it has.
    private static bool IsClientGone(HttpContext ctx, Exception ex) =>
        ex is Microsoft.AspNetCore.Connections.ConnectionResetException
        || (ex is OperationCanceledException or IOException && ex is not BadHttpRequestException && ctx.RequestAborted.IsCancellationRequested);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Error, Message = "Unhandled error serving {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception ex, string path);

    [LoggerMessage(EventId = 3121, Level = LogLevel.Information, Message = "Bad request to {Path}: {Status} ({Reason})")]
    private static partial void LogBadRequest(ILogger logger, PathString path, int status, string reason);

    [LoggerMessage(EventId = 3122, Level = LogLevel.Debug, Message = "Client gone while serving {Path}")]
    private static partial void LogClientGone(ILogger logger, PathString path, Exception ex);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Information, Message = "Draining: not ready, refusing new requests; in-flight requests have {Seconds} s")]
    private static partial void LogDraining(ILogger logger, double seconds);
}
