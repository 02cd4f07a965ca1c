namespace Inference.Worker.Tokenization.Jinja;

internal sealed partial class JinjaRenderer
{
    /// <summary>Test names the parser accepts (jinja2 refuses an unknown test when it compiles the template).</summary>
    public static readonly HashSet<string> TestNames = new(StringComparer.Ordinal)
    {
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false", "float", "ge", "gt", "in",
        "integer", "iterable", "le", "lower", "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string", "true",
        "undefined", "upper",
    };

    private bool RunTest(string name, object? value, JinjaCall call)
    {
        var line = call.Line;
        object? Other() => call.Has(0, "value") ? call.Arg(0, "value") : throw new JinjaException($"test '{name}' needs an argument", line);
        switch (name)
        {
            case "defined":
                return value is not JinjaUndefined;
            case "undefined":
                return value is JinjaUndefined;
            case "none":
                return value is null;
            case "string":
                return value is string;
            case "number":
                return value is long or double or bool;
            case "integer":
                return value is long;
            case "float":
                return value is double;
            case "boolean":
                return value is bool;
            case "true":
                return value is true;
            case "false":
                return value is false;
            case "mapping":
                return value is OrderedDictionary<object, object?>;
            case "iterable":
                return value is string or List<object?> or object?[] or OrderedDictionary<object, object?> or JinjaUndefined;
            case "sequence":
                return value is string or List<object?> or object?[] or OrderedDictionary<object, object?>;
            case "callable":
                return value is JinjaCallable;
            case "escaped":
                return false;
            case "lower":
                return value is string lower && string.Equals(lower, lower.ToLowerInvariant(), StringComparison.Ordinal);
            case "upper":
                return value is string upper && string.Equals(upper, upper.ToUpperInvariant(), StringComparison.Ordinal);
            case "even" or "odd":
                if (value is not (long or bool))
                {
                    throw new JinjaException($"test '{name}' needs an integer, got '{JinjaValues.TypeName(value)}'", line);
                }

                return (JinjaValues.ToLong(value) % 2 == 0) == (name == "even");
            case "divisibleby":
                {
                    var divisor = Other();
                    if (!JinjaValues.IsNumber(value) || !JinjaValues.IsNumber(divisor) || JinjaValues.ToDouble(divisor) == 0)
                    {
                        throw new JinjaException("divisibleby needs a non-zero number", line);
                    }

                    return JinjaValues.ToDouble(Arithmetic("%", value, divisor, line)) == 0;
                }

            case "eq" or "equalto" or "==":
                return JinjaValues.PyEquals(value, Other());
            case "ne":
                return !JinjaValues.PyEquals(value, Other());
            case "lt":
                return JinjaValues.Compare(value, Other(), line) < 0;
            case "le":
                return JinjaValues.Compare(value, Other(), line) <= 0;
            case "gt":
                return JinjaValues.Compare(value, Other(), line) > 0;
            case "ge":
                return JinjaValues.Compare(value, Other(), line) >= 0;
            case "in":
                return CompareOp("in", value, Other(), line);
            case "sameas":
                {
                    var other = Other();
                    return value is null or bool ? JinjaValues.PyEquals(value, other) && other?.GetType() == value?.GetType() : ReferenceEquals(value, other);
                }

            default:
                throw new JinjaException($"no test named '{name}'", line);
        }
    }
}
