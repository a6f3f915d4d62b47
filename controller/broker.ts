import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { CHANNELS, parseDeviceTopic } from '../protocol/channels.js';
import { MAX_PAYLOAD_BYTES, TOPIC_ROOT } from '../protocol/topics.js';
import { MqttFrameGuard } from './mqtt-frame-guard.js';
import { indexRetained, type RetainedStore } from './retained-index.js';
import { closeClientsInBatches, LISTEN_BACKLOG } from './broker-close.js';
import { CONTROLLER_USER } from './registry.js';

export interface EmbeddedBrokerOptions {
  port: number;
  host: string;
  controllerSecret: string;
  /**
   * mqtts: a second listener with TLS (`port`/`host` then stay plain, on loopback).
   * With `requireClientCert`, a client without a certificate signed by `caPem` is refused at the handshake.
   */
  tls?: { port: number; host: string; certPem: string; keyPem: string; caPem: string; requireClientCert: boolean };
  /** True when the device id and token match the registry. */
  authenticateDevice(id: string, token: string): boolean;
  log: Logger;
  /** Told of each publish refused, by reason, for GET /metrics. */
  onRefused?: (reason: 'too-large' | 'acl') => void;
}

export interface EmbeddedBroker {
  port: number;
  /** The mqtts listener's port, when there is one. */
  tlsPort?: number;
  /**
   * Ends every session of a device without its last will (as Mosquitto's
   * dynamic-security plugin kicks a client): after a new token or a removal,
   * a session opened with the old credentials must not go on. Answers how
   * many there were.
   */
  disconnectDevice(id: string): number;
  close(): Promise<void>;
}

type Principal = { role: 'controller' } | { role: 'device'; id: string };

/**
 * The topic ACL, read from the channel table (protocol/channels.ts) as the
 * Mosquitto ACL file is: a device publishes only its own device-to-controller
 * channels and subscribes only to its own controller-to-device ones; the
 * controller may use the whole edgefit tree.
 */
export function mayPublish(principal: Principal, topic: string): boolean {
  if (principal.role === 'controller') return topic.startsWith(`${TOPIC_ROOT}/`);
  const parsed = parseDeviceTopic(topic);
  return parsed?.id === principal.id && CHANNELS[parsed.channel].direction === 'device-to-controller';
}

export function maySubscribe(principal: Principal, filter: string): boolean {
  if (principal.role === 'controller') return filter.startsWith(`${TOPIC_ROOT}/`);
  const parsed = parseDeviceTopic(filter);
  return parsed?.id === principal.id && CHANNELS[parsed.channel].direction === 'controller-to-device';
}

