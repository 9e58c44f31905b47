-- Cluster-aware backups (docs/internals/cluster.md).
-- (PostgreSQL twin of migrations/0006_cluster.sql.)
--
-- instances.nodes: the REST URLs of every peer of a Qdrant cluster, as a
-- JSON array of strings; '[]' means "discover the peers from GET /cluster".
ALTER TABLE instances ADD COLUMN nodes text NOT NULL DEFAULT '[]' CHECK (json_valid(nodes));

-- plans.shard_method: how a cluster's shards are taken: 'snapshot' (Qdrant
-- writes a shard snapshot, qbackupd downloads it, checksum-checked) or
-- 'stream' (the streaming shard snapshot route: no file on Qdrant's disk).
ALTER TABLE plans ADD COLUMN shard_method text NOT NULL DEFAULT 'snapshot'
    CHECK (shard_method IN ('snapshot', 'stream'));

-- snapshots.layout: 'snapshot' is one Qdrant snapshot object; 'shards' is a
-- backup set of a cluster collection, one object per shard, described by
-- snapshots.backup_set (JSON: collection config, aliases, shard keys and
-- every shard's object, size, sha256, peer and points).  storage_key is
-- then the set's key prefix, and its manifest is storage_key.manifest.json
-- as for single snapshots; sha256 is the SHA-256 of that manifest.
ALTER TABLE snapshots ADD COLUMN layout text NOT NULL DEFAULT 'snapshot'
    CHECK (layout IN ('snapshot', 'shards'));
ALTER TABLE snapshots ADD COLUMN backup_set text
    CHECK (backup_set IS NULL OR json_valid(backup_set));
