using Google.Protobuf;
using Google.Protobuf.Reflection;
using Inference.Gateway.Api;

namespace Inference.Gateway.Grpc;

/// <summary>
/// Finds fields a request carries that inference.proto does not define (a client built from a newer proto).
/// Protobuf parsers keep such fields and would otherwise ignore them; a parameter the server does not know is
/// refused, never ignored, on gRPC as on HTTP.
/// </summary>
internal static class UnknownProtoFields
{
    /// <summary>INVALID_ARGUMENT-shaped refusal naming the first unknown field as <c>path.#number</c>.</summary>
    public static void Refuse(IMessage request)
    {
        if (First(request, string.Empty) is { } field)
        {
            throw ApiException.Invalid(
                field,
                $"Unrecognized request field supplied: {field} (field number {field[(field.LastIndexOf('#') + 1)..]} is not in this server's inference.proto).",
                "unknown_parameter");
        }
    }

    private static string? First(IMessage message, string prefix)
    {
        // Unknown fields survive parsing and are written back by ToByteArray: read the tags against the descriptor.
        var input = new CodedInputStream(message.ToByteArray());
        for (uint tag = input.ReadTag(); tag != 0; tag = input.ReadTag())
        {
            int number = WireFormat.GetTagFieldNumber(tag);
            if (message.Descriptor.FindFieldByNumber(number) is null)
            {
                return $"{prefix}#{number}";
            }

            input.SkipLastField();
        }

        foreach (FieldDescriptor field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            if (field.FieldType != FieldType.Message || field.IsMap)
            {
                continue;
            }

            object? value = field.Accessor.GetValue(message);
            if (field.IsRepeated)
            {
                int i = 0;
                foreach (IMessage item in (System.Collections.IEnumerable)value!)
                {
                    if (First(item, $"{prefix}{field.Name}[{i++}].") is { } found)
                    {
                        return found;
                    }
                }
            }
            else if (value is IMessage child && First(child, $"{prefix}{field.Name}.") is { } found)
            {
                return found;
            }
        }

        return null;
    }
}
