using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Inference.Gateway.Api;
using Inference.Worker.Tokenization;

namespace Inference.Gateway.Serving;

/// <summary>One piece of a streamed tool call: the first piece of a call carries its id and name, later ones only arguments.</summary>
public sealed record ToolCallFragment(int Index, string? Id, string? Name, string Arguments);

/// <summary>What one piece of generated text becomes: visible content and tool-call fragments.</summary>
public readonly record struct ToolStep(string Content, IReadOnlyList<ToolCallFragment> Fragments);

/// <summary>
/// Turns one choice's generated text into content and tool calls, incrementally, so streaming and the whole
/// response agree exactly (the concatenated fragments of a call are its arguments). Shared by HTTP and gRPC.
/// <list type="bullet">
/// <item>Named function: the whole output is the arguments object (the grammar forced it).</item>
/// <item>required: the output is <c>[{"name": ..., "arguments": {...}}, ...]</c> (the grammar forced it); each
/// element's name opens a call, its arguments stream as they are decoded.</item>
/// <item>auto: the model's own format, Hermes/Qwen <c>&lt;tool_call&gt;{json}&lt;/tool_call&gt;</c> (parsed when the
/// tag closes; text around it is content) or, when the output starts with <c>{</c>, a Llama 3.x style bare
/// <c>{"name": ..., "parameters": {...}}</c> object (or array of them, Mistral's format once its [TOOL_CALLS]
/// token is skipped; kept, the marker is taken off) parsed at the end. Output that does not
/// parse as a call of a defined function stays content.</item>
/// </list>
/// Not thread-safe; one per choice.
/// </summary>
public sealed partial class ToolCallStream
{
    private const string OpenTag = "<tool_call>";
    private const string CloseTag = "</tool_call>";
    private static readonly ToolCallFragment[] NoFragments = [];
    private static readonly string[] LeadingMarkers = ["[TOOL_CALLS]", "<|python_tag|>"];

    private readonly ToolMode _mode;
    private readonly string? _named;
    private readonly HashSet<string> _defined;
    private readonly string _idSeed;
    private readonly StringBuilder _buffer = new();
    private readonly StringBuilder _content = new();
    private readonly StringBuilder _step = new(); // this Push's content
    private List<ToolCallFragment>? _fragments; // this Push's fragments, created on the first
    private readonly List<(string Id, string Name, StringBuilder Arguments)> _calls = [];
    private string _marker = string.Empty; // a leading call marker taken off the output (auto mode)
    private int _cursor; // next unread char of _buffer (required mode)
    private State _state;
    private int _depth;
    private bool _inString;
    private bool _escaped;

    private ToolCallStream(ToolMode mode, string? named, IEnumerable<string> defined, string idSeed)
    {
        _mode = mode;
        _named = named;
        _defined = [.. defined];
        _idSeed = idSeed;
        _state = mode == ToolMode.Required ? State.Open : State.Start;
    }

    private enum State
    {
        Start,
        Text,
        InTag,
        BareJson,
        Open,
        Element,
        Header,
        Arguments,
        AfterArguments,
        Done,
    }

    /// <summary>True once the output holds at least one call.</summary>
    public bool HasCalls => _calls.Count > 0;

    /// <summary>The calls so far (arguments complete once the stream is final).</summary>
    public IReadOnlyList<ChatToolCall> Calls => _calls.ConvertAll(c => new ChatToolCall(c.Id, c.Name, c.Arguments.ToString()));

    /// <summary>The content so far: null when the output is calls and nothing else but whitespace.</summary>
    public string? Content => HasCalls && string.IsNullOrWhiteSpace(_content.ToString()) ? null : _content.ToString();

    /// <summary>The stream for one choice, or null when the request has no tools in play.</summary>
    public static ToolCallStream? For(PreparedRequest prepared, int choice)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        InferenceRequest r = prepared.Request;
        if (r.ToolMode == ToolMode.None || r.Tools is not { Count: > 0 } tools)
        {
            return null;
        }

