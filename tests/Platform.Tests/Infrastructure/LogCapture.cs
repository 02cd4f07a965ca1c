using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Inference.Platform.Tests.Infrastructure;

/// <summary>Every log line of a host (all categories, Debug and up), so tests can check what was and was not logged.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Category, string Text)> _lines = new();

    public IReadOnlyList<(LogLevel Level, string Category, string Text)> Lines => _lines.ToArray();

    public IEnumerable<string> Errors => _lines.Where(l => l.Level >= LogLevel.Error).Select(l => $"{l.Category}: {l.Text}");

    public string AllText => string.Join('\n', _lines.Select(l => $"{l.Category}: {l.Text}"));

    public void Configure(ILoggingBuilder builder)
    {
        builder.ClearProviders();
        builder.SetMinimumLevel(LogLevel.Debug);
        builder.AddProvider(this);
    }

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, LogCapture owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._lines.Enqueue((logLevel, category, formatter(state, exception) + (exception is null ? string.Empty : " " + exception)));
    }
}
