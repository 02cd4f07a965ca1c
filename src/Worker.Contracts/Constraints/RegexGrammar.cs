using System.Globalization;
using System.Text;

namespace Inference.Worker.Constraints;

/// <summary>
/// Translates a regular expression (the common subset of Python's and ECMAScript's syntax) into a GBNF expression:
/// literals and escapes (\d \w \s and their negations, \n \t \xHH \uHHHH, escaped metacharacters), classes with
/// ranges and negation, <c>.</c> (any character but newline), groups (capturing, <c>(?:)</c> and named), <c>|</c>,
/// and the quantifiers <c>* + ? {m} {m,} {m,n}</c> (lazy forms match the same strings). <c>^</c> and <c>$</c> are
/// accepted only at the ends. Backreferences, lookaround, word boundaries and Unicode properties are refused.
/// </summary>
public sealed class RegexGrammar
{
    private const int MaxRepeat = 100_000;

    private static readonly int[] Digits = ['0', '9'];
    private static readonly int[] Word = ['0', '9', 'A', 'Z', '_', '_', 'a', 'z'];
    private static readonly int[] Space = ['\t', '\r', ' ', ' '];

    private readonly string _pattern;
    private readonly bool _jsonString;
    private int _pos;

    private RegexGrammar(string pattern, bool jsonString)
    {
        _pattern = pattern;
        _jsonString = jsonString;
    }

    /// <summary>A GBNF grammar whose root matches exactly the strings the whole pattern matches.</summary>
    public static string ToGbnf(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        (string expression, _, _) = new RegexGrammar(pattern, jsonString: false).Translate();
        return "root ::= " + expression + "\n";
    }

