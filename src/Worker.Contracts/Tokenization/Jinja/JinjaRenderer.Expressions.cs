using System.Runtime.CompilerServices;
using System.Text;

namespace Inference.Worker.Tokenization.Jinja;

internal sealed partial class JinjaRenderer
{
    private object? Eval(JinjaExpr expr, JinjaScope scope)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        switch (expr)
        {
            case JinjaExpr.Literal literal:
                return literal.Value;
            case JinjaExpr.Name name:
                return scope.TryGet(name.Identifier, out var value) ? value : JinjaUndefined.Named(name.Identifier);
            case JinjaExpr.ListLiteral list:
                {
                    var result = new List<object?>(list.Items.Count);
                    foreach (var item in list.Items)
                    {
                        result.Add(Eval(item, scope));
                    }

                    return result;
                }

            case JinjaExpr.TupleLiteral tuple:
                {
                    var result = new object?[tuple.Items.Count];
                    for (var i = 0; i < result.Length; i++)
                    {
                        result[i] = Eval(tuple.Items[i], scope);
                    }

                    return result;
                }

            case JinjaExpr.DictLiteral dict:
                {
                    var result = JinjaValues.NewDict();
                    foreach (var (key, item) in dict.Items)
                    {
                        result[HashableKey(Eval(key, scope), key.Line)] = Eval(item, scope);
                    }

                    return result;
                }

            case JinjaExpr.GetAttr attribute:
                return GetAttribute(Eval(attribute.Target, scope), attribute.Attribute, attribute.Line);
            case JinjaExpr.GetItem item:
                return GetItem(Eval(item.Target, scope), Eval(item.Key, scope), item.Line);
            case JinjaExpr.Slice slice:
                return EvalSlice(slice, scope);
            case JinjaExpr.Call call:
                return Invoke(Eval(call.Target, scope), EvalArguments(call.Arguments, scope, call.Line));
            case JinjaExpr.Filter filter:
                return EvalFilter(filter, scope, null);
            case JinjaExpr.Test test:
                {
                    var result = RunTest(test.TestName, Eval(test.Target, scope), EvalArguments(test.Arguments, scope, test.Line));
                    return test.Negated ? !result : result;
                }

            case JinjaExpr.Unary unary:
                return EvalUnary(unary, scope);
            case JinjaExpr.Binary binary:
                return EvalBinary(binary, scope);
            case JinjaExpr.Compare compare:
                {
                    var left = Eval(compare.First, scope);
                    foreach (var (op, operand) in compare.Rest)
                    {
                        var right = Eval(operand, scope);
                        if (!CompareOp(op, left, right, compare.Line))
                        {
                            return false;
                        }

                        left = right;
                    }

                    return true;
                }

            case JinjaExpr.Concat concat:
                {
                    var builder = new StringBuilder();
                    foreach (var item in concat.Items)
                    {
                        builder.Append(JinjaValues.ToStr(Eval(item, scope)));
                        if (builder.Length > _limits.MaxOutputChars)
                        {
                            CheckLength(builder.ToString(), concat.Line);
                        }
                    }

                    return builder.ToString();
                }

            case JinjaExpr.Conditional conditional:
                if (JinjaValues.IsTrue(Eval(conditional.TestExpr, scope)))
                {
                    return Eval(conditional.Then, scope);
                }

