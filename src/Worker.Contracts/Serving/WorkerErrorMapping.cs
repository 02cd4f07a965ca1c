using System.Globalization;
using Grpc.Core;
using Inference.Scheduler;

namespace Inference.Worker.Serving;

/// <summary>
/// <see cref="WorkerException"/> to gRPC status (plus the worker-error-kind / -param / -code / -retry-after-ms trailers)
/// and back, as worker.proto specifies. A status without the kind trailer is a transport failure.
/// </summary>
internal static class WorkerErrorMapping
{
    public const string KindTrailer = "worker-error-kind";
    public const string ParamTrailer = "worker-error-param";
    public const string CodeTrailer = "worker-error-code";
    public const string RetryAfterTrailer = "worker-error-retry-after-ms";

    public static RpcException ToRpcException(WorkerException ex)
    {
        Refusal refusal = ex.Refusal;
        var trailers = new Metadata { { KindTrailer, KindName(refusal.Kind) } };
        if (refusal.Param is not null)
        {
            trailers.Add(ParamTrailer, refusal.Param);
        }

        if (refusal.Code is not null)
        {
            trailers.Add(CodeTrailer, refusal.Code);
        }

        if (refusal.RetryAfter is TimeSpan retry)
        {
            trailers.Add(RetryAfterTrailer, ((long)retry.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
        }

        StatusCode code = refusal.Kind switch
        {
            RefusalKind.Invalid => StatusCode.InvalidArgument,
            RefusalKind.Overloaded => StatusCode.ResourceExhausted,
            RefusalKind.Unavailable => StatusCode.Unavailable,
            _ => StatusCode.Internal,
        };
        return new RpcException(new Status(code, refusal.Message), trailers);
    }

    /// <summary>Rebuilds the worker's exception, or (no kind trailer) an Unavailable naming the transport failure.</summary>
    public static WorkerException FromRpcException(RpcException ex, string workerId)
    {
        string? kindName = ex.Trailers.GetValue(KindTrailer);
        if (kindName is not null && TryParseKind(kindName, out RefusalKind kind))
        {
            TimeSpan? retryAfter = long.TryParse(ex.Trailers.GetValue(RetryAfterTrailer), NumberStyles.None, CultureInfo.InvariantCulture, out long ms)
                ? TimeSpan.FromMilliseconds(ms)
                : null;
            return new WorkerException(new Refusal(kind, ex.Status.Detail)
            {
                Param = ex.Trailers.GetValue(ParamTrailer),
                Code = ex.Trailers.GetValue(CodeTrailer),
                RetryAfter = retryAfter,
            });
        }

        return new WorkerException(
            RefusalKind.Unavailable,
            $"worker {workerId} is unreachable: {ex.StatusCode}: {ex.Status.Detail}");
    }

    public static string KindName(RefusalKind kind) => kind switch
    {
        RefusalKind.Invalid => "invalid",
        RefusalKind.Overloaded => "overloaded",
        RefusalKind.Unavailable => "unavailable",
        _ => "failed",
    };

    private static bool TryParseKind(string name, out RefusalKind kind)
    {
        switch (name)
        {
            case "invalid": kind = RefusalKind.Invalid; return true;
            case "overloaded": kind = RefusalKind.Overloaded; return true;
            case "unavailable": kind = RefusalKind.Unavailable; return true;
            case "failed": kind = RefusalKind.Failed; return true;
            default: kind = RefusalKind.Failed; return false;
        }
    }
}
