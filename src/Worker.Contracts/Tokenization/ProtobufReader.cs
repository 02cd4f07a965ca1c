using System.Buffers.Binary;
using System.Text;

namespace Inference.Worker.Tokenization;

/// <summary>Just enough of the protobuf wire format to read a SentencePiece ModelProto.</summary>
internal ref struct ProtobufReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public ProtobufReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    public readonly bool End => _position >= _data.Length;

    public bool TryReadTag(out int field, out int wireType)
    {
        if (End)
        {
            field = 0;
            wireType = 0;
            return false;
        }

        var tag = ReadVarint();
        field = (int)(tag >> 3);
        wireType = (int)(tag & 7);
        if (field <= 0)
        {
            throw new InvalidDataException($"invalid field number {field} at byte {_position}");
        }

        return true;
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw new InvalidDataException("truncated varint");
            }

            var b = _data[_position++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw new InvalidDataException("varint longer than 10 bytes");
    }

    public ReadOnlySpan<byte> ReadLengthDelimited()
    {
        var length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw new InvalidDataException($"length {length} at byte {_position} runs past the end of the data");
        }

        var slice = _data.Slice(_position, (int)length);
        _position += (int)length;
        return slice;
    }

    public string ReadString() => Encoding.UTF8.GetString(ReadLengthDelimited());

    public float ReadFloat()
    {
        if (_data.Length - _position < 4)
        {
            throw new InvalidDataException("truncated fixed32");
        }

        var value = BinaryPrimitives.ReadSingleLittleEndian(_data.Slice(_position, 4));
        _position += 4;
        return value;
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case 0:
                ReadVarint();
                break;
            case 1:
                Advance(8);
                break;
            case 2:
                ReadLengthDelimited();
                break;
            case 5:
                Advance(4);
                break;
            default:
                throw new InvalidDataException($"unsupported wire type {wireType} at byte {_position}");
        }
    }

    private void Advance(int count)
    {
        if (_data.Length - _position < count)
        {
            throw new InvalidDataException("truncated fixed-width field");
        }

        _position += count;
    }
}
