using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Inference.TestSupport;

/// <summary>Just enough of the protobuf wire format to write a SentencePiece ModelProto.</summary>
internal sealed class ProtobufWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new();

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    public void WriteVarintField(int field, ulong value)
    {
        WriteVarint((ulong)field << 3);
        WriteVarint(value);
    }

    public void WriteBoolField(int field, bool value) => WriteVarintField(field, value ? 1UL : 0UL);

    public void WriteFloatField(int field, float value)
    {
        WriteVarint(((ulong)field << 3) | 5);
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(buffer, value);
        _buffer.Write(buffer);
    }

    public void WriteBytesField(int field, ReadOnlySpan<byte> value)
    {
        WriteVarint(((ulong)field << 3) | 2);
        WriteVarint((ulong)value.Length);
        _buffer.Write(value);
    }

    public void WriteStringField(int field, string value) => WriteBytesField(field, Encoding.UTF8.GetBytes(value));

    private void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.Write([(byte)(value | 0x80)]);
            value >>= 7;
        }

        _buffer.Write([(byte)value]);
    }
}
