using System.Globalization;
using System.Text;

namespace Inference.Platform.Email;

/// <summary>
/// Writes each message as a file in a folder (data/mail by default), for a machine with no mail relay: the operator
/// reads or forwards them. Files are named by time and recipient, written whole (temp file then rename).
/// </summary>
public sealed class FileEmailSender(string folder, TimeProvider time) : IEmailSender
{
    private int _sequence;

    public async Task SendAsync(string to, string subject, string body, CancellationToken ct)
    {
        Directory.CreateDirectory(folder);
        string safe = new(to.Select(c => char.IsAsciiLetterOrDigit(c) || c is '@' or '.' or '-' or '_' ? c : '_').ToArray());
        string stamp = time.GetUtcNow().ToString("yyyyMMdd'T'HHmmssfff", CultureInfo.InvariantCulture);
        string name = $"{stamp}-{Interlocked.Increment(ref _sequence):D4}-{safe}.eml";
        string text = $"To: {to}\r\nSubject: {subject}\r\nDate: {time.GetUtcNow():R}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n";
        string temp = Path.Combine(folder, "." + name + ".tmp");
        await File.WriteAllTextAsync(temp, text, new UTF8Encoding(false), ct).ConfigureAwait(false);
        File.Move(temp, Path.Combine(folder, name));
    }
}
