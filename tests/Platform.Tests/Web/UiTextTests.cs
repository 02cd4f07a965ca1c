using System.Text.RegularExpressions;
using Inference.Platform.Web;

namespace Inference.Platform.Tests.Web;

public sealed partial class UiTextTests
{
    [GeneratedRegex("""\bT\("((?:[^"\\]|\\.)*)"[,)]""")]
    private static partial Regex TextCall();

    [Fact]
    public void EveryTextThePagesAskFor_HasKorean()
    {
        string root = Path.Combine(RepoRoot(), "src", "Platform");
        var keys = Directory.EnumerateFiles(root, "*.cshtml", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "Pages"), "*.cs", SearchOption.AllDirectories))
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "Web"), "*.cs"))
            .SelectMany(f => TextCall().Matches(File.ReadAllText(f)).Select(m => Regex.Unescape(m.Groups[1].Value)))
            .Concat(Inference.Platform.Apps.AppTemplates.All.SelectMany(t => new[] { t.Title, t.Description }))
            .Distinct().ToList();
        Assert.True(keys.Count > 150, $"only {keys.Count} texts found: the scan is broken");
        var missing = keys.Where(k => !UiText.HasKorean(k)).ToList();
        Assert.True(missing.Count == 0, "no Korean for: " + string.Join(" | ", missing));
    }

    [Theory]
    [InlineData("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", true)]
    [InlineData("ko", true)]
    [InlineData("en-US,en;q=0.9,ko;q=0.8", false)]
    [InlineData("en;q=0.5, ko;q=0.6", true)]
    [InlineData("fr-FR, ko;q=0.3", true)]
    [InlineData("ko;q=0, en", false)]
    [InlineData("*", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void PrefersKorean_FollowsQualityThenOrder(string? header, bool korean) => Assert.Equal(korean, UiText.PrefersKorean(header));

    [Fact]
    public void T_InKorean_TranslatesAndFormats()
    {
        UiText.IsKorean = true;
        try
        {
            Assert.Equal("로그인", UiText.T("Sign in"));
            Assert.Equal("v3 게시 중", UiText.T("published v{0}", 3));
        }
        finally
        {
            UiText.IsKorean = false;
        }

        Assert.Equal("Sign in", UiText.T("Sign in"));
    }

    private static string RepoRoot() =>
        typeof(UiTextTests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().First(a => a.Key == "RepoRoot").Value!;
}
