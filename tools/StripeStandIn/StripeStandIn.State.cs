using System.Text.Json;
using System.Text.Json.Nodes;

namespace BffSessions.StandIn;

public sealed partial class StripeStandIn
{
    /// <summary>Reads the customers and accounts a previous run left in <see cref="StandInOptions.StateFile"/>.</summary>
    private void LoadState()
    {
        if (Options.StateFile is not { } file || !File.Exists(file))
        {
            return;
        }

        JsonObject? state;
        try
        {
            state = JsonNode.Parse(File.ReadAllText(file)) as JsonObject;
        }
        catch (JsonException)
        {
            return; // a torn or foreign file: start empty, as Stripe's sandbox after a reset
        }

        foreach (var (name, objects) in new[] { ("customers", _customers), ("accounts", _accounts) })
        {
            foreach (var item in state?[name] as JsonArray ?? [])
            {
                if (item?["object"] is JsonObject json && StripeRules.Text(json["id"]) is { } id
                    && item["created"]?.GetValue<long>() is { } created)
                {
                    var stored = new StoredObject(id, json, DateTimeOffset.FromUnixTimeMilliseconds(created));
                    stored.Restore(item["deleted"]?.GetValue<long>() is { } deleted ? DateTimeOffset.FromUnixTimeMilliseconds(deleted) : null);
                    objects[id] = stored;
                }
            }
        }
    }

    /// <summary>Writes the customers and accounts to <see cref="StandInOptions.StateFile"/>, whole, replacing the last copy.</summary>
    private void SaveState()
    {
        if (Options.StateFile is not { } file)
        {
            return;
        }

        lock (_stateFileLock)
        {
            var state = new JsonObject
            {
                ["customers"] = Snapshot(_customers),
                ["accounts"] = Snapshot(_accounts),
            };
            var temporary = file + ".tmp";
            if (Path.GetDirectoryName(Path.GetFullPath(file)) is { } directory)
            {
                Directory.CreateDirectory(directory);
            }

            File.WriteAllText(temporary, state.ToJsonString());
            File.Move(temporary, file, overwrite: true);
        }
    }

    private static JsonArray Snapshot(System.Collections.Concurrent.ConcurrentDictionary<string, StoredObject> objects) =>
        new(objects.Values.Select(o => (JsonNode)new JsonObject
        {
            ["object"] = o.Json.DeepClone(),
            ["created"] = o.Created.ToUnixTimeMilliseconds(),
            ["deleted"] = o.Deleted?.ToUnixTimeMilliseconds(),
        }).ToArray());
}
