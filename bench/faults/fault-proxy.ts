// A TCP fault proxy between an agent and the controller's broker or HTTP
// port, on loopback or a namespace's veth address only. This kernel has no
// netem qdisc (CONFIG_NET_SCH_NETEM unset) and no iptables, so latency, loss
// and throttling are made here, per chunk, in order: a lost TCP segment shows
// the application a stall of a retransmit timeout (200 ms and up), never a
// gap in the stream, so "loss" is a seeded chance of such a stall; a cut is a
// blackhole (bytes swallowed, connections held, then closed as a dead peer's
// would be); a drop closes every connection at once.
import net from 'node:net';
import { mulberry32 } from '../../compress/random.js';

export interface Impairment {
  /** Added to every chunk, each direction. */
  latencyMs?: number;
  /** Up to this much more, uniform. */
  jitterMs?: number;
  /** Chance that a chunk waits as a lost segment would: a retransmit timeout of `stallMs` (min, max). */
  lossP?: number;
  stallMs?: readonly [number, number];
  /** Bandwidth each direction of each connection (bytes per second). */
  bytesPerSec?: number;
  /** Swallow everything and hold new connections; connections that lost bytes are closed when it ends. */
  blackhole?: boolean;
}

export interface ProxyStats {
  connections: number;
  chunks: number;
  stalls: number;
  dropped: number;
  swallowedBytes: number;
}

/** Upstream bytes buffered per direction before the sender is paused (throttling would otherwise buffer a whole model). */
const HIGH_WATER = 256 * 1024;

class Direction {
  private nextAt = 0;
  private pending = 0;
  private closing = false;
  private readonly queue: Array<{ chunk: Buffer; at: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  /** Bytes were swallowed by a blackhole: the stream is broken and must end. */
  lost = false;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly proxy: FaultProxy,
  ) {
    from.on('data', (chunk: Buffer) => this.take(chunk));
    from.on('end', () => this.finish());
  }

  private take(chunk: Buffer): void {
    const imp = this.proxy.impairment;
    const stats = this.proxy.stats;
    stats.chunks++;
    if (imp.blackhole) {
      this.lost = true;
      stats.swallowedBytes += chunk.length;
      return;
    }
    const now = Date.now();
    let delay = (imp.latencyMs ?? 0) + (imp.jitterMs ?? 0) * this.proxy.random();
    if (imp.lossP && this.proxy.random() < imp.lossP) {
      const [lo, hi] = imp.stallMs ?? [200, 1000];
      delay += lo + (hi - lo) * this.proxy.random();
      stats.stalls++;
    }
    // In order: a chunk never overtakes the one before it, and under a bandwidth cap it takes its
    // transmission time once the chunks before it are through.
    const sendTime = imp.bytesPerSec ? (chunk.length / imp.bytesPerSec) * 1000 : 0;
    const at = Math.max(now + delay, this.nextAt) + sendTime;
    this.nextAt = at;
    this.pending += chunk.length;
    if (this.pending > HIGH_WATER) this.from.pause();
    this.queue.push({ chunk, at });
    this.pump();
  }

  /**
   * Delivers the due chunks from the head of the queue, then waits for the next one. One queue and one
   * timer per direction: a timer per chunk let a later chunk overtake an earlier one whose timer fired
   * late (Node keeps timers of different durations in different lists; seen as 'chunk 24;chunk 25;chunk
   * 23;' in the suite at 50% stalls).
   */
  private pump(): void {
    if (this.timer) return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0].at <= now) {
      const { chunk } = this.queue.shift()!;
      this.pending -= chunk.length;
      if (!this.to.destroyed) this.to.write(chunk);
    }
    if (this.pending <= HIGH_WATER && this.from.isPaused()) this.from.resume();
    this.endIfDrained();
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, this.queue[0].at - now);
    }
  }

  /** The sender is done (FIN, or gone): end the receiver once every delayed chunk is through. */
  finish(): void {
    this.closing = true;
    this.endIfDrained();
  }

  private endIfDrained(): void {
    if (this.closing && this.pending === 0 && !this.to.destroyed && !this.to.writableEnded) this.to.end();
  }
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  directions: Direction[];
}

export class FaultProxy {
  impairment: Impairment = {};
  readonly stats: ProxyStats = { connections: 0, chunks: 0, stalls: 0, dropped: 0, swallowedBytes: 0 };
  readonly random: () => number;
  private readonly pairs = new Set<Pair>();

  private constructor(
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
    seed: number,
  ) {
    this.random = mulberry32(seed);
  }

  /** Listens on `listenHost` (loopback or a namespace's host-side address) and forwards to `target`. */
  static async start(o: { listenHost: string; listenPort?: number; target: { host: string; port: number }; seed: number }): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = net.createServer({ allowHalfOpen: true }, (client) => proxy!.accept(client, o.target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.listenPort ?? 0, o.listenHost, () => resolve());
    });
    proxy = new FaultProxy(server, o.listenHost, (server.address() as net.AddressInfo).port, o.seed);
    return proxy;
  }

  get url(): string {
    return `${this.host}:${this.port}`;
  }

  /** Applies an impairment from now on; ending a blackhole closes the connections it broke. */
  set(impairment: Impairment): void {
    const wasBlackhole = this.impairment.blackhole;
    this.impairment = impairment;
    if (wasBlackhole && !impairment.blackhole) {
      for (const p of [...this.pairs]) if (p.directions.some((d) => d.lost)) this.destroy(p, true);
    }
  }

  /** Every connection closed at once, as a peer reset would. */
  dropAll(): void {
    for (const p of [...this.pairs]) this.destroy(p, true);
  }

  async close(): Promise<void> {
    for (const p of [...this.pairs]) this.destroy(p);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket, target: { host: string; port: number }): void {
    this.stats.connections++;
    // Half-open sockets: each direction ends its receiver itself, after its delayed chunks, never before.
    const upstream = net.connect({ port: target.port, host: target.host, allowHalfOpen: true });
    const pair: Pair = { client, upstream, directions: [] };
    this.pairs.add(pair);
    const up = new Direction(client, upstream, this);
    const down = new Direction(upstream, client, this);
    pair.directions.push(up, down);
    client.on('error', () => this.destroy(pair));
    upstream.on('error', () => this.destroy(pair));
    const closed = () => {
      if (client.destroyed && upstream.destroyed) this.pairs.delete(pair);
    };
    client.on('close', () => (up.finish(), closed()));
    upstream.on('close', () => (down.finish(), closed()));
  }

  private destroy(p: Pair, fault = false): void {
    if (!this.pairs.delete(p)) return;
    if (fault) this.stats.dropped++;
    p.client.destroy();
    p.upstream.destroy();
  }
}
