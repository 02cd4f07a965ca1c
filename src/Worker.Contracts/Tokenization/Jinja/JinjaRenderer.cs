using System.Runtime.CompilerServices;
using System.Text;

namespace Inference.Worker.Tokenization.Jinja;

/// <summary>
/// Renders a parsed template with jinja2 3.1 semantics as transformers configures it: an immutable sandbox
/// (no list or dict mutation), default Undefined, loopcontrols, and transformers' tojson, raise_exception and
/// strftime_now. One instance renders once; <see cref="JinjaLimits"/> bounds output, iterations and call depth.
/// </summary>
internal sealed partial class JinjaRenderer
{
    private readonly JinjaLimits _limits;
    private readonly TimeProvider _timeProvider;
    private readonly JinjaScope _globals;
    private int _written;
    private int _iterations;
    private int _callDepth;

    private JinjaRenderer(JinjaLimits limits, TimeProvider timeProvider)
    {
        _limits = limits;
        _timeProvider = timeProvider;
        _globals = new JinjaScope(null);
        foreach (var (name, function) in Globals())
        {
            _globals.Set(name, function);
        }
    }

    public static string Render(List<JinjaNode> template, IReadOnlyDictionary<string, object?> variables, JinjaLimits limits, TimeProvider timeProvider)
    {
        var renderer = new JinjaRenderer(limits, timeProvider);
        var root = new JinjaScope(renderer._globals);
        foreach (var (name, value) in variables)
        {
            root.Set(name, value);
        }

        var output = new StringBuilder();
        try
        {
            renderer.Execute(template, root, output);
        }
        catch (InsufficientExecutionStackException ex)
        {
            throw new JinjaException("template recursion too deep", 0, ex);
        }

        return output.ToString();
    }

    private JinjaFlow Execute(List<JinjaNode> nodes, JinjaScope scope, StringBuilder output)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        foreach (var node in nodes)
        {
            switch (node)
            {
                case JinjaNode.Text text:
                    Write(output, text.Value, text.Line);
                    break;
                case JinjaNode.Output print:
                    Write(output, JinjaValues.ToStr(Eval(print.Expr, scope)), print.Line);
                    break;
                case JinjaNode.If conditional:
                    {
                        var body = conditional.Else;
                        foreach (var (test, branch) in conditional.Branches)
                        {
                            if (JinjaValues.IsTrue(Eval(test, scope)))
                            {
                                body = branch;
                                break;
                            }
                        }

                        if (body is not null)
                        {
                            var flow = Execute(body, scope, output);
                            if (flow != JinjaFlow.Normal)
                            {
                                return flow;
                            }
                        }

                        break;
                    }

                case JinjaNode.For loop:
                    ExecuteFor(loop, scope, output);
                    break;
                case JinjaNode.Set set:
                    Assign(set.Target, Eval(set.Value, scope), scope, set.Line);
                    break;
                case JinjaNode.SetBlock block:
                    {
                        var buffer = new StringBuilder();
                        Execute(block.Body, new JinjaScope(scope), buffer);
                        object? value = buffer.ToString();
                        if (block.Filter is not null)
                        {
                            value = EvalFilter((JinjaExpr.Filter)block.Filter, scope, value);
                        }

                        Assign(block.Target, value, scope, block.Line);
                        break;
                    }

                case JinjaNode.Macro macro:
                    scope.Set(macro.Name, DefineMacro(macro, scope));
                    break;
                case JinjaNode.FilterBlock filterBlock:
                    {
                        var buffer = new StringBuilder();
                        Execute(filterBlock.Body, scope, buffer);
                        var value = EvalFilter((JinjaExpr.Filter)filterBlock.Filter, scope, buffer.ToString());
                        Write(output, JinjaValues.ToStr(value), filterBlock.Line);
                        break;
                    }

                case JinjaNode.Generation generation:
                    {
                        var flow = Execute(generation.Body, scope, output);
                        if (flow != JinjaFlow.Normal)
                        {
                            return flow;
                        }

                        break;
                    }

                case JinjaNode.Break:
                    return JinjaFlow.Break;
                case JinjaNode.Continue:
                    return JinjaFlow.Continue;
                default:
                    throw new JinjaException($"unsupported statement {node.GetType().Name}", node.Line);
            }
        }

