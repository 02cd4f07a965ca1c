using Inference.Worker.Engine;
using Inference.Worker.Gpu;
using Inference.Worker.Serving;
using Proto = Inference.Worker.Grpc;

namespace Inference.Worker.Tests.Gpu;

public sealed class GpuProtoMappingTests
{
    [Fact]
    public void LoadReport_GpuSamples_RoundTripWithAbsentFieldsAbsent()
    {
        var gpu = new GpuTelemetry
        {
            Devices =
            [
                new GpuDeviceSample { Index = 3, Uuid = "GPU-x", Name = "NVIDIA H200", UtilizationRatio = 0.5, MemoryUsedBytes = 7, MemoryTotalBytes = 9, TemperatureCelsius = 60, PowerWatts = 300.5, PowerLimitWatts = 700, SmClockHertz = 1.98e9, MemoryClockHertz = 2.619e9 },
                new GpuDeviceSample { Index = 4, Uuid = "GPU-y", UtilizationRatio = 0 },
            ],
        };

        Proto.LoadReport report = WorkerProtoMapping.ToProto(new EngineStats { Running = 2, Gpu = gpu }, draining: false);
        Proto.LoadReport wire = Proto.LoadReport.Parser.ParseFrom(Google.Protobuf.MessageExtensions.ToByteArray(report));
        EngineStats back = WorkerProtoMapping.FromProto(wire);

        Assert.Equal(2, back.Running);
        Assert.NotNull(back.Gpu);
        Assert.Equal(gpu.Devices, back.Gpu.Devices);
        Assert.False(wire.Gpus[1].HasPowerWatts);
        Assert.True(wire.Gpus[1].HasUtilizationRatio); // a real zero stays a value
    }

    [Fact]
    public void LoadReport_Unavailable_KeepsTheReason()
    {
        Proto.LoadReport report = WorkerProtoMapping.ToProto(new EngineStats { Gpu = GpuTelemetry.Unavailable("no driver") }, draining: false);

        EngineStats back = WorkerProtoMapping.FromProto(report);

        Assert.Equal("unavailable: no driver", back.Gpu?.Status);
    }

    [Fact]
    public void LoadReport_CpuOrOlderWorker_NoTelemetry()
    {
        Proto.LoadReport report = WorkerProtoMapping.ToProto(new EngineStats { Running = 1 }, draining: false);

        Assert.Empty(report.Gpus);
        Assert.False(report.HasGpuUnavailable);
        Assert.Null(WorkerProtoMapping.FromProto(report).Gpu);
    }
}
