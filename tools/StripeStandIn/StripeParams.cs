using System.Text.Json.Nodes;

namespace BffSessions.StandIn;

/// <summary>
/// Stripe's v1 form encoding, decoded: <c>metadata[user_id]=ada</c> is an object member, <c>filters[0]=always</c> an
/// array item, every leaf a string. API v2 takes JSON, which is already a tree.
/// </summary>
public static class StripeParams
{
    /// <summary>The tree of a decoded form, or null (with the offending name) when a name is not Stripe's bracket form.</summary>
    public static JsonObject? Tree(IEnumerable<KeyValuePair<string, string>> form, out string? badName)
    {
        var root = new JsonObject();
        badName = null;
        foreach (var (name, value) in form)
        {
            if (!TryPath(name, out var path))
            {
                badName = name;
                return null;
            }

            if (!TrySet(root, path, value))
            {
                badName = name;
                return null;
            }
        }

        return root;
    }

    /// <summary>"a[b][0]" → ["a", "b", "0"].</summary>
    private static bool TryPath(string name, out List<string> path)
    {
        path = [];
        var open = name.IndexOf('[', StringComparison.Ordinal);
        path.Add(open < 0 ? name : name[..open]);
        if (path[0].Length == 0)
        {
            return false;
        }

        while (open >= 0 && open < name.Length)
        {
            var close = name.IndexOf(']', open);
            if (name[open] != '[' || close < 0)
            {
                return false;
            }

            path.Add(name[(open + 1)..close]);
            open = close + 1;
        }

        return true;
    }

    private static bool TrySet(JsonObject root, List<string> path, string value)
    {
        JsonNode node = root;
        for (var i = 0; i < path.Count; i++)
        {
            var last = i == path.Count - 1;
            var segment = path[i];
            var nextIsIndex = !last && IsIndex(path[i + 1]);
            JsonNode? child;
            switch (node)
            {
                case JsonObject obj:
                    if (last)
                    {
                        if (obj.ContainsKey(segment))
                        {
                            return false; // a parameter given twice
                        }

                        obj[segment] = value;
                        return true;
                    }

                    child = obj[segment];
                    if (child is null)
                    {
                        child = nextIsIndex ? new JsonArray() : new JsonObject();
                        obj[segment] = child;
                    }

                    break;
                case JsonArray array:
                    // Stripe.net writes items in order from 0: a gap or a repeat is not its encoding.
                    var index = IsIndex(segment) ? int.Parse(segment, System.Globalization.CultureInfo.InvariantCulture) : -1;
                    if (index < 0 || index > array.Count || (last && index != array.Count))
                    {
                        return false;
                    }

                    if (last)
                    {
                        array.Add(value);
                        return true;
                    }

                    if (index == array.Count)
                    {
                        array.Add(nextIsIndex ? new JsonArray() : new JsonObject());
                    }

                    child = array[index];
                    break;
                default:
                    return false; // a value and an object under one name
            }

            if (child is JsonValue)
            {
                return false;
            }

            node = child!;
        }

        return false;
    }

    private static bool IsIndex(string segment) => segment.Length is > 0 and < 6 && segment.All(char.IsAsciiDigit);
}
