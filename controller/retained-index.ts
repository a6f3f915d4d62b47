// Retained messages by exact topic, in front of aedes' memory persistence.
// On every SUBSCRIBE, aedes-persistence 11 tests each retained message
// against each filter (retainedMessagesByPattern: a full scan per filter). An
// agent subscribes to two exact topics (its jobs and its desired state) while
// the fleet keeps one to three retained messages per device (presence,
// reported, desired), so a storm of N connects costs about 2·N·(N to 3N)
// topic matches: 2·10^8 and more at 10,000 devices, quadratic in the fleet.
// An exact filter matches one topic only: look it up. Filters with wildcards
// (the controller's `+` subscriptions, a few per connect) still scan.
import { Readable } from 'node:stream';

export interface RetainedPacket {
  topic: string;
  payload: Buffer | string;
  [key: string]: unknown;
}

/** The two methods of aedes' persistence this wraps (aedes-persistence's CallBackPersistence). */
export interface RetainedStore {
  storeRetained(packet: RetainedPacket, cb?: (err?: Error | null) => void): unknown;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

export const isExactTopic = (filter: string) => !filter.includes('+') && !filter.includes('#');

/** Wraps `store` in place; returns the index, whose `size` is the retained count. */
export function indexRetained(store: RetainedStore): Map<string, RetainedPacket> {
  const exact = new Map<string, RetainedPacket>();
  const storeRetained = store.storeRetained.bind(store);
  const scan = store.createRetainedStreamCombi.bind(store);
  store.storeRetained = (packet, cb) => {
    // An empty payload clears the topic's retained message (MQTT 3.3.1.3), as the persistence does.
    if (packet.payload.length === 0) exact.delete(packet.topic);
    else exact.set(packet.topic, { ...packet });
    return storeRetained(packet, cb);
  };
  store.createRetainedStreamCombi = (patterns) => {
    if (!patterns.every(isExactTopic)) return scan(patterns);
    return Readable.from(patterns.flatMap((p) => (exact.has(p) ? [exact.get(p)!] : [])));
  };
  return exact;
}
