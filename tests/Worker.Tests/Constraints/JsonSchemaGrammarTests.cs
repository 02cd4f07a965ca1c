using System.Text.Json;
using Inference.Worker.Constraints;
using Json.Schema;

namespace Inference.Worker.Tests.Constraints;

public sealed class JsonSchemaGrammarTests
{
    public static TheoryData<string> Schemas => new()
    {
        """{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":12},"age":{"type":"integer","minimum":0,"maximum":150},"email":{"type":"string","format":"uuid"}},"required":["name","age"],"additionalProperties":false}""",
        """{"type":"object","properties":{"tags":{"type":"array","items":{"enum":["red","green","blue"]},"minItems":1,"maxItems":3},"score":{"type":"number","minimum":-5,"maximum":5},"ok":{"type":"boolean"}},"required":["tags","score","ok"]}""",
        """{"type":"object","properties":{"when":{"type":"string","format":"date-time"},"day":{"type":"string","format":"date"},"code":{"type":"string","pattern":"^[A-Z]{2}-\\d{3}$"},"nick":{"type":["string","null"]}},"required":["when","day","code","nick"]}""",
        """{"$defs":{"node":{"type":"object","properties":{"value":{"type":"integer","exclusiveMinimum":-3,"exclusiveMaximum":1000},"children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["value"]}},"$ref":"#/$defs/node"}""",
        """{"anyOf":[{"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number","minimum":0}},"required":["kind","r"]},{"type":"object","properties":{"kind":{"const":"square"},"side":{"type":"integer"}},"required":["kind","side"]}]}""",
        """{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false,"minItems":2}""",
        """{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],"additionalProperties":{"type":"string","maxLength":5}}""",
        """{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"string"}},"additionalProperties":false}""",
        """{"type":"object","properties":{"quote":{"type":"string","pattern":"^\"[a-z\\\\]+\"$"}},"required":["quote"]}""",
        """{"type":"array","items":{"type":"integer","minimum":-120,"maximum":-7},"minItems":3}""",
        """{"type":"object"}""",
        """{"oneOf":[{"type":"string","enum":["x","y"]},{"type":"null"},{"type":"boolean"}]}""",
    };

