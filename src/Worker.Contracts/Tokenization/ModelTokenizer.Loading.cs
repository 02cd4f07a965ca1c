using System.Text;
using System.Text.Json;
using Inference.Worker.Loading;

namespace Inference.Worker.Tokenization;

public sealed partial class ModelTokenizer
{
    private const string TokenizerJsonFile = "tokenizer.json";
    private const string SentencePieceFile = "tokenizer.model";
    private const string TokenizerConfigFile = "tokenizer_config.json";
    private const string GenerationConfigFile = "generation_config.json";
    private const string ConfigFile = "config.json";
    private const string ChatTemplateJinjaFile = "chat_template.jinja";

    /// <summary>
    /// Loads the tokenizer of a Hugging Face model folder. tokenizer.json is used when it is byte-level BPE,
    /// otherwise tokenizer.model (SentencePiece BPE). <paramref name="chatTemplateOverride"/> is either a
    /// template family name ("llama2", "llama3", "chatml", "mistral", "zephyr") or template text replacing the declared one.
    /// Every failure is a <see cref="ModelLoadException"/> naming the file (and field) at fault.
    /// </summary>
    public static ModelTokenizer Load(string modelDir, string? chatTemplateOverride = null)
    {
        ArgumentNullException.ThrowIfNull(modelDir);
        if (!Directory.Exists(modelDir))
        {
            throw new ModelLoadException(modelDir, null, "model folder does not exist");
        }

        try
        {
            return LoadCore(modelDir, chatTemplateOverride);
        }
        catch (Exception ex) when (ex is not ModelLoadException and not OutOfMemoryException)
        {
            // Whatever a malformed folder trips deep inside still reaches the operator as a load error naming the folder.
            throw new ModelLoadException(modelDir, null, $"tokenizer could not be loaded: {ex.Message}", ex);
        }
    }

