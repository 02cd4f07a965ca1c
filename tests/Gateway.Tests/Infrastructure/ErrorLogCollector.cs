using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>
/// Collects Error and Critical log entries of a gateway so a test fails on unexpected errors, and the gateway's own
/// entries (categories "Inference.*", Information and up) so a test can check what was logged and how often.
/// </summary>
public sealed class ErrorLogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyCollection<string> Errors => _errors;

    /// <summary>The gateway's own entries at Information and above, in order.</summary>
    public IReadOnlyCollection<LogEntry> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    public void Dispose()
    {
    }

    public sealed record LogEntry(string Category, LogLevel Level, int EventId, string Message);

    private sealed class Logger(string category, ErrorLogCollector owner) : ILogger
    {
        private readonly bool _own = category.StartsWith("Inference.", StringComparison.Ordinal);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error || (_own && logLevel >= LogLevel.Information);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                owner._errors.Enqueue($"{category}[{eventId.Id}]: {formatter(state, exception)} {exception?.GetType().Name}");
            }

            if (_own && logLevel >= LogLevel.Information)
            {
                owner._entries.Enqueue(new LogEntry(category, logLevel, eventId.Id, formatter(state, exception)));
            }
        }
    }
}
