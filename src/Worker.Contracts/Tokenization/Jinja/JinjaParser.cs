using System.Globalization;

namespace Inference.Worker.Tokenization.Jinja;

/// <summary>
/// Recursive-descent parser with jinja2 3.1's grammar and precedence: conditional, or, and, not, comparisons
/// (chained; in, not in), + and -, ~, * / // %, **, unary - and +, then postfix (attribute, subscript, call) and
/// filters/tests. Statements: if, for, set, macro, filter, generation, break, continue.
/// </summary>
internal sealed class JinjaParser
{
    private const int MaxNesting = 200;

    private readonly List<JinjaToken> _tokens;
    private int _index;
    private int _loopDepth;
    private int _nesting;

    private JinjaParser(List<JinjaToken> tokens)
    {
        _tokens = tokens;
    }

    private JinjaToken Current => _tokens[_index];

    public static List<JinjaNode> Parse(string text)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(text));
        var (body, end) = parser.ParseBody([]);
        if (end is not null)
        {
            throw new JinjaSyntaxException($"unexpected '{end}'", parser.Current.Line);
        }

        return body;
    }

    private JinjaToken Next() => _tokens[_index++];

    private JinjaSyntaxException Fail(string message) => new(message, Current.Line);

    private void Expect(JinjaTokenKind kind, string? text = null)
    {
        var token = Current;
        if (token.Kind != kind || (text is not null && token.Text != text))
        {
            var expected = text is not null ? $"'{text}'" : kind switch
            {
                JinjaTokenKind.BlockEnd => "end of statement block",
                JinjaTokenKind.VariableEnd => "end of print statement",
                JinjaTokenKind.Name => "a name",
                _ => kind.ToString(),
            };
            throw Fail($"expected {expected}, got {token.Describe()}");
        }

        _index++;
    }

    private bool SkipOperator(string op)
    {
        if (Current.IsOperator(op))
        {
            _index++;
            return true;
        }

        return false;
    }

    private bool SkipName(string name)
    {
        if (Current.IsName(name))
        {
            _index++;
            return true;
        }

        return false;
    }

    private string ExpectName()
    {
        if (Current.Kind != JinjaTokenKind.Name)
        {
            throw Fail($"expected a name, got {Current.Describe()}");
        }

        return Next().Text;
    }

    // Parses statements until a block tag whose keyword is in endKeywords (returned, with the stream after it)
    // or the end of the template (null).
    private (List<JinjaNode> Body, string? End) ParseBody(string[] endKeywords)
    {
        var body = new List<JinjaNode>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case JinjaTokenKind.End:
                    if (endKeywords.Length > 0)
                    {
                        throw Fail($"unexpected end of template; expected {string.Join(" or ", endKeywords.Select(k => $"'{k}'"))}");
                    }

                    return (body, null);
                case JinjaTokenKind.Data:
                    _index++;
                    body.Add(new JinjaNode.Text(token.Text, token.Line));
                    break;
                case JinjaTokenKind.VariableBegin:
                    _index++;
                    var expr = ParseTuple(withCondExpr: true);
                    Expect(JinjaTokenKind.VariableEnd);
                    body.Add(new JinjaNode.Output(expr, token.Line));
                    break;
                case JinjaTokenKind.BlockBegin:
                    _index++;
                    var keyword = Current;
                    if (keyword.Kind != JinjaTokenKind.Name)
                    {
                        throw Fail("tag name expected");
                    }

                    if (Array.IndexOf(endKeywords, keyword.Text) >= 0)
                    {
                        _index++;
                        return (body, keyword.Text);
                    }

                    body.Add(ParseStatement());
                    break;
                default:
                    throw Fail($"unexpected {token.Describe()}");
            }
        }
    }

    private JinjaNode ParseStatement()
    {
        var token = Next();
        if (++_nesting > MaxNesting)
        {
            throw new JinjaSyntaxException("blocks nested too deeply", token.Line);
        }

        try
        {
            switch (token.Text)
            {
                case "if":
                    return ParseIf(token.Line);
                case "for":
                    return ParseFor(token.Line);
                case "set":
                    return ParseSet(token.Line);
                case "macro":
                    return ParseMacro(token.Line);
                case "filter":
                    {
                        var filter = ParseFilterChain(null);
                        Expect(JinjaTokenKind.BlockEnd);
                        var (body, _) = ParseBody(["endfilter"]);
                        Expect(JinjaTokenKind.BlockEnd);
                        return new JinjaNode.FilterBlock(filter, body, token.Line);
                    }

                case "generation":
                    {
                        Expect(JinjaTokenKind.BlockEnd);
                        var (body, _) = ParseBody(["endgeneration"]);
                        Expect(JinjaTokenKind.BlockEnd);
                        return new JinjaNode.Generation(body, token.Line);
                    }

                case "break" or "continue":
                    if (_loopDepth == 0)
                    {
                        throw new JinjaSyntaxException($"'{token.Text}' outside of a for loop", token.Line);
                    }

                    Expect(JinjaTokenKind.BlockEnd);
                    return token.Text == "break" ? new JinjaNode.Break(token.Line) : new JinjaNode.Continue(token.Line);
                case "elif" or "else" or "endif" or "endfor" or "endset" or "endmacro" or "endfilter" or "endgeneration":
                    throw new JinjaSyntaxException($"unexpected '{token.Text}'", token.Line);
                default:
                    throw new JinjaSyntaxException($"unknown or unsupported tag '{token.Text}'", token.Line);
            }
        }
        finally
        {
            _nesting--;
        }
    }

    private JinjaNode.If ParseIf(int line)
    {
        var branches = new List<KeyValuePair<JinjaExpr, List<JinjaNode>>>();
        List<JinjaNode>? otherwise = null;
        var condition = ParseTuple(withCondExpr: true);
        while (true)
        {
            Expect(JinjaTokenKind.BlockEnd);
            var (body, end) = ParseBody(["elif", "else", "endif"]);
            branches.Add(new(condition, body));
            if (end == "elif")
            {
                condition = ParseTuple(withCondExpr: true);
                continue;
            }

            if (end == "else")
            {
                Expect(JinjaTokenKind.BlockEnd);
                (otherwise, _) = ParseBody(["endif"]);
            }

            Expect(JinjaTokenKind.BlockEnd);
            return new JinjaNode.If(branches, otherwise, line);
        }
    }

    private JinjaNode.For ParseFor(int line)
    {
        var target = ParseAssignTarget(withNamespace: false, extraEnd: "in");
        Expect(JinjaTokenKind.Name, "in");
        var iterable = ParseTuple(withCondExpr: false, extraEnd: "recursive");
        JinjaExpr? filter = null;
        if (SkipName("if"))
        {
            filter = ParseExpression(withCondExpr: true);
        }

        if (Current.IsName("recursive"))
        {
            throw Fail("recursive for loops are not supported");
        }

        Expect(JinjaTokenKind.BlockEnd);
        _loopDepth++;
        var (body, end) = ParseBody(["endfor", "else"]);
        _loopDepth--;
        List<JinjaNode>? otherwise = null;
        if (end == "else")
        {
            Expect(JinjaTokenKind.BlockEnd);
            (otherwise, _) = ParseBody(["endfor"]);
        }

        Expect(JinjaTokenKind.BlockEnd);
        return new JinjaNode.For(target, iterable, filter, body, otherwise, line);
    }

    private JinjaNode ParseSet(int line)
    {
        var target = ParseAssignTarget(withNamespace: true, extraEnd: null);
        if (SkipOperator("="))
        {
            var value = ParseTuple(withCondExpr: true);
            Expect(JinjaTokenKind.BlockEnd);
            return new JinjaNode.Set(target, value, line);
        }

        if (target is not JinjaExpr.Name)
        {
            throw Fail("a block set needs a plain variable name");
        }

        JinjaExpr? filter = Current.IsOperator("|") ? ParseFilterChain(null) : null;
        Expect(JinjaTokenKind.BlockEnd);
        var (body, _) = ParseBody(["endset"]);
        Expect(JinjaTokenKind.BlockEnd);
        return new JinjaNode.SetBlock(target, filter, body, line);
    }

    private JinjaNode.Macro ParseMacro(int line)
    {
        var name = ExpectName();
        var parameters = new List<KeyValuePair<string, JinjaExpr?>>();
        Expect(JinjaTokenKind.Operator, "(");
        while (!SkipOperator(")"))
        {
            if (parameters.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",");
                if (SkipOperator(")"))
                {
                    break;
                }
            }

            var parameter = ExpectName();
            JinjaExpr? fallback = SkipOperator("=") ? ParseExpression(withCondExpr: true) : null;
            if (fallback is null && parameters.Count > 0 && parameters[^1].Value is not null)
            {
                throw Fail("non-default argument follows default argument");
            }

            parameters.Add(new(parameter, fallback));
        }

        Expect(JinjaTokenKind.BlockEnd);
        var saveLoop = _loopDepth;
        _loopDepth = 0;
        var (body, _) = ParseBody(["endmacro"]);
        _loopDepth = saveLoop;
        Expect(JinjaTokenKind.BlockEnd);
        return new JinjaNode.Macro(name, parameters, body, line);
    }

    private JinjaExpr ParseAssignTarget(bool withNamespace, string? extraEnd)
    {
        var line = Current.Line;
        if (withNamespace && Current.Kind == JinjaTokenKind.Name && _tokens[_index + 1].IsOperator("."))
        {
            var ns = ExpectName();
            _index++;
            var attribute = ExpectName();
            return new JinjaExpr.GetAttr(new JinjaExpr.Name(ns, line), attribute, line);
        }

        var names = new List<JinjaExpr>();
        var isTuple = false;
        while (true)
        {
            if (names.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",");
            }

            if (IsTupleEnd(extraEnd) || Current.IsOperator("="))
            {
                break;
            }

            var token = Current;
            var name = ExpectName();
            if (name is "true" or "false" or "none" or "True" or "False" or "None")
            {
                throw new JinjaSyntaxException($"cannot assign to '{name}'", token.Line);
            }

            names.Add(new JinjaExpr.Name(name, token.Line));
            if (Current.IsOperator(","))
            {
                isTuple = true;
            }
            else
            {
                break;
            }
        }

        if (names.Count == 0)
        {
            throw Fail("expected an assignment target");
        }

        return isTuple ? new JinjaExpr.TupleLiteral(names, line) : names[0];
    }

    private bool IsTupleEnd(string? extraEnd) =>
        Current.Kind is JinjaTokenKind.VariableEnd or JinjaTokenKind.BlockEnd or JinjaTokenKind.End
        || Current.IsOperator(")")
        || (extraEnd is not null && Current.IsName(extraEnd));

    private JinjaExpr ParseTuple(bool withCondExpr, string? extraEnd = null, bool explicitParentheses = false)
    {
        var line = Current.Line;
        var items = new List<JinjaExpr>();
        var isTuple = false;
        while (true)
        {
            if (items.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",");
            }

            if (IsTupleEnd(extraEnd))
            {
                break;
            }

            items.Add(ParseExpression(withCondExpr));
            if (Current.IsOperator(","))
            {
                isTuple = true;
            }
            else
            {
                break;
            }
        }

        if (!isTuple)
        {
            if (items.Count == 1)
            {
                return items[0];
            }

            if (!explicitParentheses)
            {
                throw Fail($"expected an expression, got {Current.Describe()}");
            }
        }

        return new JinjaExpr.TupleLiteral(items, line);
    }

    private JinjaExpr ParseExpression(bool withCondExpr)
    {
        if (++_nesting > MaxNesting)
        {
            throw Fail("expression nested too deeply");
        }

        try
        {
            return withCondExpr ? ParseCondExpr() : ParseOr();
        }
        finally
        {
            _nesting--;
        }
    }

    private JinjaExpr ParseCondExpr()
    {
        var line = Current.Line;
        var expr = ParseOr();
        while (SkipName("if"))
        {
            var test = ParseOr();
            JinjaExpr? otherwise = SkipName("else") ? ParseCondExpr() : null;
            expr = new JinjaExpr.Conditional(test, expr, otherwise, line);
        }

        return expr;
    }

    private JinjaExpr ParseOr()
    {
        var line = Current.Line;
        var left = ParseAnd();
        while (SkipName("or"))
        {
            left = new JinjaExpr.Binary("or", left, ParseAnd(), line);
        }

        return left;
    }

    private JinjaExpr ParseAnd()
    {
        var line = Current.Line;
        var left = ParseNot();
        while (SkipName("and"))
        {
            left = new JinjaExpr.Binary("and", left, ParseNot(), line);
        }

        return left;
    }

    private JinjaExpr ParseNot()
    {
        var line = Current.Line;
        if (SkipName("not"))
        {
            if (++_nesting > MaxNesting)
            {
                throw Fail("expression nested too deeply");
            }

            try
            {
                return new JinjaExpr.Unary("not", ParseNot(), line);
            }
            finally
            {
                _nesting--;
            }
        }

        return ParseCompare();
    }

    private JinjaExpr ParseCompare()
    {
        var line = Current.Line;
        var first = ParseMath1();
        var rest = new List<KeyValuePair<string, JinjaExpr>>();
        while (true)
        {
            var token = Current;
            if (token.Kind == JinjaTokenKind.Operator && token.Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
            {
                _index++;
                rest.Add(new(token.Text, ParseMath1()));
            }
            else if (token.IsName("in"))
            {
                _index++;
                rest.Add(new("in", ParseMath1()));
            }
            else if (token.IsName("not") && _tokens[_index + 1].IsName("in"))
            {
                _index += 2;
                rest.Add(new("notin", ParseMath1()));
            }
            else
            {
                break;
            }
        }

        return rest.Count == 0 ? first : new JinjaExpr.Compare(first, rest, line);
    }

    private JinjaExpr ParseMath1()
    {
        var line = Current.Line;
        var left = ParseConcat();
        while (Current.Kind == JinjaTokenKind.Operator && Current.Text is "+" or "-")
        {
            var op = Next().Text;
            left = new JinjaExpr.Binary(op, left, ParseConcat(), line);
        }

        return left;
    }

    private JinjaExpr ParseConcat()
    {
        var line = Current.Line;
        var first = ParseMath2();
        if (!Current.IsOperator("~"))
        {
            return first;
        }

        var items = new List<JinjaExpr> { first };
        while (SkipOperator("~"))
        {
            items.Add(ParseMath2());
        }

        return new JinjaExpr.Concat(items, line);
    }

    private JinjaExpr ParseMath2()
    {
        var line = Current.Line;
        var left = ParsePow();
        while (Current.Kind == JinjaTokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            var op = Next().Text;
            left = new JinjaExpr.Binary(op, left, ParsePow(), line);
        }

        return left;
    }

    private JinjaExpr ParsePow()
    {
        var line = Current.Line;
        var left = ParseUnary(withFilter: true);
        while (SkipOperator("**"))
        {
            left = new JinjaExpr.Binary("**", left, ParseUnary(withFilter: true), line);
        }

        return left;
    }

    private JinjaExpr ParseUnary(bool withFilter)
    {
        var line = Current.Line;
        JinjaExpr node;
        if (Current.Kind == JinjaTokenKind.Operator && Current.Text is "-" or "+")
        {
            var op = Next().Text;
            if (++_nesting > MaxNesting)
            {
                throw Fail("expression nested too deeply");
            }

            try
            {
                node = new JinjaExpr.Unary(op, ParseUnary(withFilter: false), line);
            }
            finally
            {
                _nesting--;
            }
        }
        else
        {
            node = ParsePostfix(ParsePrimary());
        }

        return withFilter ? ParseFilterExpr(node) : node;
    }

    private JinjaExpr ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case JinjaTokenKind.Name:
                _index++;
                return token.Text switch
                {
                    "true" or "True" => new JinjaExpr.Literal(true, token.Line),
                    "false" or "False" => new JinjaExpr.Literal(false, token.Line),
                    "none" or "None" => new JinjaExpr.Literal(null, token.Line),
                    _ => new JinjaExpr.Name(token.Text, token.Line),
                };
            case JinjaTokenKind.String:
                {
                    _index++;
                    var text = token.Text;
                    while (Current.Kind == JinjaTokenKind.String)
                    {
                        text += Next().Text;
                    }

                    return new JinjaExpr.Literal(text, token.Line);
                }

            case JinjaTokenKind.Integer:
                _index++;
                return long.TryParse(token.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var integer)
                    ? new JinjaExpr.Literal(integer, token.Line)
                    : throw new JinjaSyntaxException($"integer literal {token.Text} is too large", token.Line);
            case JinjaTokenKind.Float:
                _index++;
                return new JinjaExpr.Literal(double.Parse(token.Text, NumberStyles.Float, CultureInfo.InvariantCulture), token.Line);
            case JinjaTokenKind.Operator when token.Text == "(":
                {
                    _index++;
                    var inner = ParseTuple(withCondExpr: true, explicitParentheses: true);
                    Expect(JinjaTokenKind.Operator, ")");
                    return inner;
                }

            case JinjaTokenKind.Operator when token.Text == "[":
                {
                    _index++;
                    var items = new List<JinjaExpr>();
                    while (!SkipOperator("]"))
                    {
                        if (items.Count > 0)
                        {
                            Expect(JinjaTokenKind.Operator, ",");
                            if (SkipOperator("]"))
                            {
                                break;
                            }
                        }

                        items.Add(ParseExpression(withCondExpr: true));
                    }

                    return new JinjaExpr.ListLiteral(items, token.Line);
                }

            case JinjaTokenKind.Operator when token.Text == "{":
                {
                    _index++;
                    var items = new List<KeyValuePair<JinjaExpr, JinjaExpr>>();
                    while (!SkipOperator("}"))
                    {
                        if (items.Count > 0)
                        {
                            Expect(JinjaTokenKind.Operator, ",");
                            if (SkipOperator("}"))
                            {
                                break;
                            }
                        }

                        var key = ParseExpression(withCondExpr: true);
                        Expect(JinjaTokenKind.Operator, ":");
                        items.Add(new(key, ParseExpression(withCondExpr: true)));
                    }

                    return new JinjaExpr.DictLiteral(items, token.Line);
                }

            default:
                throw Fail($"unexpected {token.Describe()}");
        }
    }

    private JinjaExpr ParsePostfix(JinjaExpr node)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("."))
            {
                _index++;
                var attribute = Current;
                if (attribute.Kind == JinjaTokenKind.Name)
                {
                    _index++;
                    node = new JinjaExpr.GetAttr(node, attribute.Text, token.Line);
                }
                else if (attribute.Kind == JinjaTokenKind.Integer)
                {
                    _index++;
                    node = new JinjaExpr.GetItem(node, new JinjaExpr.Literal(long.Parse(attribute.Text, CultureInfo.InvariantCulture), attribute.Line), token.Line);
                }
                else
                {
                    throw Fail("expected name or number after '.'");
                }
            }
            else if (token.IsOperator("["))
            {
                _index++;
                node = ParseSubscript(node, token.Line);
            }
            else if (token.IsOperator("("))
            {
                node = new JinjaExpr.Call(node, ParseCallArguments(), token.Line);
            }
            else
            {
                return node;
            }
        }
    }

    private JinjaExpr ParseSubscript(JinjaExpr target, int line)
    {
        JinjaExpr? start = null;
        if (!Current.IsOperator(":"))
        {
            start = ParseExpression(withCondExpr: true);
            if (SkipOperator("]"))
            {
                return new JinjaExpr.GetItem(target, start, line);
            }

            if (Current.IsOperator(","))
            {
                throw Fail("tuple subscripts are not supported");
            }
        }

        Expect(JinjaTokenKind.Operator, ":");
        JinjaExpr? stop = null;
        JinjaExpr? step = null;
        if (!Current.IsOperator("]") && !Current.IsOperator(":"))
        {
            stop = ParseExpression(withCondExpr: true);
        }

        if (SkipOperator(":") && !Current.IsOperator("]"))
        {
            step = ParseExpression(withCondExpr: true);
        }

        Expect(JinjaTokenKind.Operator, "]");
        return new JinjaExpr.Slice(target, start, stop, step, line);
    }

    private JinjaArguments ParseCallArguments()
    {
        Expect(JinjaTokenKind.Operator, "(");
        var positional = new List<JinjaExpr>();
        var named = new List<KeyValuePair<string, JinjaExpr>>();
        var first = true;
        while (!SkipOperator(")"))
        {
            if (!first)
            {
                Expect(JinjaTokenKind.Operator, ",");
                if (SkipOperator(")"))
                {
                    break;
                }
            }

            first = false;
            if (Current.IsOperator("*") || Current.IsOperator("**"))
            {
                throw Fail("*args and **kwargs in calls are not supported");
            }

            if (Current.Kind == JinjaTokenKind.Name && _tokens[_index + 1].IsOperator("="))
            {
                var key = Next().Text;
                _index++;
                named.Add(new(key, ParseExpression(withCondExpr: true)));
            }
            else
            {
                if (named.Count > 0)
                {
                    throw Fail("positional argument follows keyword argument");
                }

                positional.Add(ParseExpression(withCondExpr: true));
            }
        }

        return new JinjaArguments(positional, named);
    }

    private JinjaExpr ParseFilterExpr(JinjaExpr node)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
            {
                node = ParseFilterChain(node);
            }
            else if (Current.IsName("is"))
            {
                node = ParseTest(node);
            }
            else if (Current.IsOperator("("))
            {
                var line = Current.Line;
                node = new JinjaExpr.Call(node, ParseCallArguments(), line);
            }
            else
            {
                return node;
            }
        }
    }

    private JinjaExpr ParseFilterChain(JinjaExpr? node)
    {
        // After a value (and in a block set) the chain starts at '|'; a filter block's first filter has none.
        if (node is not null || Current.IsOperator("|"))
        {
            Expect(JinjaTokenKind.Operator, "|");
        }

        do
        {
            var line = Current.Line;
            var name = ExpectName();
            if (!JinjaRenderer.FilterNames.Contains(name))
            {
                throw new JinjaSyntaxException($"no filter named '{name}'", line);
            }

            var arguments = Current.IsOperator("(") ? ParseCallArguments() : JinjaArguments.None;
            node = new JinjaExpr.Filter(node, name, arguments, line);
        }
        while (SkipOperator("|"));

        return node;
    }

    private JinjaExpr.Test ParseTest(JinjaExpr node)
    {
        var line = Current.Line;
        Expect(JinjaTokenKind.Name, "is");
        var negated = SkipName("not");
        var name = ExpectName();
        if (!JinjaRenderer.TestNames.Contains(name))
        {
            throw new JinjaSyntaxException($"no test named '{name}'", line);
        }

        var arguments = JinjaArguments.None;
        var token = Current;
        if (token.IsOperator("("))
        {
            arguments = ParseCallArguments();
        }
        else if ((token.Kind is JinjaTokenKind.Name or JinjaTokenKind.String or JinjaTokenKind.Integer or JinjaTokenKind.Float
                || token.IsOperator("[") || token.IsOperator("{"))
            && !token.IsName("else") && !token.IsName("or") && !token.IsName("and") && !token.IsName("if"))
        {
            if (token.IsName("is"))
            {
                throw Fail("you cannot chain multiple tests with is");
            }

            arguments = new JinjaArguments([ParsePostfix(ParsePrimary())], []);
        }

        return new JinjaExpr.Test(node, name, arguments, negated, line);
    }
}
