using Grpc.Core;

namespace Inference.Worker.Serving;

/// <summary>
/// <see cref="WorkerException"/> to gRPC status (plus the worker-error-kind / worker-error-param trailers)
/// and back, as worker.proto specifies. A status without the kind trailer is a transport failure.
/// </summary>
internal static class WorkerErrorMapping
{
    public const string KindTrailer = "worker-error-kind";
    public const string ParamTrailer = "worker-error-param";

    public static RpcException ToRpcException(WorkerException ex)
    {
        var trailers = new Metadata { { KindTrailer, KindName(ex.Kind) } };
        if (ex.Param is not null)
        {
            trailers.Add(ParamTrailer, ex.Param);
        }

        StatusCode code = ex.Kind switch
        {
            WorkerErrorKind.Invalid => StatusCode.InvalidArgument,
            WorkerErrorKind.Overloaded => StatusCode.ResourceExhausted,
            WorkerErrorKind.Unavailable => StatusCode.Unavailable,
            _ => StatusCode.Internal,
        };
        return new RpcException(new Status(code, ex.Message), trailers);
    }

    /// <summary>Rebuilds the worker's exception, or (no kind trailer) an Unavailable naming the transport failure.</summary>
    public static WorkerException FromRpcException(RpcException ex, string workerId)
    {
        string? kindName = ex.Trailers.GetValue(KindTrailer);
        if (kindName is not null && TryParseKind(kindName, out WorkerErrorKind kind))
        {
            return new WorkerException(kind, ex.Status.Detail, ex.Trailers.GetValue(ParamTrailer));
        }

        return new WorkerException(
            WorkerErrorKind.Unavailable,
            $"worker {workerId} is unreachable: {ex.StatusCode}: {ex.Status.Detail}");
    }

    public static string KindName(WorkerErrorKind kind) => kind switch
    {
        WorkerErrorKind.Invalid => "invalid",
        WorkerErrorKind.Overloaded => "overloaded",
        WorkerErrorKind.Unavailable => "unavailable",
        _ => "failed",
    };

    private static bool TryParseKind(string name, out WorkerErrorKind kind)
    {
        switch (name)
        {
            case "invalid": kind = WorkerErrorKind.Invalid; return true;
            case "overloaded": kind = WorkerErrorKind.Overloaded; return true;
            case "unavailable": kind = WorkerErrorKind.Unavailable; return true;
            case "failed": kind = WorkerErrorKind.Failed; return true;
            default: kind = WorkerErrorKind.Failed; return false;
        }
    }
}
