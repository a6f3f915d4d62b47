import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../bench/faults/fault-proxy.js';
import { FAULTS, planRun, reached } from '../../bench/faults/plan.js';

/** An echo server on loopback: what goes in through the proxy comes back through it. */
async function echoServer(): Promise<net.Server> {
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return server;
}

async function connect(proxy: FaultProxy): Promise<net.Socket> {
  const socket = net.connect(proxy.port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  return socket;
}

/** Sends `bytes` and resolves with what came back once as many bytes arrived. */
function roundTrip(socket: net.Socket, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    let n = 0;
    const onData = (d: Buffer) => {
      got.push(d);
      n += d.length;
      if (n >= bytes.length) {
        socket.off('data', onData);
        resolve(Buffer.concat(got));
      }
    };
    socket.on('data', onData);
    socket.write(bytes);
  });
}

describe('the TCP fault proxy (no netem in this kernel)', () => {
  let server: net.Server;
  let proxy: FaultProxy;
  const sockets: net.Socket[] = [];

  async function setUp(seed = 1): Promise<net.Socket> {
    server = await echoServer();
    proxy = await FaultProxy.start({ listenHost: '127.0.0.1', target: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }, seed });
    const s = await connect(proxy);
    sockets.push(s);
    return s;
  }

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await proxy?.close();
    await new Promise((r) => server?.close(r));
  });

  it('passes bytes through unchanged and in order, also when 50% of chunks stall as lost segments', async () => {
    const socket = await setUp();
    const payload = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => i % 251));
    expect((await roundTrip(socket, payload)).equals(payload)).toBe(true);
    proxy.set({ lossP: 0.5, stallMs: [5, 40], jitterMs: 20 });
    const chunks: Buffer[] = [];
    for (let i = 0; i < 40; i++) chunks.push(Buffer.from(`chunk ${i};`));
    const back = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.endsWith('chunk 39;')) resolve(text);
      });
    });
    for (const c of chunks) {
      socket.write(c);
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(await back).toBe(chunks.map(String).join(''));
    expect(proxy.stats.stalls).toBeGreaterThan(0);
  });

  it('delays each direction by at least the latency, and holds a throttled transfer to its bandwidth', async () => {
    const socket = await setUp();
    proxy.set({ latencyMs: 150 });
    let t0 = Date.now();
    await roundTrip(socket, Buffer.from('ping'));
    // there and back: a lower bound holds however slow the machine is
    expect(Date.now() - t0).toBeGreaterThanOrEqual(295);
    proxy.set({ bytesPerSec: 256 * 1024 });
    t0 = Date.now();
    await roundTrip(socket, Buffer.alloc(128 * 1024, 7));
    // 128 KiB at 256 KiB/s each way: 0.5 s there at least (the echo's way back overlaps it)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(480);
  });

  it('swallows everything in a blackhole, and closes the connections it broke when the cut ends', async () => {
    const socket = await setUp();
    proxy.set({ blackhole: true });
    let received = 0;
    socket.on('data', (d: Buffer) => (received += d.length));
    const closed = new Promise((r) => socket.once('close', r));
    socket.write('lost in the cut');
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toBe(0);
    expect(proxy.stats.swallowedBytes).toBe(15);
    proxy.set({});
    await closed;
    // a new connection after the cut works again
    const again = await connect(proxy);
    sockets.push(again);
    expect(String(await roundTrip(again, Buffer.from('back')))).toBe('back');
  });

  it('drops every connection at once', async () => {
    const socket = await setUp();
    const closed = new Promise((r) => socket.once('close', r));
    proxy.dropAll();
    await closed;
    expect(proxy.stats.dropped).toBe(1);
  });
});

describe('fault run plans', () => {
  it('are drawn from the seed alone, and cycle the agents, triggers and brokers a fault allows', () => {
    expect(planRun(7)).toEqual(planRun(7));
    expect(planRun(7)).not.toEqual(planRun(8));
    const plans = Array.from({ length: 200 }, (_, i) => planRun(i + 1));
    expect(new Set(plans.map((p) => p.fault))).toEqual(new Set(FAULTS));
    for (const p of plans) {
      expect(p.agents.map((a) => a.id)).toContain(p.target);
      if (p.fault === 'broker-kill') expect(p.broker).toBe('mosquitto');
      if (p.fault === 'net-cut') expect(p.agents.find((a) => a.id === p.target)!.net).toBe('netns');
      if (p.fault === 'disk-full') expect(p.agents.find((a) => a.id === p.target)!.tmpfsBytes).toBeGreaterThan(0);
      expect(p.agents.filter((a) => a.net !== 'loopback' || a.tmpfsBytes).every((a) => a.id === p.target)).toBe(true);
    }
    expect(planRun(3, 'net-cut', { netns: false }).agents.find((a) => a.net !== 'loopback')!.net).toBe('proxy');
  });

  it('fire once the target reaches the trigger point or has passed it, offline devices by the state they left', () => {
    expect(reached('profiling', null, 'downloading')).toBe(false);
    expect(reached('verifying', null, 'downloading')).toBe(true);
    expect(reached('downloading', null, 'downloading')).toBe(true);
    expect(reached('offline', 'profiling', 'chosen')).toBe(false);
    expect(reached('offline', 'health-check', 'chosen')).toBe(true);
    // an exit (failed, rolled back, cancelled) is past every point: the fault still fires
    expect(reached('failed', null, 'healthy')).toBe(true);
  });
});
