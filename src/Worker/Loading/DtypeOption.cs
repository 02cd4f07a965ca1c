using Inference.Worker.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Loading;

/// <summary>Resolves the worker's <c>--dtype</c> option to the dtype weights are loaded in.</summary>
public static class DtypeOption
{
    /// <summary>The values <c>--dtype</c> accepts, for help text and error messages.</summary>
    public const string AllowedValues = "auto, float32, float16, bfloat16 (aliases: fp32, float, fp16, half, bf16)";

    /// <summary>
    /// "auto" picks float32 on CPU (libtorch's CPU half-precision kernels are slow or missing) and, on a
    /// GPU, float16 for checkpoints stored in float16 and bfloat16 otherwise. Explicit names are taken as given.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="dtypeOption"/> is not one of <see cref="AllowedValues"/>.</exception>
    public static ScalarType ResolveDtype(string dtypeOption, Device device, ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(config);

        switch (dtypeOption?.Trim().ToLowerInvariant())
        {
            case "auto":
                if (device.type == DeviceType.CPU)
                {
                    return ScalarType.Float32;
                }

                // A float16 checkpoint converted to bfloat16 would lose three mantissa bits for nothing.
                return config.TorchDtype is "float16" or "half" ? ScalarType.Float16 : ScalarType.BFloat16;
            case "float32" or "fp32" or "float":
                return ScalarType.Float32;
            case "float16" or "fp16" or "half":
                return ScalarType.Float16;
            case "bfloat16" or "bf16":
                return ScalarType.BFloat16;
            default:
                throw new ArgumentException(
                    $"--dtype \"{dtypeOption}\" is not supported; use one of: {AllowedValues}", nameof(dtypeOption));
        }
    }
}
