using Inference.Platform.Accounts;

namespace Inference.Platform.Tests.Accounts;

public sealed class PasswordHasherTests
{
    [Fact]
    public void Hash_DefaultParameters_AreOwaspArgon2idAndVerify()
    {
        var hasher = new PasswordHasher(new PasswordHashOptions());
        string hash = hasher.Hash("correct horse battery");

        Assert.StartsWith("$argon2id$v=19$m=19456,t=2,p=1$", hash, StringComparison.Ordinal);
        Assert.True(PasswordHasher.Verify("correct horse battery", hash));
        Assert.False(PasswordHasher.Verify("correct horse batterx", hash));
        Assert.NotEqual(hash, hasher.Hash("correct horse battery")); // fresh salt
        Assert.False(hasher.NeedsRehash(hash));
    }

    [Fact]
    public void NeedsRehash_WeakerStoredParameters_True()
    {
        string weak = new PasswordHasher(new PasswordHashOptions { MemoryKiB = 64, Iterations = 1 }).Hash("pw pw pw pw pw");
        Assert.True(new PasswordHasher(new PasswordHashOptions()).NeedsRehash(weak));
        Assert.True(PasswordHasher.Verify("pw pw pw pw pw", weak));
    }

    [Theory]
    [InlineData("")]
    [InlineData("$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")]
    [InlineData("$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")]
    [InlineData("$argon2id$v=19$m=64,t=1,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaA")]
    public void Verify_MalformedOrHostileStoredHash_False(string stored) => Assert.False(PasswordHasher.Verify("anything at all", stored));
}
