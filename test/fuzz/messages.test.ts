// Property-based payloads on every device-to-controller channel (the
// protocol's table, not a hand list), published by a real MQTT client with a
// real device token against a running controller: it keeps answering HTTP
// and MQTT, logs each dropped message on one line, and keeps nothing outside
// the protocol's physical ranges. Seeded: a failure reproduces. The bench
// (bench/fuzz.bench.ts) runs 10,000 per channel.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMessageFuzz } from '../../bench/fuzz/message-fuzz.js';
import { DEVICE_PUBLISHES } from '../../protocol/channels.js';

const PER_CHANNEL = 200;
const SEED = 20;

describe('fuzzed device messages against a running controller', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'edgefit-fuzz-messages-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it(`${PER_CHANNEL} hostile payloads per channel: none kept out of range, one line per drop, the controller still serves`, async () => {
    const r = await runMessageFuzz({ perChannel: PER_CHANNEL, seed: SEED, dataDir });
    const summary = Object.entries(r.channels).map(([c, n]) => `${c} ${n.sent} sent/${n.accepted} accepted`).join(', ');
    console.log(`message fuzz (seed ${SEED}): ${summary}; ${r.droppedLogged} drops logged, max event-loop stall ${r.maxStallMs.toFixed(0)} ms, ${r.wallS.toFixed(1)} s`);
    expect(Object.keys(r.channels).sort()).toEqual([...DEVICE_PUBLISHES].sort());
    for (const counts of Object.values(r.channels)) {
      expect(counts.sent).toBe(PER_CHANNEL);
      // the run must reach both sides of the schema: some payloads pass, most are dropped
      expect(counts.accepted).toBeGreaterThan(0);
      expect(counts.sent - counts.accepted - counts.ignored).toBeGreaterThan(PER_CHANNEL / 4);
    }
    expect(r.outOfRange).toEqual([]);
    expect(r.handlerErrors).toBe(0);
    expect(r.droppedLogged).toBe(r.droppedExpected);
    expect(r.badReasonLines).toBe(0);
    expect(r.mqttAliveAfter).toBe(true);
    expect(r.httpStatusAfter).toBe(200);
  });
});
