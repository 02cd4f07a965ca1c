using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Inference.Client.Mapping;

namespace Inference.Client.Tests.Mapping;

/// <summary>RpcExceptions as the exceptions an IChatClient caller gets (no server).</summary>
public sealed class RpcErrorMapperTests
{
    [Fact]
    public void Map_BadRequestDetail_FieldAndStatusKept()
    {
        var status = new Google.Rpc.Status { Code = (int)Code.InvalidArgument, Message = "temperature must be at most 2 (param: sampling.temperature)" };
        var bad = new BadRequest();
        bad.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = "sampling.temperature", Description = "temperature must be at most 2" });
        status.Details.Add(Any.Pack(bad));

        var ex = Assert.IsType<InferenceServiceException>(RpcErrorMapper.Map(status.ToRpcException(), CancellationToken.None));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("sampling.temperature", ex.Field);
        Assert.Contains("sampling.temperature", ex.Message, StringComparison.Ordinal);
        Assert.IsType<RpcException>(ex.InnerException);
        Assert.False(ex.IsTransient);
    }

    [Fact]
    public void Map_RateLimited_RetryInfoAndErrorCode()
    {
        var status = new Google.Rpc.Status { Code = (int)Code.ResourceExhausted, Message = "Rate limit reached" };
        status.Details.Add(Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(TimeSpan.FromSeconds(7)) }));
        RpcException rpc = status.ToRpcException();
        rpc.Trailers.Add("error-code", "rate_limit_exceeded");

        var ex = Assert.IsType<InferenceServiceException>(RpcErrorMapper.Map(rpc, CancellationToken.None));

        Assert.Equal((StatusCode.ResourceExhausted, TimeSpan.FromSeconds(7), "rate_limit_exceeded"), (ex.StatusCode, ex.RetryAfter, ex.ErrorCode));
        Assert.True(ex.IsTransient);
    }

    [Fact]
    public void Map_RetryAfterTrailerOnly_UsedWhenNoRetryInfo()
    {
        var rpc = new RpcException(new Grpc.Core.Status(StatusCode.Unavailable, "draining"), new Metadata { { "retry-after", "3" } });

        var ex = Assert.IsType<InferenceServiceException>(RpcErrorMapper.Map(rpc, CancellationToken.None));

        Assert.Equal(TimeSpan.FromSeconds(3), ex.RetryAfter);
        Assert.Null(ex.Field);
    }

    [Fact]
    public void Map_CancelledByCallersToken_OperationCanceled_OtherwiseServiceException()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var rpc = new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "Call canceled by the client."));

        var cancelled = Assert.IsType<OperationCanceledException>(RpcErrorMapper.Map(rpc, cts.Token));
        var notOurs = Assert.IsType<InferenceServiceException>(RpcErrorMapper.Map(rpc, CancellationToken.None));

        Assert.Equal(cts.Token, cancelled.CancellationToken);
        Assert.Equal(StatusCode.Cancelled, notOurs.StatusCode);
    }
}
