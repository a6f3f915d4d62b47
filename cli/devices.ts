import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RemoveResult, RotateResult } from '../controller/device-lifecycle.js';
import type { Device } from '../controller/registry.js';
import { TLS_DIR } from '../controller/tls/files.js';
import { refuseFile } from './files.js';
import { UsageError, parse, printJson } from './args.js';
import { usageLine, type CommandSpec } from './command-spec.js';
import { ApiClient, DEFAULT_DATA_DIR } from './api-client.js';

const flags = { json: { type: 'boolean' }, controller: { type: 'string' }, data: { type: 'string' } } as const;

function ago(ts: number | null): string {
  if (ts === null) return 'never';
  const s = Math.round((Date.now() - ts) / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

/** `edgefit devices [--removed] [--json]` */
export async function run(argv: string[]): Promise<void> {
  const { values } = parse('devices', argv, { ...flags, removed: { type: 'boolean' } }, false);
  const api = ApiClient.fromFlags('devices', values.controller, values.data);
  // The API answers in pages (controller/http/device-page.ts): follow them to the end.
  const devices: Device[] = [];
  const removed = values.removed ? '&removed=include' : '';
  for (let after: string | null = ''; after !== null; ) {
    const page: { devices: Device[]; next: string | null } = await api.request('GET', `/api/devices?limit=2000${removed}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    devices.push(...page.devices);
    after = page.next;
  }
  if (values.json) return printJson(devices);
  if (devices.length === 0) {
    process.stdout.write("no devices yet: add one with 'edgefit devices add NAME'\n");
    return;
  }
  const rows = [['ID', 'STATE', 'LAST SEEN', 'CLASS', 'BOARD / CPU', 'LABELS']];
  for (const d of devices) {
    rows.push([
      d.id,
      d.removedAt !== undefined ? 'removed' : d.online ? 'online' : 'offline',
      ago(d.lastSeen),
      d.deviceClass ?? '-',
      d.inventory ? (d.inventory.boardModel ?? `${d.inventory.cpuModel} ×${d.inventory.cpuCores}`) : '-',
      Object.entries(d.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-',
    ]);
  }
  process.stdout.write(table(rows));
}

/** `edgefit devices add NAME [--label k=v]... [--cert-out DIR]`: prints the device's token once. */
export async function add(argv: string[]): Promise<void> {
  const { values, positionals } = parse('devices add', argv, { ...flags, label: { type: 'string', multiple: true }, 'cert-out': { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError('devices add: give exactly one device NAME');
  const labels = Object.fromEntries((values.label ?? []).map((l) => splitLabel('devices add', l)));
  const certOut = values['cert-out'];
  const dataDir = values.data ?? DEFAULT_DATA_DIR;
  // checked before the device is registered: a half-done add would leave a token printed and no certificate
  // the X.509 code loads only when a certificate is to be issued
  const certs = certOut === undefined ? undefined : await import('../controller/tls/store.js');
  if (certOut !== undefined && certs) {
    refuseFile('devices add', 'cert-out', certOut);
    if (!certs.readCaKey(dataDir)) throw new UsageError(`devices add: --cert-out needs the CA key in ${path.join(dataDir, TLS_DIR)}, made by 'controller --tls' on that data folder (run it there, with --data DIR)`);
  }
  const api = ApiClient.fromFlags('devices add', values.controller, values.data);
  const result = await api.request<{ device: Device; token: string; note?: string }>('POST', '/api/devices', { id: positionals[0], labels });
  if (result.note) process.stderr.write(`edgefit: devices add: ${result.note}\n`);
  if (certOut !== undefined && certs) {
    const issued = await certs.issueDeviceCertificate(dataDir, positionals[0]);
    mkdirSync(certOut, { recursive: true });
    writeFileSync(path.join(certOut, 'device-key.pem'), issued.keyPem, { mode: 0o600 });
    writeFileSync(path.join(certOut, 'device.pem'), issued.certPem);
    writeFileSync(path.join(certOut, 'ca.pem'), issued.caPem);
    process.stderr.write(`wrote ${positionals[0]}'s client certificate to ${certOut}: device.pem, device-key.pem and ca.pem; hand the folder to the device (agent --ca ca.pem --cert device.pem --key device-key.pem)\n`);
  }
  if (values.json) return printJson(result);
  process.stdout.write(`${result.token}\n`);
  process.stderr.write(`device '${positionals[0]}' added. Start its agent with:\n  edgefit agent --broker mqtt://<controller>:1883 --id ${positionals[0]} --token <the token above>\nThe token is shown only now.\n`);
}

/** `edgefit devices label ID key=value [key=value...]`; `key=` removes a label. */
export async function label(argv: string[], spec: CommandSpec): Promise<void> {
  const { values, positionals } = parse('devices label', argv, flags);
  if (positionals.length < 2) throw new UsageError(`devices label: ${usageLine(spec)}`);
  const [id, ...pairs] = positionals;
  const labels = Object.fromEntries(pairs.map((p) => splitLabel('devices label', p)).map(([k, v]) => [k, v === '' ? null : v]));
  const api = ApiClient.fromFlags('devices label', values.controller, values.data);
  const device = await api.request<Device>('POST', `/api/devices/${encodeURIComponent(id)}/labels`, { labels });
  if (values.json) return printJson(device);
  process.stdout.write(`${id}: ${Object.entries(device.labels).map(([k, v]) => `${k}=${v}`).join(' ') || '(no labels)'}\n`);
}

/** `edgefit devices remove ID [--json]`: revokes its credentials, clears its retained topics, keeps its history marked removed. */
export async function remove(argv: string[], spec: CommandSpec): Promise<number | void> {
  const { values, positionals } = parse('devices remove', argv, flags);
  if (positionals.length !== 1) throw new UsageError(`devices remove: give exactly one device ID; ${usageLine(spec)}`);
  const [id] = positionals;
  const api = ApiClient.fromFlags('devices remove', values.controller, values.data);
  const result = await api.request<RemoveResult>('DELETE', `/api/devices/${encodeURIComponent(id)}`);
  // the broker kept credentials it was told to drop: the removal is not done, and a script must know
  const unfinished = result.broker === 'dynsec' && !result.revoked;
  if (values.json) {
    printJson(result);
    return unfinished ? 1 : undefined;
  }
  const broker = result.revoked ? (result.broker === 'dynsec' ? "its client deleted from the broker's dynamic security" : 'its token refused by the broker') : 'its token refused by the controller';
  process.stdout.write(`device '${id}' removed${result.again ? ' (again)' : ''}: ${broker}, ${result.retainedCleared.length} retained topics cleared, its history kept (devices --removed lists it)\n`);
  if (result.note) process.stderr.write(`edgefit: devices remove: ${result.note}\n`);
  return unfinished ? 1 : undefined;
}

/** `edgefit devices rotate-token ID [--json]`: prints the new token once; the old one is refused from then on. */
export async function rotateToken(argv: string[], spec: CommandSpec): Promise<void> {
  const { values, positionals } = parse('devices rotate-token', argv, flags);
  if (positionals.length !== 1) throw new UsageError(`devices rotate-token: give exactly one device ID; ${usageLine(spec)}`);
  const [id] = positionals;
  const api = ApiClient.fromFlags('devices rotate-token', values.controller, values.data);
  const result = await api.request<RotateResult>('POST', `/api/devices/${encodeURIComponent(id)}/token`);
  if (values.json) return printJson(result);
  process.stdout.write(`${result.token}\n`);
  process.stderr.write(
    `device '${id}' has a new token, shown only now; the old one is refused from now on${result.disconnected ? ' and its session was ended' : ''}.\n` +
      `An agent started with --token-file FILE takes it when FILE holds it (it reads FILE again when the broker refuses it); otherwise restart the agent with the new token.\n`,
  );
  if (result.note) process.stderr.write(`edgefit: devices rotate-token: ${result.note}\n`);
}

function splitLabel(command: string, pair: string): [string, string] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new UsageError(`${command}: labels are key=value, got '${pair}'`);
  return [pair.slice(0, eq), pair.slice(eq + 1)];
}