    private static ModelTokenizer LoadCore(string dir, string? chatTemplateOverride)
    {
        var configPath = Path.Combine(dir, TokenizerConfigFile);
        using var tokenizerConfig = TokenizerJson.TryOpen(configPath);
        var generationPath = Path.Combine(dir, GenerationConfigFile);
        var modelConfigPath = Path.Combine(dir, ConfigFile);
        using var generationConfig = TokenizerJson.TryOpen(generationPath);
        using var modelConfig = TokenizerJson.TryOpen(modelConfigPath);
        JsonElement? tc = tokenizerConfig?.RootElement;

        var jsonPath = Path.Combine(dir, TokenizerJsonFile);
        var spPath = Path.Combine(dir, SentencePieceFile);
        ByteLevelBpeModel? byteLevel = null;
        if (File.Exists(jsonPath))
        {
            using var json = TokenizerJson.TryOpen(jsonPath)!;
            try
            {
                byteLevel = ByteLevelBpeModel.TryParse(json.RootElement);
            }
            catch (TokenizerFormatException ex)
            {
                throw new ModelLoadException(jsonPath, ex.Field, ex.Message, ex);
            }

            if (byteLevel is null && !File.Exists(spPath))
            {
                throw new ModelLoadException(jsonPath, "model", $"only byte-level BPE tokenizer.json is supported and there is no {SentencePieceFile} to fall back to");
            }
        }

        TokenTable table;
        ISegmentEncoder encoder;
        var literalTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        int? modelBos = null;
        int? modelEos = null;
        bool defaultAddBos;
        string tokenizerFile;
        if (byteLevel is not null)
        {
            tokenizerFile = jsonPath;
            table = BuildByteLevelTable(byteLevel, literalTokens);
            encoder = byteLevel;
            defaultAddBos = byteLevel.PostProcessorBos is not null;
            if (byteLevel.PostProcessorBos is { } postBos && literalTokens.TryGetValue(postBos, out var postBosId))
            {
                modelBos = postBosId;
            }
        }
        else if (File.Exists(spPath))
        {
            tokenizerFile = spPath;
            SentencePieceModel sp;
            try
            {
                sp = SentencePieceModel.Parse(File.ReadAllBytes(spPath));
            }
            catch (InvalidDataException ex)
            {
                throw new ModelLoadException(spPath, null, $"not a valid SentencePiece model: {ex.Message}", ex);
            }

            table = BuildSentencePieceTable(sp, ReadAddedTokensDecoder(tc, configPath), literalTokens);
            encoder = sp;
            defaultAddBos = true; // transformers' LlamaTokenizer default
            modelBos = sp.BosId >= 0 ? sp.BosId : null;
            modelEos = sp.EosId >= 0 ? sp.EosId : null;
        }
        else
        {
            throw new ModelLoadException(dir, null, $"no tokenizer found: expected {TokenizerJsonFile} or {SentencePieceFile}");
        }

        int? LookupToken(string? text, string field) =>
            text is null ? null
            : literalTokens.TryGetValue(text, out var id) ? id
            : throw new ModelLoadException(configPath, field, $"token '{text}' is not in the vocabulary of {tokenizerFile}");

        var bosText = TokenizerJson.ReadTokenText(tc, "bos_token", configPath);
        var eosText = TokenizerJson.ReadTokenText(tc, "eos_token", configPath);
        var bosId = FirstOrNull(TokenizerJson.ReadIds(generationConfig?.RootElement, "bos_token_id", generationPath))
            ?? FirstOrNull(TokenizerJson.ReadIds(modelConfig?.RootElement, "bos_token_id", modelConfigPath))
            ?? LookupToken(bosText, "bos_token")
            ?? modelBos;
        var eosConfigId = LookupToken(eosText, "eos_token");

        var eos = new List<int>();
        AddDistinct(eos, TokenizerJson.ReadIds(generationConfig?.RootElement, "eos_token_id", generationPath));
        AddDistinct(eos, TokenizerJson.ReadIds(modelConfig?.RootElement, "eos_token_id", modelConfigPath));
        if (eosConfigId is { } e)
        {
            AddDistinct(eos, [e]);
        }

        if (eos.Count == 0 && modelEos is { } me)
        {
            eos.Add(me);
        }

        ValidateId(bosId, table.Count, "bos_token_id", dir);
        foreach (var id in eos)
        {
            ValidateId(id, table.Count, "eos_token_id", dir);
        }

        var addBos = (TokenizerJson.ReadBool(tc, "add_bos_token", configPath) ?? defaultAddBos) && bosId is not null;
        var addEos = TokenizerJson.ReadBool(tc, "add_eos_token", configPath) ?? false;
        int? appendEos = addEos ? eosConfigId ?? FirstOrNull(eos) : null;

        var chatTemplate = ResolveChatTemplate(dir, tc, configPath, chatTemplateOverride, bosText, eosText);
        var matcher = new AddedTokenMatcher(literalTokens);
        return new ModelTokenizer(encoder, matcher, table, bosId, addBos, appendEos, eos, chatTemplate);
    }

    private static TokenTable BuildByteLevelTable(ByteLevelBpeModel model, Dictionary<string, int> literalTokens)
    {
        var size = 0;
        foreach (var id in model.Vocab.Values)
        {
            size = Math.Max(size, id + 1);
        }

        foreach (var added in model.AddedTokens)
        {
            size = Math.Max(size, added.Id + 1);
        }

        var bytes = new byte[]?[size];
        var pieces = new string?[size];
        var special = new bool[size];
        foreach (var (token, id) in model.Vocab)
        {
            bytes[id] = ByteLevelBytes(token);
            pieces[id] = token;
        }

        foreach (var added in model.AddedTokens)
        {
            bytes[added.Id] = Encoding.UTF8.GetBytes(added.Content);
            pieces[added.Id] = added.Content;
            special[added.Id] = added.Special;
            literalTokens[added.Content] = added.Id;
        }

        return new TokenTable(bytes, pieces, special, stripFirstSpace: false);
    }

    private static byte[] ByteLevelBytes(string token)
    {
        var result = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            if (!ByteLevelAlphabet.TryCharToByte(token[i], out result[i]))
            {
                // Not a byte-level string (some vocabularies carry plain-text entries): decode as its own UTF-8.
                return Encoding.UTF8.GetBytes(token);
            }
        }

