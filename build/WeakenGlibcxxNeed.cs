// Compiled at build time by RoslynCodeTaskFactory (see TorchSharpNative.targets).
//
// TorchSharp 0.107's libLibTorchSharp.so declares a version need on GLIBCXX_3.4.32 for a single
// symbol (_ZSt21ios_base_library_initv) that has no relocation against it. Debian 12's libstdc++
// stops at GLIBCXX_3.4.30, so the dynamic loader refuses the library. Setting VER_FLG_WEAK on that
// one vernaux entry turns the hard failure into a tolerated missing version; nothing else changes.
// The task only touches a library when the system libstdc++ lacks the version, so newer systems
// keep the file byte for byte.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class WeakenGlibcxxNeed : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    [Required]
    public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();

    public string VersionName { get; set; } = "GLIBCXX_3.4.32";

    public override bool Execute()
    {
        if (SystemLibstdcxxHas(VersionName))
        {
            Log.LogMessage(MessageImportance.Low, "System libstdc++ provides {0}; leaving TorchSharp native libraries unchanged.", VersionName);
            return true;
        }

        foreach (ITaskItem item in Libraries)
        {
            string path = item.ItemSpec;
            if (!File.Exists(path))
            {
                continue;
            }

            try
            {
                int changed = Patch(path, VersionName);
                if (changed > 0)
                {
                    Log.LogMessage(MessageImportance.High, "Marked {0} weak in {1} (system libstdc++ lacks it).", VersionName, path);
                }
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                Log.LogError("Could not patch {0}: {1}", path, ex.Message);
                return false;
            }
        }

        return true;
    }

    private static bool SystemLibstdcxxHas(string version)
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6",
            "/usr/lib/libstdc++.so.6",
            "/lib64/libstdc++.so.6",
        };
        byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
        foreach (string candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                byte[] bytes = File.ReadAllBytes(candidate);
                return IndexOf(bytes, needle) >= 0;
            }
        }

        // No libstdc++ where we know to look: patching is harmless (a weak need never fails a load).
        return false;
    }

    /// <summary>Sets VER_FLG_WEAK on every vernaux entry named <paramref name="version"/>; returns how many changed.</summary>
    public static int Patch(string path, string version)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
        {
            throw new InvalidDataException("not an ELF file");
        }

        if (elf[4] != 2 || elf[5] != 1)
        {
            throw new InvalidDataException("only little-endian ELF64 is supported");
        }

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        int changed = 0;

        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            uint type = BitConverter.ToUInt32(elf, sh + 4);
            if (type != ShtGnuVerneed)
            {
                continue;
            }

            int offset = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            int link = (int)BitConverter.ToUInt32(elf, sh + 0x28);
            int count = (int)BitConverter.ToUInt32(elf, sh + 0x2C);
            int strSh = checked((int)shoff + link * shentsize);
            int strOffset = checked((int)BitConverter.ToUInt64(elf, strSh + 0x18));

            int need = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, need + 2);
                int aux = need + (int)BitConverter.ToUInt32(elf, need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    int nameOffset = strOffset + (int)BitConverter.ToUInt32(elf, aux + 8);
                    if (ReadCString(elf, nameOffset) == version)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        if ((flags & VerFlgWeak) == 0)
                        {
                            BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, aux + 4);
                            changed++;
                        }
                    }

                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }

                need += (int)BitConverter.ToUInt32(elf, need + 12);
            }
        }

        if (changed > 0)
        {
            string temp = path + ".weak.tmp";
            File.WriteAllBytes(temp, elf);
            File.Copy(temp, path, overwrite: true);
            File.Delete(temp);
        }

        return changed;
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j])
            {
                j++;
            }

            if (j == needle.Length)
            {
                return i;
            }
        }

        return -1;
    }

    private static string ReadCString(byte[] bytes, int offset)
    {
        int end = Array.IndexOf(bytes, (byte)0, offset);
        return Encoding.ASCII.GetString(bytes, offset, end - offset);
    }
}