function authError(message: string): AuthenticateError {
  // 4 = bad user name or password (MQTT 3.1.1 CONNACK return code)
  return Object.assign(new Error(message), { returnCode: 4 }) as AuthenticateError;
}

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { log } = opts;
  const principals = new WeakMap<Client, Principal>();
  /** Sessions ended by disconnectDevice: their last will is not published (aedes authorizes a will like any publish). */
  const ended = new WeakSet<Client>();
  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      const token = password?.toString('utf8') ?? '';
      if (username === CONTROLLER_USER && token === opts.controllerSecret) {
        principals.set(client, { role: 'controller' });
        return done(null, true);
      }
      if (username && username !== CONTROLLER_USER && opts.authenticateDevice(username, token)) {
        principals.set(client, { role: 'device', id: username });
        return done(null, true);
      }
      log.warn({ clientId: client.id, username }, 'mqtt connection refused: bad device id or token');
      done(authError('bad device id or token'), false);
    },
    authorizePublish(client, packet, done) {
      const principal = client && principals.get(client);
      if (!principal) return done(new Error('not authenticated'));
      if (client && ended.has(client)) return done(new Error('session ended'));
      if (packet.payload.length > MAX_PAYLOAD_BYTES) {
        log.warn({ clientId: client.id, topic: packet.topic, bytes: packet.payload.length }, 'mqtt publish refused: payload over limit');
        opts.onRefused?.('too-large');
        return done(new Error('payload too large'));
      }
      if (!mayPublish(principal, packet.topic)) {
        log.warn({ clientId: client.id, principal, topic: packet.topic }, 'mqtt publish refused by ACL');
        opts.onRefused?.('acl');
        return done(new Error('not authorized'));
      }
      done(null);
    },
    // Each publish finishes on a fresh stack: aedes reads a connection's next packets from inside the
    // previous one's completion (client.js nextBatch), and the fleet-scale benchmark's controller died
    // with 'RangeError: Maximum call stack size exceeded' down that chain (Aedes.defaultPublished,
    // PublishState.next, Client.nextBatch, Readable.read) in a rollout to 3,000 devices on a loaded box.
    published(_packet, _client, done) {
      setImmediate(done);
    },
    authorizeSubscribe(client, subscription, done) {
      const principal = principals.get(client);
      if (!principal || !maySubscribe(principal, subscription.topic)) {
        log.warn({ clientId: client.id, principal, topic: subscription.topic }, 'mqtt subscribe refused by ACL');
        return done(null, null);
      }
      done(null, subscription);
    },
  });
  // Subscribing to exact topics looks their retained message up instead of scanning all of them (retained-index.ts).
  indexRetained((broker as unknown as { persistence: RetainedStore }).persistence);
  broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'mqtt client error'));

  const connections = new Set<MqttFrameGuard>();
  const handle = (socket: Socket) => {
    const guarded = new MqttFrameGuard(socket, MAX_PAYLOAD_BYTES + 64 * 1024, (rejection) => {
      if (rejection.reason === 'malformed') return log.warn({ remote: socket.remoteAddress }, 'mqtt packet refused: malformed length');
      opts.onRefused?.('too-large');
      log.warn({ remote: socket.remoteAddress, bytes: rejection.announced }, 'mqtt packet refused: over the payload limit');
    });
    connections.add(guarded);
    guarded.once('close', () => connections.delete(guarded));
    broker.handle(guarded);
  };
  const server: Server = createServer(handle);
  const port = await listen(server, opts.port, opts.host);
  log.info({ port, host: opts.host }, 'embedded mqtt broker listening');
  let tlsServer: Server | undefined;
  let tlsPort: number | undefined;
  if (opts.tls) {
    const t = opts.tls;
    const refused = (remote: string | undefined, err: string) => log.warn({ remote, err }, 'mqtts connection refused at the TLS handshake');
    // The client certificate is judged here rather than by rejectUnauthorized, which drops a wrong one without a word:
    // no certificate, or one the CA did not sign, is one warning and a closed socket before any MQTT byte is read.
    const secure = createTlsServer({ cert: t.certPem, key: t.keyPem, ca: t.caPem, requestCert: t.requireClientCert, rejectUnauthorized: false }, (socket) => {
      if (t.requireClientCert && !socket.authorized) {
        refused(socket.remoteAddress, String(socket.authorizationError));
        socket.destroy();
        return;
      }
      handle(socket);
    });
    // A handshake that fails outright (a client that does not trust our CA, plain MQTT on the TLS port) ends here.
    secure.on('tlsClientError', (err: Error & { code?: string }, socket: Socket) => refused(socket.remoteAddress, err.code ?? err.message));
    tlsServer = secure;
    tlsPort = await listen(secure, t.port, t.host);
    log.info({ port: tlsPort, host: t.host, clientCertificates: t.requireClientCert }, 'embedded mqtt broker listening with TLS');
  }

  return {
    port,
    ...(tlsPort === undefined ? {} : { tlsPort }),
    disconnectDevice(id) {
      let n = 0;
      for (const client of Object.values((broker as unknown as { clients: Record<string, Client> }).clients)) {
        const principal = principals.get(client);
        if (principal?.role !== 'device' || principal.id !== id) continue;
        ended.add(client);
        client.close();
        n++;
      }
      if (n > 0) log.info({ device: id, sessions: n }, 'mqtt sessions of the device ended: its credentials changed');
      return n;
    },
    async close() {
      server.close();
      tlsServer?.close();
      await closeClientsInBatches(connections, () => broker.connectedClients);
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => resolve());
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}
