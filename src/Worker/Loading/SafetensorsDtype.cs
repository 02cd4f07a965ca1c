using static TorchSharp.torch;

namespace Inference.Worker.Loading;

/// <summary>The safetensors dtype names, their element sizes and the ones this runtime loads.</summary>
internal static class SafetensorsDtype
{
    public const string Supported = "F32, F16, BF16";

    /// <summary>Element size in bytes of every dtype the format defines, so sizes can be checked for all.</summary>
    public static int? ElementSize(string dtype) => dtype switch
    {
        "BOOL" or "U8" or "I8" or "F8_E4M3" or "F8_E5M2" or "F8_E8M0" => 1,
        "U16" or "I16" or "F16" or "BF16" => 2,
        "U32" or "I32" or "F32" => 4,
        "U64" or "I64" or "F64" => 8,
        _ => null,
    };

    /// <summary>The torch dtype a loadable safetensors dtype maps to, or null when it is not loadable.</summary>
    public static ScalarType? ToScalarType(string dtype) => dtype switch
    {
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        _ => null,
    };

    public static string NotSupportedMessage(string dtype) =>
        $"dtype {dtype} is not supported (supported: {Supported})";
}
