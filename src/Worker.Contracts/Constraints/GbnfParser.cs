using System.Globalization;

namespace Inference.Worker.Constraints;

/// <summary>
/// Parses llama.cpp's GBNF: <c>name ::= alternatives</c> rules (a rule's body runs to the next <c>name ::=</c>),
/// string literals, character classes (<c>[a-z]</c>, <c>[^"\\]</c>), <c>.</c> (any character), groups, <c>|</c>,
/// <c>* + ?</c> and <c>{m}</c>, <c>{m,}</c>, <c>{m,n}</c>, and <c>#</c> comments. Escapes: \n \r \t \\ \" \] \[ \- \xHH
/// \uHHHH \UHHHHHHHH. Errors name the line and column.
/// </summary>
internal sealed class GbnfParser
{
    private const int MaxRepeat = 100_000;
    private readonly string _text;
    private int _pos;

    private GbnfParser(string text)
    {
        _text = text;
    }

    public static List<KeyValuePair<string, GrammarNode>> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new GbnfParser(text);
        var rules = new List<KeyValuePair<string, GrammarNode>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        parser.SkipSpace();
        while (!parser.AtEnd)
        {
            int at = parser._pos;
            string name = parser.Name() ?? throw parser.Error(at, "expected a rule name");
            parser.SkipSpace();
            if (!parser.TryTake("::="))
            {
                throw parser.Error(parser._pos, $"expected '::=' after rule name '{name}'");
            }

            if (!seen.Add(name))
            {
                throw parser.Error(at, $"rule '{name}' is defined twice");
            }

            rules.Add(new(name, parser.Alternatives(topLevel: true)));
            parser.SkipSpace();
        }

        if (rules.Count == 0)
        {
            throw new GrammarException("the grammar has no rules; it needs at least 'root ::= ...'");
        }

