import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ed25519PublicKey, keyFingerprint } from '../../protocol/artifacts.js';
import type { TlsClientOptions } from '../tls/trust.js';
import { basicAuth, getJson } from './download.js';
import { EdgefitError } from '../../protocol/errors.js';

export const PINNED_KEY_FILE = 'controller-key.pem';

export interface PinnedKey {
  publicKeyPem: string;
  fingerprint: string;
}

/** The controller presents (or was given) a key other than the pinned one: nothing it signs is trusted. */
export class ControllerKeyMismatch extends EdgefitError<'E_CONTROLLER_KEY_MISMATCH'> {
  override name = 'ControllerKeyMismatch';
  constructor(
    readonly pinned: string,
    readonly presented: string,
    pinFile: string,
  ) {
    super('E_CONTROLLER_KEY_MISMATCH', { pinned, presented, pinFile });
  }
}

export interface PinOptions {
  stateDir: string;
  controllerUrl: string;
  deviceId: string;
  token: string;
  /** An operator-supplied public key PEM: pinned as is, never learned from the network. */
  explicitKeyPem?: string;
  /** For an https controller: the same trust as downloads. */
  tls?: TlsClientOptions;
  log: Logger;
}

/** GET /enroll/key with the device's credentials. */
export async function fetchControllerKey(controllerUrl: string, deviceId: string, token: string, tls?: TlsClientOptions): Promise<PinnedKey> {
  const res = await getJson(`${controllerUrl.replace(/\/+$/, '')}/enroll/key`, { authorization: basicAuth(deviceId, token) }, tls);
  if (res.status === 401) throw new Error(`controller refused device '${deviceId}' credentials at /enroll/key`);
  if (res.status < 200 || res.status > 299) throw new Error(`GET /enroll/key answered ${res.status}`);
  const body = res.body as { publicKeyPem?: unknown } | undefined;
  if (typeof body?.publicKeyPem !== 'string') throw new Error('GET /enroll/key: no publicKeyPem in the answer');
  return described(body.publicKeyPem);
}

function described(publicKeyPem: string): PinnedKey {
  ed25519PublicKey(publicKeyPem);
  return { publicKeyPem, fingerprint: keyFingerprint(publicKeyPem) };
}

function readPin(file: string): PinnedKey | undefined {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return described(pem);
  } catch (err) {
    throw new Error(`pinned controller key ${file} is unusable (${(err as Error).message}): delete it to re-enroll`);
  }
}

function writePin(file: string, key: PinnedKey): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.tmp`;
  writeFileSync(temp, key.publicKeyPem, { mode: 0o644 });
  renameSync(temp, file);
}

/**
 * The controller key this agent trusts. An explicit key is pinned without
 * asking anyone; otherwise the first key the controller presents is pinned
 * (trust on first use) and every later start checks the controller still
 * presents it. A different key is refused with ControllerKeyMismatch.
 */
export async function pinControllerKey(opts: PinOptions): Promise<PinnedKey> {
  const file = path.join(opts.stateDir, PINNED_KEY_FILE);
  const pinned = readPin(file);
  const explicit = opts.explicitKeyPem === undefined ? undefined : described(opts.explicitKeyPem);
  if (explicit && pinned && explicit.fingerprint !== pinned.fingerprint) throw new ControllerKeyMismatch(pinned.fingerprint, explicit.fingerprint, file);

  const trusted = explicit ?? pinned;
  let presented: PinnedKey | undefined;
  try {
    presented = await fetchControllerKey(opts.controllerUrl, opts.deviceId, opts.token, opts.tls);
  } catch (err) {
    // With a key already trusted, a controller that is down now changes nothing: signatures are checked per artifact.
    if (!trusted) throw err;
    opts.log.warn({ err: (err as Error).message, fingerprint: trusted.fingerprint }, 'could not confirm the controller key; using the pinned one');
  }
  if (trusted && presented && presented.fingerprint !== trusted.fingerprint) throw new ControllerKeyMismatch(trusted.fingerprint, presented.fingerprint, file);

  const key = trusted ?? presented!;
  if (!pinned) {
    writePin(file, key);
    opts.log.info({ fingerprint: key.fingerprint, source: explicit ? 'operator' : 'first use' }, 'pinned the controller artifact key');
  }
  return key;
}
