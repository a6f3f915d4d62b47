import mqtt, { type MqttClient } from 'mqtt';

/** One connection attempt, no retry: the client once connected, or the CONNACK refusal's code (4 bad credentials, 5 not authorized). */
export async function connectOnce(url: string, username: string, password: string, clientId = `probe-${username}-${Math.random().toString(36).slice(2, 8)}`): Promise<{ client: MqttClient } | { refused: number }> {
  const client = mqtt.connect(url, { username, password, clientId, reconnectPeriod: 0, connectTimeout: 10_000 });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve({ client }));
    client.once('error', (err: Error & { code?: number }) => {
      client.end(true);
      if (typeof err.code === 'number') resolve({ refused: err.code });
      else reject(err);
    });
  });
}

/**
 * The retained messages a fresh subscriber of `topics` gets. Absence is
 * proven by order, not by waiting: after the subscription stands, the probe
 * publishes a marker on a topic it also subscribed to, and what the broker
 * queued for the subscription comes before the marker.
 */
export async function retainedOn(url: string, username: string, password: string, topics: string[], markerTopic: string): Promise<string[]> {
  const client = await mqtt.connectAsync(url, { username, password, clientId: `retained-${Math.random().toString(36).slice(2, 8)}`, reconnectPeriod: 0 });
  try {
    const seen: string[] = [];
    let marked: () => void = () => undefined;
    const marker = new Promise<void>((resolve) => (marked = resolve));
    const nonce = Math.random().toString(36).slice(2);
    client.on('message', (topic, payload, packet) => {
      if (topic === markerTopic && payload.toString() === nonce) marked();
      else if (packet.retain && payload.length > 0) seen.push(topic);
    });
    await client.subscribeAsync(topics, { qos: 1 });
    await client.subscribeAsync(markerTopic, { qos: 1 });
    await client.publishAsync(markerTopic, nonce, { qos: 1 });
    await marker;
    return seen.sort();
  } finally {
    await client.endAsync();
  }
}