        return rules;
    }

    private bool AtEnd => _pos >= _text.Length;

    private GrammarNode Alternatives(bool topLevel)
    {
        var options = new List<GrammarNode> { Sequence(topLevel) };
        while (true)
        {
            SkipSpace();
            if (!TryTake("|"))
            {
                break;
            }

            options.Add(Sequence(topLevel));
        }

        return options.Count == 1 ? options[0] : new GrammarNode.Alternatives(options);
    }

    private GrammarNode Sequence(bool topLevel)
    {
        var items = new List<GrammarNode>();
        while (true)
        {
            SkipSpace();
            if (AtEnd || Peek is '|' or ')' || (topLevel && AtRuleStart()))
            {
                break;
            }

            GrammarNode item = Primary();
            item = Postfix(item);
            items.Add(item);
        }

        return items.Count == 1 ? items[0] : new GrammarNode.Sequence(items);
    }

    private GrammarNode Primary()
    {
        int at = _pos;
        char c = Peek;
        switch (c)
        {
            case '"':
                _pos++;
                var chars = new List<GrammarNode>();
                while (true)
                {
                    if (AtEnd)
                    {
                        throw Error(at, "unterminated string literal");
                    }

                    if (Peek == '"')
                    {
                        _pos++;
                        break;
                    }

                    int cp = Char(at);
                    chars.Add(new GrammarNode.Chars([cp, cp]));
                }

                return chars.Count == 1 ? chars[0] : new GrammarNode.Sequence(chars);
            case '[':
                return CharClass();
            case '.':
                _pos++;
                return new GrammarNode.Chars([0, 0x10FFFF]);
            case '(':
                _pos++;
                GrammarNode inner = Alternatives(topLevel: false);
                SkipSpace();
                if (!TryTake(")"))
                {
                    throw Error(at, "unclosed '('");
                }

                return inner;
            default:
                string name = Name() ?? throw Error(at, $"unexpected character '{c}'");
                return new GrammarNode.Reference(name, at);
        }
    }

    private GrammarNode Postfix(GrammarNode item)
    {
        while (!AtEnd)
        {
            int at = _pos;
            switch (Peek)
            {
                case '*':
                    _pos++;
                    item = new GrammarNode.Repeat(item, 0, -1);
                    continue;
                case '+':
                    _pos++;
                    item = new GrammarNode.Repeat(item, 1, -1);
                    continue;
                case '?':
                    _pos++;
                    item = new GrammarNode.Repeat(item, 0, 1);
                    continue;
                case '{':
                    _pos++;
                    int min = Number(at);
                    int max = min;
                    if (TryTake(","))
                    {
                        max = Peek == '}' ? -1 : Number(at);
                    }

                    if (!TryTake("}"))
                    {
                        throw Error(at, "expected '}' closing a repetition");
                    }

                    if (max != -1 && max < min)
                    {
                        throw Error(at, $"repetition {{{min},{max}}} has max < min");
                    }

                    item = new GrammarNode.Repeat(item, min, max);
                    continue;
                default:
                    return item;
            }
        }

        return item;
    }

    private GrammarNode.Chars CharClass()
    {
        int at = _pos;
        _pos++; // [
        bool negated = TryTake("^");
        var ranges = new List<(int Lo, int Hi)>();
        while (true)
        {
            if (AtEnd)
            {
                throw Error(at, "unterminated character class");
            }

            if (Peek == ']')
            {
                _pos++;
                break;
            }

            int lo = Char(at);
            int hi = lo;
            if (Peek == '-' && _pos + 1 < _text.Length && _text[_pos + 1] != ']')
            {
                _pos++;
                hi = Char(at);
                if (hi < lo)
                {
                    throw Error(at, $"character range is reversed (U+{lo:X4}-U+{hi:X4})");
                }
            }

            ranges.Add((lo, hi));
        }

        return new GrammarNode.Chars(CharRanges.Normalize(ranges, negated));
    }

    // One character of a literal or class, escapes decoded, as a code point.
    private int Char(int start)
    {
        if (AtEnd)
        {
            throw Error(start, "unexpected end of grammar");
        }

        char c = _text[_pos++];
        if (c != '\\')
        {
            if (char.IsHighSurrogate(c) && !AtEnd && char.IsLowSurrogate(_text[_pos]))
            {
                return char.ConvertToUtf32(c, _text[_pos++]);
            }

            return c;
        }

        if (AtEnd)
        {
            throw Error(start, "dangling '\\'");
        }

        char e = _text[_pos++];
        return e switch
        {
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'x' => Hex(2, start),
            'u' => Hex(4, start),
            'U' => Hex(8, start),
            '\\' or '"' or '[' or ']' or '-' or '^' or '/' or '.' or '*' or '+' or '?' or '(' or ')' or '|' or '{' or '}' => e,
            _ => throw Error(_pos - 2, $"unknown escape '\\{e}'"),
        };
    }

    private int Hex(int digits, int start)
    {
        if (_pos + digits > _text.Length
            || !int.TryParse(_text.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int value)
            || value > 0x10FFFF)
        {
            throw Error(start, $"expected {digits} hex digits");
        }

        _pos += digits;
        return value;
    }

    private int Number(int start)
    {
        int begin = _pos;
        while (!AtEnd && char.IsAsciiDigit(Peek))
        {
            _pos++;
        }

        if (begin == _pos || !int.TryParse(_text.AsSpan(begin, _pos - begin), CultureInfo.InvariantCulture, out int n) || n > MaxRepeat)
        {
            throw Error(start, $"expected a repetition count from 0 to {MaxRepeat}");
        }

        return n;
    }

    private string? Name()
    {
        int begin = _pos;
        while (!AtEnd && (char.IsAsciiLetterOrDigit(Peek) || Peek is '_' or '-'))
        {
            _pos++;
        }

        return _pos == begin ? null : _text[begin.._pos];
    }

    // Whether a new rule ("name ::=") starts here, which ends the current rule's body.
    private bool AtRuleStart()
    {
        int save = _pos;
        bool result = Name() is not null;
        if (result)
        {
            SkipSpace();
            result = _text.AsSpan(_pos).StartsWith("::=", StringComparison.Ordinal);
        }

        _pos = save;
        return result;
    }

    private char Peek => _pos < _text.Length ? _text[_pos] : '\0';

    private bool TryTake(string token)
    {
        if (_text.AsSpan(_pos).StartsWith(token, StringComparison.Ordinal))
        {
            _pos += token.Length;
            return true;
        }

        return false;
    }

    private void SkipSpace()
    {
        while (!AtEnd)
        {
            char c = Peek;
            if (c == '#')
            {
                while (!AtEnd && Peek != '\n')
                {
                    _pos++;
                }
            }
            else if (char.IsWhiteSpace(c))
            {
                _pos++;
            }
            else
            {
                return;
            }
        }
    }

    private GrammarException Error(int at, string message)
    {
        int line = 1;
        int column = 1;
        for (int i = 0; i < at && i < _text.Length; i++)
        {
            if (_text[i] == '\n')
            {
                line++;
                column = 1;
            }
            else
            {
                column++;
            }
        }

        return new GrammarException($"grammar line {line}, column {column}: {message}");
    }
}