        return result;
    }

    private static TokenTable BuildSentencePieceTable(SentencePieceModel model, List<AddedToken> extra, Dictionary<string, int> literalTokens)
    {
        var size = model.Pieces.Length;
        foreach (var added in extra)
        {
            size = Math.Max(size, added.Id + 1);
        }

        var bytes = new byte[]?[size];
        var pieces = new string?[size];
        var special = new bool[size];
        for (var id = 0; id < model.Pieces.Length; id++)
        {
            var type = model.Types[id];
            pieces[id] = model.Pieces[id];
            if (type is SentencePiecePieceType.Control or SentencePiecePieceType.Unknown)
            {
                bytes[id] = Encoding.UTF8.GetBytes(model.Pieces[id]);
                special[id] = true;
                literalTokens.TryAdd(model.Pieces[id], id);
            }
            else
            {
                bytes[id] = model.PieceBytes(id);
                if (type == SentencePiecePieceType.UserDefined)
                {
                    literalTokens.TryAdd(model.Pieces[id], id);
                }
            }
        }

        foreach (var added in extra)
        {
            bytes[added.Id] = Encoding.UTF8.GetBytes(added.Content);
            pieces[added.Id] = added.Content;
            special[added.Id] = added.Special;
            literalTokens[added.Content] = added.Id;
        }

        return new TokenTable(bytes, pieces, special, model.AddDummyPrefix);
    }

    private static List<AddedToken> ReadAddedTokensDecoder(JsonElement? tokenizerConfig, string file)
    {
        var result = new List<AddedToken>();
        if (tokenizerConfig is not { } tc || !tc.TryGetProperty("added_tokens_decoder", out var decoder) || decoder.ValueKind == JsonValueKind.Null)
        {
            return result;
        }

        if (decoder.ValueKind != JsonValueKind.Object)
        {
            throw new ModelLoadException(file, "added_tokens_decoder", "expected an object of id -> token");
        }

        foreach (var entry in decoder.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, out var id) || id < 0
                || entry.Value.ValueKind != JsonValueKind.Object
                || !entry.Value.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
            {
                throw new ModelLoadException(file, "added_tokens_decoder", $"entry '{entry.Name}' needs an integer id and a string \"content\"");
            }

            var special = entry.Value.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True;
            result.Add(new AddedToken(id, content.GetString()!, special));
        }

        return result;
    }

    private static ChatTemplate? ResolveChatTemplate(
        string dir, JsonElement? tokenizerConfig, string configPath, string? chatTemplateOverride, string? bosText, string? eosText)
    {
        var declared = ReadChatTemplateText(tokenizerConfig, configPath);
        var jinjaPath = Path.Combine(dir, ChatTemplateJinjaFile);
        if (declared is null && File.Exists(jinjaPath))
        {
            declared = File.ReadAllText(jinjaPath);
        }

        string? explicitName = null;
        var text = declared;
        if (chatTemplateOverride is not null)
        {
            if (ChatTemplate.IsKnownName(chatTemplateOverride))
            {
                explicitName = chatTemplateOverride;
            }
            else
            {
                text = chatTemplateOverride;
            }
        }

        return text is null && explicitName is null ? null : ChatTemplate.Resolve(text, explicitName, configPath, bosText, eosText);
    }

    private static string? ReadChatTemplateText(JsonElement? tokenizerConfig, string file)
    {
        if (tokenizerConfig is not { } tc || !tc.TryGetProperty("chat_template", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            // A list of {name, template}: the "default" one is what transformers applies.
            string? first = null;
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object
                    || !item.TryGetProperty("template", out var template) || template.ValueKind != JsonValueKind.String)
                {
                    throw new ModelLoadException(file, "chat_template", "each list entry needs a string \"template\"");
                }

                var name = item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
                if (name == "default")
                {
                    return template.GetString();
                }

                first ??= template.GetString();
            }

            return first;
        }

        throw new ModelLoadException(file, "chat_template", "expected a string or a list of {name, template}");
    }

    private static void ValidateId(int? id, int vocabSize, string field, string dir)
    {
        if (id is { } value && value >= vocabSize)
        {
            throw new ModelLoadException(dir, field, $"token id {value} is outside the tokenizer vocabulary (size {vocabSize})");
        }
    }

    private static int? FirstOrNull(List<int> ids) => ids.Count > 0 ? ids[0] : null;

    private static void AddDistinct(List<int> target, List<int> ids)
    {
        foreach (var id in ids)
        {
            if (!target.Contains(id))
            {
                target.Add(id);
            }
        }
    }
}
