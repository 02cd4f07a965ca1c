using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Runtime;

/// <summary>Parses --device: cpu, cuda (device 0) or cuda:N.</summary>
public static class DeviceOption
{
    public static Device Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        string v = value.Trim().ToLowerInvariant();
        if (v == "cpu")
        {
            return CPU;
        }

        int index = 0;
        if (v != "cuda" && !(v.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(v.AsSpan(5), out index) && index >= 0))
        {
            throw new ArgumentException($"--device '{value}' is not valid: use cpu, cuda or cuda:N.", nameof(value));
        }

        if (!cuda.is_available())
        {
            throw new ArgumentException(
                $"--device {value}: CUDA is not available (no GPU visible, or this is the CPU build: rebuild with -p:TorchBackend=cuda).",
                nameof(value));
        }

        int count = cuda.device_count();
        if (index >= count)
        {
            throw new ArgumentException($"--device {value}: only {count} CUDA device(s) are visible.", nameof(value));
        }

        return new Device(DeviceType.CUDA, index);
    }
}