    [Theory]
    [MemberData(nameof(Schemas))]
    public void EveryOutputOfTheGrammarValidates(string schemaText)
    {
        using JsonDocument doc = JsonDocument.Parse(schemaText);
        Grammar grammar = Grammar.Parse(JsonSchemaGrammar.ToGbnf(doc.RootElement));
        JsonSchema schema = JsonSchema.FromText(schemaText);
        var random = new Random(schemaText.Length);
        for (int i = 0; i < 25; i++)
        {
            string output = GrammarWalker.Walk(grammar, random);
            using JsonDocument parsed = JsonDocument.Parse(output);
            EvaluationResults result = schema.Evaluate(parsed.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            Assert.True(result.IsValid, $"{output}\n{string.Join("; ", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Values))}");
        }
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}""", """{"n": 5}""", true)]
    [InlineData("""{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}""", """{}""", false)]
    [InlineData("""{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}""", """{"n": 5, "m": 1}""", false)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}""", """{"b": 2}""", true)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}""", """{"a": 1, "b": 2}""", true)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}""", """{"a": 1,}""", false)]
    [InlineData("""{"type":"string","format":"date"}""", "\"2026-12-03\"", true)]
    [InlineData("""{"type":"string","format":"date"}""", "\"2026-13-03\"", false)]
    [InlineData("""{"type":"string","format":"date"}""", "\"2023-02-29\"", false)]
    [InlineData("""{"type":"string","format":"date"}""", "\"2024-02-29\"", true)]
    [InlineData("""{"type":"string","format":"date"}""", "\"1900-02-29\"", false)]
    [InlineData("""{"type":"string","format":"date"}""", "\"2000-02-29\"", true)]
    [InlineData("""{"type":"string","format":"date"}""", "\"2026-09-31\"", false)]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3}""", "[1]", false)]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3}""", "[1,2,3]", true)]
    [InlineData("""{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3}""", "[1,2,3,4]", false)]
    [InlineData("""{"type":"string","pattern":"ab"}""", "\"xxabyy\"", true)]
    [InlineData("""{"type":"string","pattern":"^ab"}""", "\"xxab\"", false)]
    [InlineData("""{"enum":["a\"b", 1, null]}""", "\"a\\\"b\"", true)]
    [InlineData("""{"const":{"k":[1,2]}}""", """{"k":[1,2]}""", true)]
    public void AcceptsAndRefusesAsTheSchemaDoes(string schemaText, string json, bool valid)
    {
        using JsonDocument doc = JsonDocument.Parse(schemaText);
        Assert.Equal(valid, GrammarTests.Matches(JsonSchemaGrammar.ToGbnf(doc.RootElement), json));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(0, 9)]
    [InlineData(3, 47)]
    [InlineData(-47, -3)]
    [InlineData(-120, 1234)]
    [InlineData(95, 1005)]
    [InlineData(100, 100)]
    [InlineData(-1, 0)]
    public void IntegerRangesAreExact(long lo, long hi)
    {
        Grammar g = Grammar.Parse("root ::= " + JsonSchemaGrammar.IntegerRange(lo, hi));
        for (long v = lo - 150; v <= hi + 150; v++)
        {
            Assert.True((v >= lo && v <= hi) == GrammarTests.Matches(g, v.ToString(System.Globalization.CultureInfo.InvariantCulture)), v.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.False(GrammarTests.Matches(g, "-0"));
        Assert.False(GrammarTests.Matches(g, "0" + hi));
    }

    [Theory]
    [InlineData(-5, 5, "-5", true)]
    [InlineData(-5, 5, "-5.5", false)]
    [InlineData(-5, 5, "-4.99", true)]
    [InlineData(-5, 5, "5.0", true)]
    [InlineData(-5, 5, "5.01", false)]
    [InlineData(2, 9, "1.5", false)]
    [InlineData(2, 9, "2.5", true)]
    [InlineData(-9, -2, "-2", true)]
    [InlineData(-9, -2, "-1.5", false)]
    [InlineData(-9, -2, "-2.5", true)]
    public void NumberBoundsAreExact(int lo, int hi, string text, bool valid)
    {
        using JsonDocument doc = JsonDocument.Parse($$"""{"type":"number","minimum":{{lo}},"maximum":{{hi}}}""");
        Assert.Equal(valid, GrammarTests.Matches(JsonSchemaGrammar.ToGbnf(doc.RootElement), text));
    }

    [Theory]
    [InlineData("""{"type":"string","minimum":2}""", "schema: keyword 'minimum' does not apply to type string")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer","multipleOf":3}}}""", "schema.properties.a: keyword 'multipleOf' is not supported")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string","format":"email"}}}""", "schema.properties.a.format: format 'email' is not supported")]
    [InlineData("""{"type":"array","uniqueItems":true}""", "keyword 'uniqueItems' is not supported")]
    [InlineData("""{"type":"object","patternProperties":{"^a":{}}}""", "keyword 'patternProperties' is not supported")]
    [InlineData("""{"type":"strin"}""", "schema.type: '\"strin\"' is not a JSON Schema type")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "does not resolve")]
    [InlineData("""{"$ref":"http://example.com/s.json"}""", "is not supported")]
    [InlineData("""{"type":"object","properties":{"a":{}},"required":["b"]}""", "'b' is required but not among properties")]
    [InlineData("""{"type":"string","maxLength":1000000}""", "values above 10,000 are not supported")]
    [InlineData("""{"type":"number","minimum":0.5}""", "number bounds must be integers")]
    [InlineData("""{"type":"string","pattern":"(a)\\1"}""", "backreferences are not supported")]
    [InlineData("""{"allOf":[{"type":"string"},{"maxLength":2}]}""", "only allOf with exactly one schema")]
    [InlineData("""false""", "matches nothing")]
    public void UnsupportedKeywordsAreRefusedByName(string schemaText, string expected)
    {
        using JsonDocument doc = JsonDocument.Parse(schemaText);
        GrammarException ex = Assert.Throws<GrammarException>(() => JsonSchemaGrammar.ToGbnf(doc.RootElement));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JsonObjectGrammarTakesAnyObjectOnly()
    {
        string gbnf = JsonSchemaGrammar.AnyObject();
        Assert.True(GrammarTests.Matches(gbnf, """{"a": [1, {"b": null}]}"""));
        Assert.False(GrammarTests.Matches(gbnf, "[1]"));
        Assert.False(GrammarTests.Matches(gbnf, "\"s\""));
    }
}
