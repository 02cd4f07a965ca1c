namespace Inference.Trainer;

/// <summary>A token stream written by prepare_data.py: uint16 little-endian ids, &lt;s&gt; ... &lt;/s&gt; per line.</summary>
internal static class TokenStream
{
    public static long[] Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var ids = new long[bytes.Length / 2];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = bytes[2 * i] | (bytes[(2 * i) + 1] << 8);
        }

        return ids;
    }
}
