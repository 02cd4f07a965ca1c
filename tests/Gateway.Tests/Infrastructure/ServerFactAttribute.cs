using Xunit.Abstractions;
using Xunit.Sdk;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>
/// A <see cref="FactAttribute"/> for contract suites that several test classes inherit: in a class marked
/// <see cref="RequiresRedisServerAttribute"/> it is reported as skipped, with the reason, when this run has no
/// redis-server (<see cref="RespServer.RedisSkipReason"/>); everywhere else it is a plain fact.
/// </summary>
[XunitTestCaseDiscoverer("Inference.Gateway.Tests.Infrastructure.ServerFactDiscoverer", "Inference.Gateway.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ServerFactAttribute : FactAttribute
{
}

/// <summary>Marks a test class whose tests need redis-server itself (not just some RESP server).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresRedisServerAttribute : Attribute
{
}

public sealed class ServerFactDiscoverer(IMessageSink diagnostics) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        yield return new ServerTestCase(diagnostics, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod);
    }
}

public sealed class ServerTestCase : XunitTestCase
{
    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public ServerTestCase()
    {
    }

    public ServerTestCase(IMessageSink diagnostics, TestMethodDisplay display, TestMethodDisplayOptions options, ITestMethod testMethod)
        : base(diagnostics, display, options, testMethod)
    {
    }

    protected override string GetSkipReason(IAttributeInfo factAttribute) =>
        TestMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresRedisServerAttribute)).Any() && RespServer.RedisSkipReason is { } reason
            ? reason
            : base.GetSkipReason(factAttribute);
}
