using Inference.Platform.Apps;

namespace Inference.Platform.Web;

/// <summary>What the form partial renders: an app's fields and the values to show in them.</summary>
public sealed record AppInputsView(AppSpec Spec, IReadOnlyDictionary<string, string?> Values);
