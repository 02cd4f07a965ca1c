using System.Globalization;
using System.Text;

namespace Inference.Worker.Tokenization.Jinja;

/// <summary>
/// Splits template text into tokens the way jinja2 3.1's lexer does with trim_blocks and lstrip_blocks on
/// (transformers' settings): newlines normalized to \n and one trailing newline dropped (keep_trailing_newline
/// off); "-" strips whitespace on its side; "+" turns lstrip off; a block or comment tag eats the one newline
/// after it; lstrip removes spaces and tabs between a line start and a block or comment tag.
/// </summary>
internal sealed class JinjaLexer
{
    private static readonly string[] Operators =
    [
        "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", ";",
    ];

    private readonly string _source;
    private readonly List<int> _lineStarts = [0];
    private readonly List<JinjaToken> _tokens = [];
    private int _pos;

    private JinjaLexer(string source)
    {
        _source = source;
        for (var i = 0; i < source.Length; i++)
        {
            if (source[i] == '\n')
            {
                _lineStarts.Add(i + 1);
            }
        }
    }

    public static List<JinjaToken> Tokenize(string text)
    {
        var source = text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        if (source.EndsWith('\n'))
        {
            source = source[..^1];
        }

        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private int LineAt(int pos)
    {
        var index = _lineStarts.BinarySearch(pos);
        return (index >= 0 ? index : ~index - 1) + 1;
    }

    private void Run()
    {
        var lineStarting = true;
        while (_pos < _source.Length)
        {
            var tag = FindTagStart(_pos);
            if (tag < 0)
            {
                Add(JinjaTokenKind.Data, _source[_pos..], _pos);
                break;
            }

            var kind = _source[tag + 1];
            var sign = tag + 2 < _source.Length && _source[tag + 2] is '-' or '+' ? _source[tag + 2] : '\0';
            var text = _source[_pos..tag];
            if (sign == '-')
            {
                text = TrimEndPython(text);
            }
            else if (sign != '+' && kind != '{')
            {
                var lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && IsSpacesAndTabs(text, lineStart))
                {
                    text = text[..lineStart];
                }
            }

            if (text.Length > 0)
            {
                Add(JinjaTokenKind.Data, text, _pos);
            }

            var tagLine = LineAt(tag);
            _pos = tag + 2 + (sign != '\0' ? 1 : 0);
            if (kind == '#')
            {
                lineStarting = SkipComment(tagLine);
            }
            else if (kind == '{')
            {
                _tokens.Add(new JinjaToken(JinjaTokenKind.VariableBegin, "{{", tagLine));
                lineStarting = LexInside(variable: true, tagLine);
            }
            else
            {
                _tokens.Add(new JinjaToken(JinjaTokenKind.BlockBegin, "{%", tagLine));
                lineStarting = LexInside(variable: false, tagLine);
            }
        }

        _tokens.Add(new JinjaToken(JinjaTokenKind.End, string.Empty, LineAt(_source.Length)));
    }

    private int FindTagStart(int from)
    {
        var i = from;
        while (true)
        {
            i = _source.IndexOf('{', i);
            if (i < 0 || i + 1 >= _source.Length)
            {
                return -1;
            }

            if (_source[i + 1] is '{' or '%' or '#')
            {
                return i;
            }

            i++;
        }
    }

    // Returns whether what the tag consumed ended with a newline (jinja2's line_starting, which lstrip needs).
    private bool SkipComment(int line)
    {
        var end = _source.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0)
        {
            throw new JinjaSyntaxException("missing end of comment tag", line);
        }

