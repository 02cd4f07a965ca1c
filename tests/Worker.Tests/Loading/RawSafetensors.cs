using System.Buffers.Binary;
using System.Text;

namespace Inference.Worker.Tests.Loading;

/// <summary>Writes hand-made safetensors bytes, to reach malformed files the writer never produces.</summary>
internal static class RawSafetensors
{
    public static void Write(string path, string headerJson, int dataBytes)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        Write(path, (ulong)header.Length, header, dataBytes);
    }

    public static void Write(string path, ulong declaredHeaderLength, byte[] header, int dataBytes)
    {
        using var stream = System.IO.File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, declaredHeaderLength);
        stream.Write(length);
        stream.Write(header);
        stream.Write(new byte[dataBytes]);
    }
}
