using System.Net.Sockets;
using System.Text;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Http;

/// <summary>
/// An HTTP/1.1 client that writes the bytes it is given and nothing else, so a test can send what no
/// well-behaved client would (a bad chunk size, a body shorter than its Content-Length, a reset mid-body).
/// </summary>
internal sealed class RawHttpConnection : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly List<byte> _pending = [];

    private RawHttpConnection(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<RawHttpConnection> ConnectAsync(Uri address)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(address.Host, address.Port).Within();
        return new RawHttpConnection(tcp);
    }

    /// <summary>The head of a JSON POST; the caller adds the framing headers and the blank line.</summary>
    public static string Head(string path, string framing) =>
        $"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{framing}\r\n";

    public Task SendAsync(string text) => _stream.WriteAsync(Encoding.UTF8.GetBytes(text)).AsTask().Within();

    /// <summary>Closes the sending side (FIN): the server sees the body end early, and can still answer.</summary>
    public void EndSending() => _tcp.Client.Shutdown(SocketShutdown.Send);

    /// <summary>Drops the connection with a TCP reset, as a client that crashes or is killed does.</summary>
    public void Reset()
    {
        _tcp.Client.LingerState = new LingerOption(true, 0);
        _tcp.Client.Close();
    }

    /// <summary>Reads one response: status, headers (lower-case names) and the body (Content-Length or chunked).</summary>
    public async Task<RawResponse> ReadResponseAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        string statusLine = await ReadLineAsync(cts.Token);
        string[] parts = statusLine.Split(' ', 3);
        int status = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (string line = await ReadLineAsync(cts.Token); line.Length > 0; line = await ReadLineAsync(cts.Token))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        var body = new List<byte>();
        if (headers.TryGetValue("content-length", out string? length))
        {
            body.AddRange(await ReadBytesAsync(int.Parse(length, System.Globalization.CultureInfo.InvariantCulture), cts.Token));
        }
        else if (headers.TryGetValue("transfer-encoding", out string? te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                int size = Convert.ToInt32(await ReadLineAsync(cts.Token), 16);
                body.AddRange(await ReadBytesAsync(size, cts.Token));
                await ReadLineAsync(cts.Token);
                if (size == 0)
                {
                    break;
                }
            }
        }

        return new RawResponse(status, headers, Encoding.UTF8.GetString(body.ToArray()));
    }

    /// <summary>True when the server closed the connection (end of stream) within the timeout.</summary>
    public async Task<bool> ClosedByServerAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[256];
        try
        {
            while (true)
            {
                int n = await _stream.ReadAsync(buffer, cts.Token);
                if (n == 0)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            return true; // a reset is a close too
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new List<byte>();
        while (true)
        {
            byte b = (await ReadBytesAsync(1, cancellationToken))[0];
            if (b == '\n')
            {
                return Encoding.ASCII.GetString(line.ToArray()).TrimEnd('\r');
            }

            line.Add(b);
        }
    }

    private async Task<byte[]> ReadBytesAsync(int count, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        while (_pending.Count < count)
        {
            int n = await _stream.ReadAsync(buffer, cancellationToken);
            if (n == 0)
            {
                throw new EndOfStreamException($"the server closed the connection with {_pending.Count} of {count} bytes read");
            }

            _pending.AddRange(buffer.AsSpan(0, n));
        }

        byte[] result = _pending.GetRange(0, count).ToArray();
        _pending.RemoveRange(0, count);
        return result;
    }
}

internal sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body);
