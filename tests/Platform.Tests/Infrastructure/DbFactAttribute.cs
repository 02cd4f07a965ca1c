using Xunit.Abstractions;
using Xunit.Sdk;

namespace Inference.Platform.Tests.Infrastructure;

/// <summary>
/// A fact of a suite that runs on both databases: in a class marked <see cref="RequiresPostgresAttribute"/> it is
/// reported as skipped, with the reason, when this run has no PostgreSQL (<see cref="PostgresServer.SkipReason"/>).
/// </summary>
[XunitTestCaseDiscoverer("Inference.Platform.Tests.Infrastructure.DbFactDiscoverer", "Inference.Platform.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class DbFactAttribute : FactAttribute
{
}

/// <summary>Marks a test class that runs against PostgreSQL.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresPostgresAttribute : Attribute
{
}

public sealed class DbFactDiscoverer(IMessageSink diagnostics) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        yield return new DbTestCase(diagnostics, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod);
    }
}

public sealed class DbTestCase : XunitTestCase
{
    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public DbTestCase()
    {
    }

    public DbTestCase(IMessageSink diagnostics, TestMethodDisplay display, TestMethodDisplayOptions options, ITestMethod testMethod)
        : base(diagnostics, display, options, testMethod)
    {
    }

    protected override string GetSkipReason(IAttributeInfo factAttribute) =>
        TestMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresPostgresAttribute)).Any() && PostgresServer.SkipReason is { } reason
            ? reason
            : base.GetSkipReason(factAttribute);
}
