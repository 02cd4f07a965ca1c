using Inference.Worker.Tokenization.Jinja;

namespace Inference.Worker.Tests.Tokenization.Jinja;

public sealed class JinjaTemplateTests
{
    private static readonly Dictionary<string, object?> NoVariables = [];

    [Fact]
    public void Render_UndefinedAttribute_ErrorNamesTheLine()
    {
        var template = JinjaTemplate.Parse("a\nb\n{% for m in [1] %}\n  {{ m.x.y }}\n{% endfor %}");

        var ex = Assert.ThrowsAny<JinjaException>(() => template.Render(NoVariables));

        Assert.Equal(4, ex.Line);
        Assert.StartsWith("chat template line 4: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'int object' has no attribute 'x'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnclosedBlock_ErrorNamesTheLine()
    {
        var ex = Assert.Throws<JinjaSyntaxException>(() => JinjaTemplate.Parse("x\n{% if true %}\ny\n"));

        Assert.Equal(3, ex.Line);
        Assert.Contains("'endif'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownFilter_FailsBeforeRendering()
    {
        var ex = Assert.Throws<JinjaSyntaxException>(() => JinjaTemplate.Parse("\n\n{{ x | frobnicate }}"));

        Assert.Equal(3, ex.Line);
        Assert.Contains("frobnicate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_RaiseException_KeepsTheTemplatesMessage()
    {
        var template = JinjaTemplate.Parse("{{ raise_exception('roles must alternate') }}");

        var ex = Assert.Throws<JinjaRaisedException>(() => template.Render(NoVariables));

        Assert.Equal("roles must alternate", ex.Message);
        Assert.Equal(1, ex.Line);
    }

    [Fact]
    public void Render_OutputBeyondLimit_Throws()
    {
        var template = JinjaTemplate.Parse("{% for i in range(1000) %}0123456789{% endfor %}");

        var ex = Assert.ThrowsAny<JinjaException>(() => template.Render(NoVariables, limits: new JinjaLimits { MaxOutputChars = 5000 }));

        Assert.Contains("5000 characters", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_StringRepetitionBeyondLimit_ThrowsWithoutAllocating()
    {
        var template = JinjaTemplate.Parse("{{ 'x' * 1000000000000 }}");

        var ex = Assert.ThrowsAny<JinjaException>(() => template.Render(NoVariables));

        Assert.Contains("longer than", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_NestedLoopsBeyondIterationLimit_Throws()
    {
        var template = JinjaTemplate.Parse("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}");

        var ex = Assert.ThrowsAny<JinjaException>(() => template.Render(NoVariables, limits: new JinjaLimits { MaxIterations = 10_000 }));

        Assert.Contains("10000 loop iterations", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_UnboundedMacroRecursion_Throws()
    {
        var template = JinjaTemplate.Parse("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");

        var ex = Assert.ThrowsAny<JinjaException>(() => template.Render(NoVariables));

        Assert.Contains("nested deeper than", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_HugeRange_Throws()
    {
        var template = JinjaTemplate.Parse("{% for i in range(10000000) %}{% endfor %}");

        var ex = Assert.ThrowsAny<JinjaException>(() => template.Render(NoVariables));

        Assert.Contains("range too big", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DeeplyNestedExpression_ThrowsInsteadOfOverflowingTheStack()
    {
        var text = "{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}";

        var ex = Assert.Throws<JinjaSyntaxException>(() => JinjaTemplate.Parse(text));

        Assert.Contains("nested too deeply", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_StrftimeNow_UsesTheInjectedClock()
    {
        var template = JinjaTemplate.Parse("{{ strftime_now('%d %b %Y|%Y-%m-%d %H:%M:%S|%A %B %j') }}");

        var text = template.Render(NoVariables, new FixedTime(new DateTimeOffset(2024, 7, 26, 8, 5, 9, TimeSpan.Zero)));

        Assert.Equal("26 Jul 2024|2024-07-26 08:05:09|Friday July 208", text);
    }

    [Fact]
    public void Render_SameTemplateTwice_RendersIndependently()
    {
        var template = JinjaTemplate.Parse("{% set ns = namespace(n=0) %}{% for i in xs %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}");

        var first = template.Render(new Dictionary<string, object?> { ["xs"] = new List<object?> { 1L, 2L } });
        var second = template.Render(new Dictionary<string, object?> { ["xs"] = new List<object?> { 5L } });

        Assert.Equal("3", first);
        Assert.Equal("5", second);
    }
}