                return conditional.Otherwise is not null
                    ? Eval(conditional.Otherwise, scope)
                    : new JinjaUndefined($"the inline if-expression on line {conditional.Line} evaluated to false and no else section was defined.");
            default:
                throw new JinjaException($"unsupported expression {expr.GetType().Name}", expr.Line);
        }
    }

    private static object HashableKey(object? key, int line) => key switch
    {
        string or long or double or bool => key,
        _ => throw new JinjaException($"unhashable dict key of type '{JinjaValues.TypeName(key)}'", line),
    };

    private JinjaCall EvalArguments(JinjaArguments arguments, JinjaScope scope, int line)
    {
        var positional = new List<object?>(arguments.Positional.Count);
        foreach (var item in arguments.Positional)
        {
            positional.Add(Eval(item, scope));
        }

        var named = new List<KeyValuePair<string, object?>>(arguments.Named.Count);
        foreach (var (key, item) in arguments.Named)
        {
            named.Add(new(key, Eval(item, scope)));
        }

        return new JinjaCall(positional, named, line);
    }

    private static object? Invoke(object? target, JinjaCall call) => target switch
    {
        JinjaCallable callable => callable.Invoke(call),
        JinjaUndefined undefined => throw new JinjaException(undefined.Hint, call.Line),
        _ => throw new JinjaException($"'{JinjaValues.TypeName(target)}' object is not callable", call.Line),
    };

    private object? EvalUnary(JinjaExpr.Unary unary, JinjaScope scope)
    {
        var operand = Eval(unary.Operand, scope);
        switch (unary.Operator)
        {
            case "not":
                return !JinjaValues.IsTrue(operand);
            case "-":
                return operand switch
                {
                    long l => l == long.MinValue ? throw new JinjaException("integer overflow", unary.Line) : (object)(-l),
                    bool b => b ? -1L : 0L,
                    double d => -d,
                    JinjaUndefined u => throw new JinjaException(u.Hint, unary.Line),
                    _ => throw new JinjaException($"bad operand type for unary -: '{JinjaValues.TypeName(operand)}'", unary.Line),
                };
            default:
                return operand switch
                {
                    long or double => operand,
                    bool b => b ? 1L : 0L,
                    JinjaUndefined u => throw new JinjaException(u.Hint, unary.Line),
                    _ => throw new JinjaException($"bad operand type for unary +: '{JinjaValues.TypeName(operand)}'", unary.Line),
                };
        }
    }

    private object? EvalBinary(JinjaExpr.Binary binary, JinjaScope scope)
    {
        var left = Eval(binary.Left, scope);
        if (binary.Operator == "and")
        {
            return JinjaValues.IsTrue(left) ? Eval(binary.Right, scope) : left;
        }

        if (binary.Operator == "or")
        {
            return JinjaValues.IsTrue(left) ? left : Eval(binary.Right, scope);
        }

        var right = Eval(binary.Right, scope);
        return Arithmetic(binary.Operator, left, right, binary.Line);
    }

    private object? Arithmetic(string op, object? left, object? right, int line)
    {
        if (left is JinjaUndefined u1)
        {
            throw new JinjaException(u1.Hint, line);
        }

        if (right is JinjaUndefined u2)
        {
            throw new JinjaException(u2.Hint, line);
        }

        var numbers = JinjaValues.IsNumber(left) && JinjaValues.IsNumber(right);
        var integers = numbers && left is not double && right is not double;
        try
        {
            switch (op)
            {
                case "+":
                    if (integers)
                    {
                        return checked(JinjaValues.ToLong(left) + JinjaValues.ToLong(right));
                    }

                    if (numbers)
                    {
                        return JinjaValues.ToDouble(left) + JinjaValues.ToDouble(right);
                    }

                    if (left is string s1 && right is string s2)
                    {
                        return CheckLength(s1 + s2, line);
                    }

                    if (left is List<object?> l1 && right is List<object?> l2)
                    {
                        return new List<object?>(l1.Concat(l2));
                    }

                    if (left is object?[] t1 && right is object?[] t2)
                    {
                        return t1.Concat(t2).ToArray();
                    }

                    if (left is string or List<object?> or object?[])
                    {
                        var kind = JinjaValues.TypeName(left);
                        throw new JinjaException($"can only concatenate {kind} (not \"{JinjaValues.TypeName(right)}\") to {kind}", line);
                    }

                    break;
                case "-":
                    if (integers)
                    {
                        return checked(JinjaValues.ToLong(left) - JinjaValues.ToLong(right));
                    }

                    if (numbers)
                    {
                        return JinjaValues.ToDouble(left) - JinjaValues.ToDouble(right);
                    }

                    break;
                case "*":
                    if (integers)
                    {
                        return checked(JinjaValues.ToLong(left) * JinjaValues.ToLong(right));
                    }

                    if (numbers)
                    {
                        return JinjaValues.ToDouble(left) * JinjaValues.ToDouble(right);
                    }

                    if ((left is string or List<object?> && right is long or bool) || (right is string or List<object?> && left is long or bool))
                    {
                        return Repeat(left is long or bool ? right : left, JinjaValues.ToLong(left is long or bool ? left : right), line);
                    }

                    break;
                case "/":
                    if (numbers)
                    {
                        var divisor = JinjaValues.ToDouble(right);
                        return divisor == 0 ? throw new JinjaException("division by zero", line) : JinjaValues.ToDouble(left) / divisor;
                    }

                    break;
                case "//":
                    if (integers)
                    {
                        var b = JinjaValues.ToLong(right);
                        if (b == 0)
                        {
                            throw new JinjaException("integer division or modulo by zero", line);
                        }

                        var a = JinjaValues.ToLong(left);
                        var q = a / b;
                        return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q;
                    }

                    if (numbers)
                    {
                        var divisor = JinjaValues.ToDouble(right);
                        return divisor == 0 ? throw new JinjaException("float floor division by zero", line) : Math.Floor(JinjaValues.ToDouble(left) / divisor);
                    }

                    break;
                case "%":
                    if (integers)
                    {
                        var b = JinjaValues.ToLong(right);
                        if (b == 0)
                        {
                            throw new JinjaException("integer division or modulo by zero", line);
                        }

                        var r = JinjaValues.ToLong(left) % b;
                        return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
                    }

                    if (numbers)
                    {
                        var b = JinjaValues.ToDouble(right);
                        if (b == 0)
                        {
                            throw new JinjaException("float modulo", line);
                        }

                        var a = JinjaValues.ToDouble(left);
                        return a - (b * Math.Floor(a / b));
                    }

                    if (left is string)
                    {
                        throw new JinjaException("printf-style string formatting (%) is not supported", line);
                    }

                    break;
                case "**":
                    if (integers && JinjaValues.ToLong(right) >= 0)
                    {
                        long result = 1;
                        var b = JinjaValues.ToLong(left);
                        for (var e = JinjaValues.ToLong(right); e > 0; e--)
                        {
                            result = checked(result * b);
                            if (result == 0 || result == 1)
                            {
                                break;
                            }
                        }

                        return result;
                    }

                    if (numbers)
                    {
                        return Math.Pow(JinjaValues.ToDouble(left), JinjaValues.ToDouble(right));
                    }

                    break;
            }
        }
        catch (OverflowException)
        {
            throw new JinjaException("integer overflow (integers are limited to 64 bits)", line);
        }

        throw new JinjaException($"unsupported operand type(s) for {op}: '{JinjaValues.TypeName(left)}' and '{JinjaValues.TypeName(right)}'", line);
    }

    private object Repeat(object? sequence, long count, int line)
    {
        count = Math.Max(0, count);
        if (sequence is string s)
        {
            if (s.Length * count > _limits.MaxOutputChars)
            {
                throw new JinjaException($"a string longer than {_limits.MaxOutputChars} characters", line);
            }

            return new StringBuilder(s.Length * (int)count).Insert(0, s, (int)count).ToString();
        }

        var list = (List<object?>)sequence!;
        if (list.Count * count > _limits.MaxOutputChars)
        {
            throw new JinjaException("a list too large", line);
        }

        var result = new List<object?>();
        for (var i = 0; i < count; i++)
        {
            result.AddRange(list);
        }

        return result;
    }

    private static bool CompareOp(string op, object? left, object? right, int line) => op switch
    {
        "==" => JinjaValues.PyEquals(left, right),
        "!=" => !JinjaValues.PyEquals(left, right),
        "<" => JinjaValues.Compare(left, right, line) < 0,
        "<=" => JinjaValues.Compare(left, right, line) <= 0,
        ">" => JinjaValues.Compare(left, right, line) > 0,
        ">=" => JinjaValues.Compare(left, right, line) >= 0,
        "in" => Contains(right, left, line),
        _ => !Contains(right, left, line),
    };

    private static bool Contains(object? container, object? item, int line)
    {
        switch (container)
        {
            case string s:
                return item is string t
                    ? s.Contains(t, StringComparison.Ordinal)
                    : throw new JinjaException($"'in <string>' requires string as left operand, not {JinjaValues.TypeName(item)}", line);
            case List<object?> or object?[]:
                foreach (var element in (IReadOnlyList<object?>)container)
                {
                    if (JinjaValues.PyEquals(element, item))
                    {
                        return true;
                    }
                }

                return false;
            case OrderedDictionary<object, object?> dict:
                return item is not null && item is string or long or double or bool && dict.ContainsKey(item);
            case JinjaNamespace ns:
                return item is string name && ns.Attributes.ContainsKey(name);
            case JinjaUndefined:
                return false;
            default:
                throw new JinjaException($"argument of type '{JinjaValues.TypeName(container)}' is not iterable", line);
        }
    }

    private object? GetAttribute(object? target, string name, int line)
    {
        switch (target)
        {
            case JinjaUndefined undefined:
                throw new JinjaException(undefined.Hint, line);
            case OrderedDictionary<object, object?> dict:
                if (DictMethod(dict, name) is { } method)
                {
                    return method;
                }

                return dict.TryGetValue(name, out var value) ? value : new JinjaUndefined($"'dict object' has no attribute '{name}'");
            case JinjaNamespace ns:
                return ns.Attributes.TryGetValue(name, out var attribute) ? attribute : new JinjaUndefined($"'Namespace' object has no attribute '{name}'");
            case JinjaLoop loop:
                return loop.Attribute(name);
            case string s:
                return (object?)StringMethod(s, name) ?? new JinjaUndefined($"'str object' has no attribute '{name}'");
            case List<object?> or object?[]:
                return SequenceMethod((IReadOnlyList<object?>)target, target is object?[], name)
                    ?? new JinjaUndefined($"'{JinjaValues.TypeName(target)} object' has no attribute '{name}'");
            case null:
                return new JinjaUndefined($"'None' has no attribute '{name}'");
            default:
                return new JinjaUndefined($"'{JinjaValues.TypeName(target)} object' has no attribute '{name}'");
        }
    }

    private object? GetItem(object? target, object? key, int line)
    {
        switch (target)
        {
            case JinjaUndefined undefined:
                throw new JinjaException(undefined.Hint, line);
            case OrderedDictionary<object, object?> dict:
                if (key is string or long or double or bool && dict.TryGetValue(key, out var value))
                {
                    return value;
                }

                break;
            case List<object?> or object?[] when key is long or bool:
                {
                    var list = (IReadOnlyList<object?>)target;
                    var index = JinjaValues.ToLong(key);
                    index = index < 0 ? index + list.Count : index;
                    return index >= 0 && index < list.Count ? list[(int)index] : new JinjaUndefined($"'{JinjaValues.TypeName(target)} object' has no element {JinjaValues.Repr(key)}");
                }

            case string s when key is long or bool:
                {
                    var points = JinjaValues.HasSurrogates(s) ? JinjaValues.CodePoints(s) : null;
                    var length = points?.Count ?? s.Length;
                    var index = JinjaValues.ToLong(key);
                    index = index < 0 ? index + length : index;
                    if (index < 0 || index >= length)
                    {
                        return new JinjaUndefined($"'str object' has no element {JinjaValues.Repr(key)}");
                    }

                    return points is not null ? points[(int)index] : s[(int)index].ToString();
                }
        }

        if (key is string name && target is not null)
        {
            var attribute = GetAttribute(target, name, line);
            if (attribute is not JinjaUndefined)
            {
                return attribute;
            }
        }

        return new JinjaUndefined($"'{(target is null ? "None" : JinjaValues.TypeName(target) + " object")}' has no element {JinjaValues.Repr(key)}");
    }

    private object? EvalSlice(JinjaExpr.Slice slice, JinjaScope scope)
    {
        var target = Eval(slice.Target, scope);
        var start = slice.Start is null ? null : Eval(slice.Start, scope);
        var stop = slice.Stop is null ? null : Eval(slice.Stop, scope);
        var step = slice.Step is null ? null : Eval(slice.Step, scope);
        foreach (var bound in (object?[])[start, stop, step])
        {
            if (bound is not (null or long or bool))
            {
                throw new JinjaException("slice indices must be integers or None", slice.Line);
            }
        }

        var stepValue = step is null ? 1 : JinjaValues.ToLong(step);
        if (stepValue == 0)
        {
            throw new JinjaException("slice step cannot be zero", slice.Line);
        }

        IReadOnlyList<object?> items = target switch
        {
            string s => JinjaValues.CodePoints(s),
            List<object?> list => list,
            object?[] tuple => tuple,
            JinjaUndefined u => throw new JinjaException(u.Hint, slice.Line),
            _ => throw new JinjaException($"'{JinjaValues.TypeName(target)}' object is not subscriptable", slice.Line),
        };
        var picked = SliceIndices(items.Count, start is null ? null : JinjaValues.ToLong(start), stop is null ? null : JinjaValues.ToLong(stop), stepValue)
            .Select(i => items[i]).ToList();
        return target switch
        {
            string => string.Concat(picked.Cast<string>()),
            object?[] => picked.ToArray(),
            _ => picked,
        };
    }

    // Python's slice.indices: clamp start/stop to the sequence, defaults depending on the step's sign.
    private static IEnumerable<int> SliceIndices(int length, long? start, long? stop, long step)
    {
        long Clamp(long? value, long fallback, long low, long high)
        {
            if (value is null)
            {
                return fallback;
            }

            var v = value.Value < 0 ? value.Value + length : value.Value;
            return Math.Clamp(v, low, high);
        }

        if (step > 0)
        {
            var from = Clamp(start, 0, 0, length);
            var to = Clamp(stop, length, 0, length);
            for (var i = from; i < to; i += step)
            {
                yield return (int)i;
            }
        }
        else
        {
            var from = Clamp(start, length - 1, -1, length - 1);
            var to = Clamp(stop, -1, -1, length - 1);
            for (var i = from; i > to; i += step)
            {
                yield return (int)i;
            }
        }
    }
}
