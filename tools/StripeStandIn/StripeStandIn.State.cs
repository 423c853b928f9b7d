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
        catch (Exception e) when (e is JsonException or IOException)
        {
            return; // a torn or foreign file: start empty, as Stripe's sandbox after a reset
        }

        foreach (var (name, objects) in new[] { ("customers", _customers), ("accounts", _accounts) })
        {
            foreach (var item in state?[name] as JsonArray ?? [])
            {
                // Anything not as written here (another program's file, a hand edit) is skipped, not trusted.
                if (item?["object"] is JsonObject json && StripeRules.Text(json["id"]) is { } id && StripeRules.Text(item["account"]) is { } account
                    && item["created"] is JsonValue created && created.TryGetValue<long>(out var createdAt))
                {
                    var stored = new StoredObject(id, account, json, DateTimeOffset.FromUnixTimeMilliseconds(createdAt));
                    stored.Restore(item["deleted"] is JsonValue deleted && deleted.TryGetValue<long>(out var deletedAt) ? DateTimeOffset.FromUnixTimeMilliseconds(deletedAt) : null);
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
            ["account"] = o.Account,
            ["created"] = o.Created.ToUnixTimeMilliseconds(),
            ["deleted"] = o.Deleted?.ToUnixTimeMilliseconds(),
        }).ToArray());
}