        return new ToolCallStream(r.ToolMode, r.ToolName, tools.Select(t => t.Name), $"{prepared.Id}:{choice}");
    }

    /// <summary>A stream over the given tools (tests and tools that parse outside a request).</summary>
    public static ToolCallStream Create(ToolMode mode, IEnumerable<string> functions, string idSeed, string? named = null) =>
        new(mode, named, functions, idSeed);

    /// <summary>Feeds the next piece of generated text; <paramref name="final"/> on the choice's last piece.</summary>
    public ToolStep Push(string text, bool final)
    {
        ArgumentNullException.ThrowIfNull(text);
        // Per token: nothing allocated unless the piece yields content or fragments.
        StringBuilder content = _step.Clear();
        _fragments = null;
        switch (_mode)
        {
            case ToolMode.Named:
                PushNamed(text, final);
                break;
            case ToolMode.Required:
                _buffer.Append(text);
                PushRequired();
                break;
            default:
                _buffer.Append(text);
                PushAuto(final, content);
                break;
        }

        _content.Append(content);
        IReadOnlyList<ToolCallFragment> fragments = _fragments ?? (IReadOnlyList<ToolCallFragment>)NoFragments;
        _fragments = null;
        return new ToolStep(content.Length == 0 ? string.Empty : content.ToString(), fragments);
    }

    private void PushNamed(string text, bool final)
    {
        // The whole output is the arguments; whitespace before it is dropped, whitespace after the last
        // non-space character is held (released if more follows, dropped at the end).
        _buffer.Append(text);
        if (_calls.Count == 0)
        {
            int start = 0;
            while (start < _buffer.Length && char.IsWhiteSpace(_buffer[start]))
            {
                start++;
            }

            _buffer.Remove(0, start);
            if (_buffer.Length == 0)
            {
                return;
            }

            Emit(Open(_named!));
        }

        int end = _buffer.Length;
        while (end > 0 && char.IsWhiteSpace(_buffer[end - 1]))
        {
            end--;
        }

        if (end > 0)
        {
            string args = _buffer.ToString(0, end);
            _buffer.Remove(0, end);
            _calls[0].Arguments.Append(args);
            Emit(new ToolCallFragment(0, null, null, args));
        }

        if (final)
        {
            _buffer.Clear();
        }
    }

    private void PushRequired()
    {
        while (_cursor < _buffer.Length)
        {
            char ch = _buffer[_cursor];
            switch (_state)
            {
                case State.Open:
                    _cursor++;
                    _state = ch == '[' ? State.Element : char.IsWhiteSpace(ch) ? State.Open : State.Done;
                    break;
                case State.Element:
                    if (ch == '{')
                    {
                        _state = State.Header;
                        _buffer.Remove(0, _cursor);
                        _cursor = 0;
                    }
                    else
                    {
                        _cursor++;
                        _state = ch == ']' ? State.Done : ch == ',' || char.IsWhiteSpace(ch) ? State.Element : State.Done;
                    }

                    break;
                case State.Header:
                    Match m = CallHeader().Match(_buffer.ToString());
                    if (!m.Success)
                    {
                        _cursor = _buffer.Length;
                        if (_buffer.Length > 512)
                        {
                            _state = State.Done; // not the shape the grammar forces: stop reading calls
                        }

                        return;
                    }

                    Emit(Open(m.Groups[1].Value));
                    _cursor = m.Length;
                    _state = State.Arguments;
                    _depth = 0;
                    _inString = false;
                    _escaped = false;
                    break;
                case State.Arguments:
                    int from = _cursor;
                    while (_cursor < _buffer.Length && _state == State.Arguments)
                    {
                        Track(_buffer[_cursor++]);
                    }

                    string piece = _buffer.ToString(from, _cursor - from);
                    _calls[^1].Arguments.Append(piece);
                    Emit(new ToolCallFragment(_calls.Count - 1, null, null, piece));
                    break;
                case State.AfterArguments:
                    _cursor++;
                    _state = ch == '}' ? State.Element : char.IsWhiteSpace(ch) ? State.AfterArguments : State.Done;
                    break;
                default:
                    _cursor = _buffer.Length;
                    break;
            }
        }
    }

    // JSON depth across one value, strings and escapes included; leaves Arguments when the value closes.
    private void Track(char ch)
    {
        if (_inString)
        {
            if (_escaped)
            {
                _escaped = false;
            }
            else if (ch == '\\')
            {
                _escaped = true;
            }
            else if (ch == '"')
            {
                _inString = false;
            }

            return;
        }

        switch (ch)
        {
            case '"':
                _inString = true;
                break;
            case '{' or '[':
                _depth++;
                break;
            case '}' or ']':
                if (--_depth == 0)
                {
                    _state = State.AfterArguments;
                }

                break;
        }
    }

    private void PushAuto(bool final, StringBuilder content)
    {
        while (true)
        {
            switch (_state)
            {
                case State.Start:
                    int i = 0;
                    while (i < _buffer.Length && char.IsWhiteSpace(_buffer[i]))
                    {
                        i++;
                    }

                    if (i == _buffer.Length)
                    {
                        if (final)
                        {
                            Release(content, _buffer.Length);
                        }

                        return;
                    }

                    // A call marker the detokenizer kept (skip_special_tokens false): Mistral's [TOOL_CALLS]
                    // before a JSON array, Llama 3.1's <|python_tag|> before a JSON call.
                    string rest = _buffer.ToString(i, _buffer.Length - i);
                    if (Array.Find(LeadingMarkers, m => rest.StartsWith(m, StringComparison.Ordinal)) is { } marker)
                    {
                        _marker = _buffer.ToString(0, i + marker.Length);
                        _buffer.Remove(0, i + marker.Length);
                        _state = State.BareJson;
                        break;
                    }

                    if (!final && Array.Exists(LeadingMarkers, m => m.StartsWith(rest, StringComparison.Ordinal)))
                    {
                        return; // may still become a marker
                    }

                    _state = _buffer[i] == '{' || (_buffer[i] == '[' && i + 1 < _buffer.Length && LooksLikeCallArray(i)) ? State.BareJson : State.Text;
                    if (_buffer[i] == '[' && i + 1 >= _buffer.Length && !final)
                    {
                        _state = State.Start; // "[" alone: wait for the next character to tell text from calls
                        return;
                    }

                    break;
                case State.Text:
                    string s = _buffer.ToString();
                    int tag = s.IndexOf(OpenTag, StringComparison.Ordinal);
                    if (tag >= 0)
                    {
                        if (HasCalls && string.IsNullOrWhiteSpace(s[..tag]))
                        {
                            _buffer.Remove(0, tag); // the space between two calls is not content
                        }
                        else
                        {
                            Release(content, tag);
                        }

                        _buffer.Remove(0, OpenTag.Length);
                        _state = State.InTag;
                        break;
                    }

                    // Hold back what may become the tag, and trailing whitespace (it may sit before a call).
                    int partial = PartialSuffix(s, OpenTag);
                    int keep = final ? 0 : partial + TrailingSpace(s[..^partial]);
                    if (final && HasCalls)
                    {
                        keep = TrailingSpace(s);
                    }

                    Release(content, s.Length - keep);
                    if (final)
                    {
                        _buffer.Clear();
                    }

                    return;
                case State.InTag:
                    string body = _buffer.ToString();
                    int close = body.IndexOf(CloseTag, StringComparison.Ordinal);
                    if (close < 0 && !final)
                    {
                        return;
                    }

                    string json = close < 0 ? body : body[..close];
                    if (!TryCalls(json))
                    {
                        content.Append(OpenTag).Append(json);
                        if (close >= 0)
                        {
                            content.Append(CloseTag);
                        }
                    }

                    _buffer.Remove(0, close < 0 ? body.Length : close + CloseTag.Length);
                    _state = State.Text;
                    if (close < 0)
                    {
                        return;
                    }

                    break;
                case State.BareJson:
                    if (!final)
                    {
                        return;
                    }

                    string whole = _buffer.ToString();
                    if (!TryCalls(whole))
                    {
                        content.Append(_marker).Append(whole);
                    }

                    _buffer.Clear();
                    return;
                default:
                    return;
            }
        }
    }

    private bool LooksLikeCallArray(int i)
    {
        int j = i + 1;
        while (j < _buffer.Length && char.IsWhiteSpace(_buffer[j]))
        {
            j++;
        }

        return j < _buffer.Length && _buffer[j] == '{';
    }

    private void Release(StringBuilder content, int length)
    {
        if (length > 0)
        {
            content.Append(_buffer, 0, length);
            _buffer.Remove(0, length);
        }
    }

    // Parses one call object or an array of them; every element must name a defined function.
    private bool TryCalls(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return false;
        }

        using (doc)
        {
            var parsed = new List<(string Name, string Arguments)>();
            JsonElement root = doc.RootElement;
            IEnumerable<JsonElement> items = root.ValueKind == JsonValueKind.Array ? root.EnumerateArray() : [root];
            foreach (JsonElement item in items)
            {
                if (item.ValueKind != JsonValueKind.Object
                    || !item.TryGetProperty("name", out JsonElement name) || name.ValueKind != JsonValueKind.String
                    || !_defined.Contains(name.GetString()!))
                {
                    return false;
                }

                JsonElement args = item.TryGetProperty("arguments", out JsonElement a) ? a
                    : item.TryGetProperty("parameters", out JsonElement p) ? p : default;
                string text = args.ValueKind switch
                {
                    JsonValueKind.Object => args.GetRawText(),
                    JsonValueKind.String => args.GetString()!,
                    JsonValueKind.Undefined => "{}",
                    _ => string.Empty,
                };
                if (text.Length == 0)
                {
                    return false;
                }

                parsed.Add((name.GetString()!, text));
            }

            if (parsed.Count == 0)
            {
                return false;
            }

            foreach ((string name, string arguments) in parsed)
            {
                Emit(Open(name));
                _calls[^1].Arguments.Append(arguments);
                Emit(new ToolCallFragment(_calls.Count - 1, null, null, arguments));
            }

            return true;
        }
    }

    private void Emit(ToolCallFragment fragment) => (_fragments ??= []).Add(fragment);

    private ToolCallFragment Open(string name)
    {
        int index = _calls.Count;
        string id = CallId(_idSeed, index);
        _calls.Add((id, name, new StringBuilder()));
        return new ToolCallFragment(index, id, name, string.Empty);
    }

    /// <summary>One call in OpenAI's message shape: <c>{"id", "type": "function", "function": {"name", "arguments"}}</c>.</summary>
    public static void WriteCall(Utf8JsonWriter w, string id, string name, string arguments)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("type", "function");
        w.WriteStartObject("function");
        w.WriteString("name", name);
        w.WriteString("arguments", arguments);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>A call's id: "call_" and 24 hex digits, derived from the request, choice and call index (a replayed
    /// response repeats its ids).</summary>
    public static string CallId(string seed, int index)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}:{index}"));
        return "call_" + Convert.ToHexStringLower(hash)[..24];
    }

    private static int PartialSuffix(string s, string marker)
    {
        for (int n = Math.Min(marker.Length - 1, s.Length); n > 0; n--)
        {
            if (s.AsSpan(s.Length - n).SequenceEqual(marker.AsSpan(0, n)))
            {
                return n;
            }
        }

        return 0;
    }

    private static int TrailingSpace(string s)
    {
        int n = 0;
        while (n < s.Length && char.IsWhiteSpace(s[s.Length - 1 - n]))
        {
            n++;
        }

        return n;
    }

    [GeneratedRegex("""^\{\s*"name"\s*:\s*"([A-Za-z0-9_\-]{1,64})"\s*,\s*"arguments"\s*:\s*(?=\{)""", RegexOptions.CultureInvariant)]
    private static partial Regex CallHeader();
}