        return JinjaFlow.Normal;
    }

    private void ExecuteFor(JinjaNode.For loop, JinjaScope scope, StringBuilder output)
    {
        var source = JinjaValues.Iterate(Eval(loop.Iterable, scope), loop.Line);
        IReadOnlyList<object?> items = source;
        if (loop.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var item in source)
            {
                CountIteration(loop.Line);
                var filterScope = new JinjaScope(scope);
                Assign(loop.Target, item, filterScope, loop.Line);
                if (JinjaValues.IsTrue(Eval(loop.Filter, filterScope)))
                {
                    kept.Add(item);
                }
            }

            items = kept;
        }
        else if (source is List<object?> list)
        {
            // The body cannot change the list (immutable sandbox) but a snapshot keeps loop.length honest regardless.
            items = list.ToArray();
        }

        if (items.Count == 0)
        {
            if (loop.Else is not null)
            {
                Execute(loop.Else, scope, output);
            }

            return;
        }

        var context = new JinjaLoop(items);
        for (var i = 0; i < items.Count; i++)
        {
            CountIteration(loop.Line);
            context.Index0 = i;
            var iteration = new JinjaScope(scope);
            iteration.Set("loop", context);
            Assign(loop.Target, items[i], iteration, loop.Line);
            if (Execute(loop.Body, iteration, output) == JinjaFlow.Break)
            {
                break;
            }
        }
    }

    private void CountIteration(int line)
    {
        if (++_iterations > _limits.MaxIterations)
        {
            throw new JinjaException($"more than {_limits.MaxIterations} loop iterations", line);
        }
    }

    private void Write(StringBuilder output, string text, int line)
    {
        _written += text.Length;
        if (_written > _limits.MaxOutputChars)
        {
            throw new JinjaException($"rendered output exceeds {_limits.MaxOutputChars} characters", line);
        }

        output.Append(text);
    }

    private string CheckLength(string value, int line) =>
        value.Length > _limits.MaxOutputChars ? throw new JinjaException($"a string longer than {_limits.MaxOutputChars} characters", line) : value;

    private void Assign(JinjaExpr target, object? value, JinjaScope scope, int line)
    {
        switch (target)
        {
            case JinjaExpr.Name name:
                scope.Set(name.Identifier, value);
                break;
            case JinjaExpr.TupleLiteral tuple:
                {
                    var items = JinjaValues.Iterate(value, line);
                    if (items.Count != tuple.Items.Count)
                    {
                        throw new JinjaException(
                            items.Count < tuple.Items.Count
                                ? $"not enough values to unpack (expected {tuple.Items.Count}, got {items.Count})"
                                : $"too many values to unpack (expected {tuple.Items.Count})",
                            line);
                    }

                    for (var i = 0; i < items.Count; i++)
                    {
                        Assign(tuple.Items[i], items[i], scope, line);
                    }

                    break;
                }

            case JinjaExpr.GetAttr { Target: JinjaExpr.Name owner } attribute:
                if (!scope.TryGet(owner.Identifier, out var ns) || ns is not JinjaNamespace space)
                {
                    throw new JinjaException("cannot assign attribute on non-namespace object", line);
                }

                space.Attributes[attribute.Attribute] = value;
                break;
            default:
                throw new JinjaException("cannot assign to this target", line);
        }
    }

    private JinjaCallable DefineMacro(JinjaNode.Macro macro, JinjaScope definitionScope) => new(macro.Name, call =>
    {
        if (call.Positional.Count > macro.Parameters.Count)
        {
            throw new JinjaException($"macro '{macro.Name}' takes not more than {macro.Parameters.Count} argument(s)", call.Line);
        }

        var scope = new JinjaScope(definitionScope);
        foreach (var (key, _) in call.Named)
        {
            var index = macro.Parameters.FindIndex(p => p.Key == key);
            if (index < 0)
            {
                throw new JinjaException($"macro '{macro.Name}' takes no keyword argument '{key}'", call.Line);
            }

            if (index < call.Positional.Count)
            {
                throw new JinjaException($"macro '{macro.Name}' got multiple values for argument '{key}'", call.Line);
            }
        }

        for (var i = 0; i < macro.Parameters.Count; i++)
        {
            var (parameter, fallback) = macro.Parameters[i];
            object? value;
            if (call.Has(i, parameter))
            {
                value = call.Arg(i, parameter);
            }
            else if (fallback is not null)
            {
                value = Eval(fallback, scope);
            }
            else
            {
                value = new JinjaUndefined($"parameter '{parameter}' was not provided");
            }

            scope.Set(parameter, value);
        }

        if (++_callDepth > _limits.MaxCallDepth)
        {
            throw new JinjaException($"macro calls nested deeper than {_limits.MaxCallDepth}", call.Line);
        }

        try
        {
            var output = new StringBuilder();
            Execute(macro.Body, scope, output);
            return output.ToString();
        }
        finally
        {
            _callDepth--;
        }
    });
}