    /// <summary>
    /// A GBNF expression for the content of a JSON string (between the quotes, escapes as JSON writes them) whose
    /// value matches <paramref name="pattern"/> as JSON Schema's pattern does: anywhere, unless anchored.
    /// </summary>
    internal static string ToJsonStringContent(string pattern, string anyChar)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        (string expression, bool start, bool end) = new RegexGrammar(pattern, jsonString: true).Translate();
        return (start ? string.Empty : anyChar + "* ") + expression + (end ? string.Empty : " " + anyChar + "*");
    }

    private (string Expression, bool AnchoredStart, bool AnchoredEnd) Translate()
    {
        bool start = _pattern.StartsWith('^');
        if (start)
        {
            _pos = 1;
        }

        string body = Alternatives();
        bool end = false;
        if (_pos < _pattern.Length && _pattern[_pos] == '$' && _pos == _pattern.Length - 1)
        {
            end = true;
            _pos++;
        }

        if (_pos < _pattern.Length)
        {
            throw Error(_pattern[_pos] == ')' ? "unbalanced ')'" : $"'{_pattern[_pos]}' is not supported here");
        }

        return ("(" + body + ")", start, end);
    }

    private GrammarException Error(string message) =>
        new($"regex: {message} (at position {_pos.ToString(CultureInfo.InvariantCulture)})");

    private bool AtEnd => _pos >= _pattern.Length;

    private string Alternatives()
    {
        var options = new List<string> { Sequence() };
        while (!AtEnd && _pattern[_pos] == '|')
        {
            _pos++;
            options.Add(Sequence());
        }

        return options.Count == 1 ? options[0] : "(" + string.Join(" | ", options) + ")";
    }

    private string Sequence()
    {
        var items = new List<string>();
        while (!AtEnd && _pattern[_pos] is not '|' and not ')')
        {
            if (_pattern[_pos] == '$' && _pos == _pattern.Length - 1)
            {
                break;
            }

            string atom = Atom();
            items.Add(Quantified(atom));
        }

        return items.Count == 0 ? "\"\"" : string.Join(" ", items);
    }

    private string Quantified(string atom)
    {
        if (AtEnd)
        {
            return atom;
        }

        string? suffix = _pattern[_pos] switch
        {
            '*' => "*",
            '+' => "+",
            '?' => "?",
            _ => null,
        };
        if (suffix is not null)
        {
            _pos++;
        }
        else if (_pattern[_pos] == '{')
        {
            suffix = Braces();
        }

        if (suffix is null)
        {
            return atom;
        }

        if (!AtEnd && _pattern[_pos] == '?')
        {
            _pos++;
        }
        else if (!AtEnd && _pattern[_pos] == '+')
        {
            throw Error("possessive quantifiers are not supported");
        }

        if (!AtEnd && _pattern[_pos] is '*' or '+' or '{')
        {
            throw Error("a quantifier cannot follow another");
        }

        return "(" + atom + ")" + suffix;
    }

    // {m}, {m,} or {m,n}; a '{' that does not start one is a literal, as in Python.
    private string? Braces()
    {
        int save = _pos;
        _pos++;
        int? min = Count();
        int? max = min;
        if (!AtEnd && _pattern[_pos] == ',')
        {
            _pos++;
            max = Count();
            if (max is null)
            {
                max = -1;
            }
        }

        if (min is null || AtEnd || _pattern[_pos] != '}')
        {
            _pos = save;
            return null;
        }

        _pos++;
        if (max != -1 && max < min)
        {
            throw Error($"repetition {{{min},{max}}} has its bounds reversed");
        }

        return max == -1 ? $"{{{min},}}" : max == min ? $"{{{min}}}" : $"{{{min},{max}}}";
    }

    private int? Count()
    {
        int begin = _pos;
        while (!AtEnd && char.IsAsciiDigit(_pattern[_pos]))
        {
            _pos++;
        }

        if (_pos == begin)
        {
            return null;
        }

        if (!int.TryParse(_pattern.AsSpan(begin, _pos - begin), CultureInfo.InvariantCulture, out int n) || n > MaxRepeat)
        {
            throw Error($"repetition counts above {MaxRepeat:N0} are not supported");
        }

        return n;
    }

    private string Atom()
    {
        char c = _pattern[_pos];
        switch (c)
        {
            case '(':
                _pos++;
                if (!AtEnd && _pattern[_pos] == '?')
                {
                    _pos++;
                    if (!AtEnd && _pattern[_pos] == ':')
                    {
                        _pos++;
                    }
                    else if (!AtEnd && _pattern[_pos] == 'P' && _pos + 1 < _pattern.Length && _pattern[_pos + 1] == '<')
                    {
                        SkipGroupName(_pos + 2);
                    }
                    else if (!AtEnd && _pattern[_pos] == '<' && _pos + 1 < _pattern.Length && _pattern[_pos + 1] is not '=' and not '!')
                    {
                        SkipGroupName(_pos + 1);
                    }
                    else
                    {
                        throw Error("lookaround and inline flags are not supported");
                    }
                }

                string inner = Alternatives();
                if (AtEnd || _pattern[_pos] != ')')
                {
                    throw Error("missing ')'");
                }

                _pos++;
                return "(" + inner + ")";
            case '[':
                return Set(ClassBody());
            case '.':
                _pos++;
                return Set(CharRanges.Normalize([('\n', '\n')], negated: true));
            case '\\':
                return Set(Escape(inClass: false));
            case '^' or '$':
                throw Error($"'{c}' is supported only at the start ('^') or end ('$') of the pattern");
            case '*' or '+' or '?':
                throw Error($"'{c}' has nothing to repeat");
            default:
                int cp = char.ConvertToUtf32(_pattern, _pos);
                _pos += char.IsSurrogatePair(_pattern, _pos) ? 2 : 1;
                return Set([cp, cp]);
        }
    }

    private void SkipGroupName(int from)
    {
        int close = _pattern.IndexOf('>', from);
        if (close < 0)
        {
            throw Error("unterminated group name");
        }

        _pos = close + 1;
    }

    private int[] ClassBody()
    {
        _pos++;
        bool negated = !AtEnd && _pattern[_pos] == '^';
        if (negated)
        {
            _pos++;
        }

        var ranges = new List<(int, int)>();
        bool first = true;
        while (true)
        {
            if (AtEnd)
            {
                throw Error("missing ']'");
            }

            if (_pattern[_pos] == ']' && !first)
            {
                _pos++;
                break;
            }

            first = false;
            int[] lo = ClassAtom();
            if (lo.Length == 2 && lo[0] == lo[1] && _pos + 1 < _pattern.Length && _pattern[_pos] == '-' && _pattern[_pos + 1] != ']')
            {
                _pos++;
                int[] hi = ClassAtom();
                if (hi.Length != 2 || hi[0] != hi[1])
                {
                    throw Error("a class shorthand cannot end a range");
                }

                if (hi[0] < lo[0])
                {
                    throw Error("character range is reversed");
                }

                ranges.Add((lo[0], hi[0]));
                continue;
            }

            for (int i = 0; i < lo.Length; i += 2)
            {
                ranges.Add((lo[i], lo[i + 1]));
            }
        }

        return CharRanges.Normalize(ranges, negated);
    }

    private int[] ClassAtom()
    {
        if (_pattern[_pos] == '\\')
        {
            return Escape(inClass: true);
        }

        if (_pattern[_pos] == '[' && _pos + 1 < _pattern.Length && _pattern[_pos + 1] == ':')
        {
            throw Error("POSIX classes ([:alpha:]) are not supported");
        }

        int cp = char.ConvertToUtf32(_pattern, _pos);
        _pos += char.IsSurrogatePair(_pattern, _pos) ? 2 : 1;
        return [cp, cp];
    }

    // An escape as ranges (a single character is [cp, cp]).
    private int[] Escape(bool inClass)
    {
        _pos++;
        if (AtEnd)
        {
            throw Error("dangling '\\'");
        }

        char e = _pattern[_pos++];
        switch (e)
        {
            case 'd':
                return Digits;
            case 'D':
                return Complement(Digits);
            case 'w':
                return Word;
            case 'W':
                return Complement(Word);
            case 's':
                return Space;
            case 'S':
                return Complement(Space);
            case 'n':
                return ['\n', '\n'];
            case 'r':
                return ['\r', '\r'];
            case 't':
                return ['\t', '\t'];
            case 'f':
                return ['\f', '\f'];
            case 'v':
                return ['\v', '\v'];
            case '0':
                return [0, 0];
            case 'b' when inClass:
                return ['\b', '\b'];
            case 'x':
                return Hex(2);
            case 'u':
                return Hex(4);
            case 'b' or 'B':
                throw Error("word boundaries (\\b, \\B) are not supported");
            case 'p' or 'P':
                throw Error("Unicode properties (\\p{...}) are not supported");
            case 'A' or 'Z' or 'z' or 'G':
                throw Error($"the anchor \\{e} is not supported; use ^ and $ at the ends");
            case >= '1' and <= '9':
                throw Error("backreferences are not supported");
            default:
                if (char.IsAsciiLetterOrDigit(e))
                {
                    throw Error($"unknown escape '\\{e}'");
                }

                return [e, e];
        }
    }

    private int[] Hex(int digits)
    {
        if (_pos + digits > _pattern.Length
            || !int.TryParse(_pattern.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int cp))
        {
            throw Error($"expected {digits} hex digits");
        }

        _pos += digits;
        return [cp, cp];
    }

    private static int[] Complement(int[] ranges)
    {
        var list = new List<(int, int)>();
        for (int i = 0; i < ranges.Length; i += 2)
        {
            list.Add((ranges[i], ranges[i + 1]));
        }

        return CharRanges.Normalize(list, negated: true);
    }

    // The characters as a GBNF expression; inside a JSON string, each as JSON writes it.
    private string Set(int[] ranges)
    {
        if (!_jsonString)
        {
            return ranges.Length == 2 && ranges[0] == ranges[1] ? Gbnf.Literal(char.ConvertFromUtf32(ranges[0])) : Gbnf.Class(ranges);
        }

        var plain = new List<(int, int)>();
        var escaped = new List<string>();
        for (int i = 0; i < ranges.Length; i += 2)
        {
            int lo = ranges[i];
            int hi = ranges[i + 1];
            for (int cp = lo; cp <= Math.Min(hi, 0x1F); cp++)
            {
                escaped.Add(cp switch
                {
                    '\b' => "\\b",
                    '\f' => "\\f",
                    '\n' => "\\n",
                    '\r' => "\\r",
                    '\t' => "\\t",
                    _ => "\\u" + cp.ToString("x4", CultureInfo.InvariantCulture),
                });
            }

            lo = Math.Max(lo, 0x20);
            if (lo > hi)
            {
                continue;
            }

            foreach (int special in new[] { '"', '\\' })
            {
                if (lo <= special && special <= hi)
                {
                    escaped.Add("\\" + (char)special);
                }
            }

            Add(plain, lo, hi, '"');
        }

        var options = new List<string>();
        int[] safe = CharRanges.Normalize(Without(plain, '\\'), negated: false);
        if (safe.Length > 0)
        {
            options.Add(Gbnf.Class(safe));
        }

        foreach (string text in escaped)
        {
            options.Add(Gbnf.Literal(text));
        }

        if (options.Count == 0)
        {
            throw Error("a character class matches nothing");
        }

        return options.Count == 1 ? options[0] : "(" + string.Join(" | ", options) + ")";
    }

    private static void Add(List<(int, int)> list, int lo, int hi, int except)
    {
        if (except < lo || except > hi)
        {
            list.Add((lo, hi));
            return;
        }

        if (lo < except)
        {
            list.Add((lo, except - 1));
        }

        if (except < hi)
        {
            list.Add((except + 1, hi));
        }
    }

    private static List<(int, int)> Without(List<(int, int)> ranges, int except)
    {
        var result = new List<(int, int)>();
        foreach ((int lo, int hi) in ranges)
        {
            Add(result, lo, hi, except);
        }

        return result;
    }
}