        var before = end > _pos ? _source[end - 1] : '\0';
        _pos = end + 2;
        return FinishBlockEnd(before);
    }

    private bool FinishBlockEnd(char before)
    {
        if (before == '-')
        {
            var start = _pos;
            while (_pos < _source.Length && JinjaValues.IsPythonSpace(_source[_pos]))
            {
                _pos++;
            }

            return _pos > start && _source[_pos - 1] == '\n';
        }

        if (before != '+' && _pos < _source.Length && _source[_pos] == '\n')
        {
            _pos++;
            return true;
        }

        return false;
    }

    private bool LexInside(bool variable, int openLine)
    {
        var depth = 0;
        while (true)
        {
            while (_pos < _source.Length && JinjaValues.IsPythonSpace(_source[_pos]))
            {
                _pos++;
            }

            if (_pos >= _source.Length)
            {
                throw new JinjaSyntaxException(variable ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'", openLine);
            }

            if (depth == 0 && TryEnd(variable, out var lineStarting))
            {
                return lineStarting;
            }

            var c = _source[_pos];
            if (char.IsAsciiLetter(c) || c == '_')
            {
                var start = _pos;
                while (_pos < _source.Length && (char.IsAsciiLetterOrDigit(_source[_pos]) || _source[_pos] == '_'))
                {
                    _pos++;
                }

                Add(JinjaTokenKind.Name, _source[start.._pos], start);
            }
            else if (char.IsAsciiDigit(c))
            {
                LexNumber();
            }
            else if (c is '\'' or '"')
            {
                LexString(c);
            }
            else
            {
                var op = Array.Find(Operators, o => string.CompareOrdinal(_source, _pos, o, 0, o.Length) == 0)
                    ?? throw new JinjaSyntaxException($"unexpected char '{c}'", LineAt(_pos));
                if (op is "(" or "[" or "{")
                {
                    depth++;
                }
                else if (op is ")" or "]" or "}")
                {
                    if (depth == 0)
                    {
                        throw new JinjaSyntaxException($"unexpected '{op}'", LineAt(_pos));
                    }

                    depth--;
                }

                Add(JinjaTokenKind.Operator, op, _pos);
                _pos += op.Length;
            }
        }
    }

    private bool TryEnd(bool variable, out bool lineStarting)
    {
        lineStarting = false;
        var close = variable ? "}}" : "%}";
        var sign = _source[_pos] is '-' or '+' ? _source[_pos] : '\0';
        var at = _pos + (sign != '\0' ? 1 : 0);
        if (string.CompareOrdinal(_source, at, close, 0, 2) != 0 || (variable && sign == '+'))
        {
            return false;
        }

        _tokens.Add(new JinjaToken(variable ? JinjaTokenKind.VariableEnd : JinjaTokenKind.BlockEnd, close, LineAt(_pos)));
        _pos = at + 2;
        if (variable)
        {
            if (sign == '-')
            {
                while (_pos < _source.Length && JinjaValues.IsPythonSpace(_source[_pos]))
                {
                    _pos++;
                }
            }

            lineStarting = _pos > 0 && _source[_pos - 1] == '\n';
            return true;
        }

        lineStarting = FinishBlockEnd(sign);
        return true;
    }

    private void LexNumber()
    {
        var start = _pos;
        SkipDigits();
        var isFloat = false;
        if (_pos + 1 < _source.Length && _source[_pos] == '.' && char.IsAsciiDigit(_source[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            SkipDigits();
        }

        if (_pos < _source.Length && _source[_pos] is 'e' or 'E')
        {
            var save = _pos;
            _pos++;
            if (_pos < _source.Length && _source[_pos] is '+' or '-')
            {
                _pos++;
            }

            if (_pos < _source.Length && char.IsAsciiDigit(_source[_pos]))
            {
                isFloat = true;
                SkipDigits();
            }
            else
            {
                _pos = save;
            }
        }

        var text = _source[start.._pos].Replace("_", string.Empty, StringComparison.Ordinal);
        Add(isFloat ? JinjaTokenKind.Float : JinjaTokenKind.Integer, text, start);
    }

    private void SkipDigits()
    {
        while (_pos < _source.Length && (char.IsAsciiDigit(_source[_pos]) || (_source[_pos] == '_' && _pos + 1 < _source.Length && char.IsAsciiDigit(_source[_pos + 1]))))
        {
            _pos++;
        }
    }

    // jinja2 decodes string literals with Python's unicode-escape codec; unknown escapes keep their backslash.
    private void LexString(char quote)
    {
        var start = _pos;
        _pos++;
        var builder = new StringBuilder();
        while (true)
        {
            if (_pos >= _source.Length)
            {
                throw new JinjaSyntaxException("unterminated string", LineAt(start));
            }

            var c = _source[_pos++];
            if (c == quote)
            {
                break;
            }

            if (c != '\\' || _pos >= _source.Length)
            {
                builder.Append(c);
                continue;
            }

            var e = _source[_pos++];
            switch (e)
            {
                case '\n': break;
                case '\\': builder.Append('\\'); break;
                case '\'': builder.Append('\''); break;
                case '"': builder.Append('"'); break;
                case 'a': builder.Append('\a'); break;
                case 'b': builder.Append('\b'); break;
                case 'f': builder.Append('\f'); break;
                case 'n': builder.Append('\n'); break;
                case 'r': builder.Append('\r'); break;
                case 't': builder.Append('\t'); break;
                case 'v': builder.Append('\v'); break;
                case 'x': builder.Append(ReadHex(2, start)); break;
                case 'u': builder.Append(ReadHex(4, start)); break;
                case 'U': builder.Append(ReadHex(8, start)); break;
                default:
                    if (e is >= '0' and <= '7')
                    {
                        var value = e - '0';
                        for (var k = 0; k < 2 && _pos < _source.Length && _source[_pos] is >= '0' and <= '7'; k++)
                        {
                            value = (value * 8) + (_source[_pos++] - '0');
                        }

                        builder.Append((char)value);
                    }
                    else
                    {
                        builder.Append('\\').Append(e);
                    }

                    break;
            }
        }

        Add(JinjaTokenKind.String, builder.ToString(), start);
    }

    private string ReadHex(int count, int stringStart)
    {
        if (_pos + count > _source.Length
            || !int.TryParse(_source.AsSpan(_pos, count), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code)
            || code > 0x10FFFF)
        {
            throw new JinjaSyntaxException("truncated \\x, \\u or \\U escape in string", LineAt(stringStart));
        }

        _pos += count;
        return code is >= 0xD800 and <= 0xDFFF ? ((char)code).ToString() : char.ConvertFromUtf32(code);
    }

    private void Add(JinjaTokenKind kind, string text, int pos) => _tokens.Add(new JinjaToken(kind, text, LineAt(pos)));

    private static string TrimEndPython(string text)
    {
        var end = text.Length;
        while (end > 0 && JinjaValues.IsPythonSpace(text[end - 1]))
        {
            end--;
        }

        return text[..end];
    }

    private static bool IsSpacesAndTabs(string text, int from)
    {
        for (var i = from; i < text.Length; i++)
        {
            if (text[i] is not (' ' or '\t'))
            {
                return false;
            }
        }

        return true;
    }
}
