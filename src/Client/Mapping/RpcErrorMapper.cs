using System.Globalization;
using Google.Rpc;
using Grpc.Core;

namespace Inference.Client.Mapping;

/// <summary>Turns a failed call's <see cref="RpcException"/> into what an <see cref="Microsoft.Extensions.AI.IChatClient"/> caller expects.</summary>
internal static class RpcErrorMapper
{
    /// <summary>
    /// <see cref="OperationCanceledException"/> when the caller's token ended the call; otherwise an
    /// <see cref="InferenceServiceException"/> with the status, the refused field (google.rpc.BadRequest), the retry
    /// delay (google.rpc.RetryInfo, else the retry-after trailer) and the error-code trailer.
    /// </summary>
    public static Exception Map(RpcException ex, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested && ex.StatusCode is StatusCode.Cancelled or StatusCode.DeadlineExceeded)
        {
            return new OperationCanceledException("The chat call was cancelled.", ex, cancellationToken);
        }

        Google.Rpc.Status? status = TryGetStatus(ex);
        string? field = status?.GetDetail<BadRequest>()?.FieldViolations.FirstOrDefault()?.Field;
        TimeSpan? retryAfter = status?.GetDetail<RetryInfo>()?.RetryDelay?.ToTimeSpan();
        if (retryAfter is null
            && ex.Trailers.GetValue("retry-after") is { } seconds
            && int.TryParse(seconds, NumberStyles.None, CultureInfo.InvariantCulture, out int s))
        {
            retryAfter = TimeSpan.FromSeconds(s);
        }

        string detail = string.IsNullOrEmpty(ex.Status.Detail) ? "no detail" : ex.Status.Detail;
        return new InferenceServiceException(
            ex.StatusCode,
            $"The inference gateway answered {ex.StatusCode}: {detail}",
            field,
            retryAfter,
            ex.Trailers.GetValue("error-code"),
            ex);
    }

    private static Google.Rpc.Status? TryGetStatus(RpcException ex)
    {
        try
        {
            return ex.GetRpcStatus();
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            return null; // a proxy's malformed grpc-status-details-bin: the status code and message still stand
        }
    }
}
