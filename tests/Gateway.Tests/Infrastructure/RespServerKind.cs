namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>Which real RESP server a test talks to.</summary>
public enum RespServerKind
{
    /// <summary>Debian's redis-server, started as a child process (what production runs).</summary>
    Redis,

    /// <summary>Microsoft Garnet hosted in the test process (comes with the build: no install step).</summary>
    Garnet,
}
