using System.Diagnostics;

namespace Inference.LoadGen.Serving;

/// <summary>A one-line progress bar on stderr (redrawn four times a second on a terminal; a line per tenth of the run
/// when stderr is a file or pipe).</summary>
public sealed class ProgressBar : IDisposable
{
    private readonly TextWriter _writer;
    private readonly string _label;
    private readonly int _total;
    private readonly bool _interactive;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Timer? _timer;
    private int _done;
    private int _failed;
    private int _inFlight;
    private int _lastTenth = -1;

    public ProgressBar(string label, int total, TextWriter? writer = null, bool? interactive = null)
    {
        _writer = writer ?? Console.Error;
        _label = label;
        _total = total;
        _interactive = interactive ?? (writer is null && !Console.IsErrorRedirected);
        if (_interactive)
        {
            _timer = new Timer(_ => Draw(), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(250));
        }
    }

    public void Started() => Interlocked.Increment(ref _inFlight);

    public void Finished(bool success)
    {
        Interlocked.Decrement(ref _inFlight);
        if (!success)
        {
            Interlocked.Increment(ref _failed);
        }

        int done = Interlocked.Increment(ref _done);
        if (!_interactive)
        {
            int tenth = done * 10 / Math.Max(1, _total);
            if (tenth > Volatile.Read(ref _lastTenth) && Interlocked.Exchange(ref _lastTenth, tenth) < tenth)
            {
                lock (_writer)
                {
                    _writer.WriteLine(Line());
                }
            }
        }
    }

    private string Line()
    {
        int done = Volatile.Read(ref _done);
        const int Width = 30;
        int filled = _total == 0 ? Width : Math.Min(Width, done * Width / _total);
        double elapsed = _clock.Elapsed.TotalSeconds;
        string eta = done == 0 || done >= _total ? "" : $" eta {elapsed / done * (_total - done):0}s";
        return $"{_label} [{new string('#', filled)}{new string('.', Width - filled)}] {done}/{_total}  failed {Volatile.Read(ref _failed)}  in flight {Volatile.Read(ref _inFlight)}  {elapsed:0}s{eta}";
    }

    private void Draw()
    {
        lock (_writer)
        {
            _writer.Write("\r" + Line() + "\u001b[K");
        }
    }

    public void Dispose()
    {
        _timer?.Dispose();
        if (_interactive)
        {
            Draw();
            lock (_writer)
            {
                _writer.WriteLine();
            }
        }
    }
}
