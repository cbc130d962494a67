// INFO: Redis's sections, filled with this server's and this engine's figures.
import os from 'node:os';
import type { ServerApi } from './context';
import { SERVER_VERSION } from './commands/connection';
import { splitAddress } from './commands/replication';

const SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'keyspace'] as const;
type Section = (typeof SECTIONS)[number];

function human(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v}B` : `${v.toFixed(2)}${units[u]}`;
}

function fields(server: ServerApi, section: Section, version: string): [string, string | number][] {
  const store = server.store;
  const now = Date.now();
  switch (section) {
    case 'server': {
      const up = Math.floor((now - server.startedAt) / 1000);
      return [['redis_version', SERVER_VERSION], ['hashlog_version', version], ['redis_mode', 'standalone'],
        ['os', `${os.type()} ${os.release()} ${os.arch()}`], ['arch_bits', 64], ['process_id', process.pid],
        ['tcp_port', server.settings.port], ['uptime_in_seconds', up], ['uptime_in_days', Math.floor(up / 86400)],
        ['executable', process.argv[1] ?? ''], ['node_version', process.version], ['hashlog_engine', store.engine]];
    }
    case 'clients': {
      const sessions = [...server.sessions()];
      return [['connected_clients', sessions.length], ['maxclients', server.settings.maxClients],
        ['blocked_clients', 0], ['multi_clients', sessions.filter((s) => s.inMulti).length]];
    }
    case 'memory': {
      const m = process.memoryUsage();
      const s = store.stats();
      return [['used_memory', m.rss], ['used_memory_human', human(m.rss)], ['used_memory_rss', m.rss],
        ['used_memory_js_heap', m.heapUsed], ['hashlog_index_bytes', s.indexBytes],
        ['hashlog_index_bytes_per_key', s.keys === 0 ? 0 : (s.indexBytes / s.keys).toFixed(1)],
        ['hashlog_index_capacity', s.indexCapacity], ['maxmemory', 0]];
    }
    case 'persistence': {
      const s = store.stats();
      const r = store.recovery;
      const failure = server.failure();
      return [['loading', 0], ['aof_enabled', 1], ['rdb_last_save_time', Math.floor(server.lastSave / 1000)],
        ['hashlog_durability', store.options.durability], ['hashlog_failed', failure === undefined ? 0 : 1],
        ['hashlog_failure', failure?.message ?? ''], ['hashlog_log_bytes', s.liveBytes + s.garbageBytes],
        ['hashlog_live_bytes', s.liveBytes], ['hashlog_garbage_bytes', s.garbageBytes],
        ['hashlog_garbage_ratio', s.liveBytes + s.garbageBytes === 0 ? 0 : (s.garbageBytes / (s.liveBytes + s.garbageBytes)).toFixed(3)],
        ['aof_rewrite_in_progress', store.compacting ? 1 : 0], ['hashlog_compactions', s.compactions],
        ['hashlog_compacted_bytes_read', s.compactedBytesRead], ['hashlog_compacted_bytes_written', s.compactedBytesWritten],
        ['hashlog_segments', s.segments], ['hashlog_fsyncs', s.fsyncs], ['hashlog_seq', s.seq],
        ['hashlog_recovery_ms', r.millis], ['hashlog_recovery_records', r.records],
        ['hashlog_recovery_discarded_bytes', r.discardedBytes], ['rdb_last_bgsave_status', server.lastSaveOk ? 'ok' : 'err'],
        ['hashlog_recovery_checkpoint', r.checkpoint], ['hashlog_recovery_replayed_bytes', r.replayedBytes],
        ['hashlog_bytes_since_checkpoint', s.bytesSinceCheckpoint],
        ['hashlog_last_checkpoint_time', Math.floor(s.lastCheckpointAt / 1000)]];
    }
    case 'stats': {
      const st = server.stats;
      return [['total_connections_received', st.connectionsReceived],
        ['total_commands_processed', st.commandsProcessed], ['rejected_connections', st.rejectedConnections],
        ['keyspace_hits', st.keyspaceHits], ['keyspace_misses', st.keyspaceMisses],
        ['total_error_replies', st.errorReplies], ['protocol_errors', st.protocolErrors]];
    }
    case 'replication': {
      const rep = server.replication;
      const now = Date.now();
      if (rep.link !== undefined) {
        const l = rep.link;
        return [['role', 'slave'], ['master_host', l.host], ['master_port', l.port],
          ['master_link_status', l.status === 'up' ? 'up' : 'down'],
          ['master_last_io_seconds_ago', Math.floor((now - l.lastIo) / 1000)],
          ['master_sync_in_progress', l.status === 'sync' ? 1 : 0], ['slave_repl_offset', l.applied],
          ['slave_read_only', 1], ['master_replid', l.replid]];
      }
      const rows: [string, string | number][] = [['role', 'master'], ['connected_slaves', rep.feeds.size]];
      let i = 0;
      for (const [sink, feed] of rep.feeds) {
        const [ip, port] = splitAddress(sink.address);
        rows.push([`slave${i++}`, `ip=${ip},port=${port},state=online,offset=${feed.acked},lag=${Math.floor((now - feed.ackedAt) / 1000)}`]);
      }
      rows.push(['master_replid', rep.replid], ['master_repl_offset', rep.offset]);
      return rows;
    }
    case 'keyspace': {
      const n = store.size;
      return n === 0 ? [] : [['db0', `keys=${n}`]];
    }
  }
}

/** The text of INFO [section ...]: 'default', 'all' and 'everything' mean every section. */
export function infoText(server: ServerApi, requested: string[], version: string): string {
  const wanted = requested.length === 0 || requested.some((r) => ['default', 'all', 'everything'].includes(r))
    ? [...SECTIONS]
    : SECTIONS.filter((s) => requested.includes(s));
  const parts = wanted.map((section) => {
    const lines = fields(server, section, version).map(([k, v]) => `${k}:${v}`);
    return `# ${section[0].toUpperCase()}${section.slice(1)}\r\n${lines.map((l) => `${l}\r\n`).join('')}`;
  });
  return parts.join('\r\n');
}
