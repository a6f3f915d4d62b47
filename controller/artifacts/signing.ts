import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalJson, keyFingerprint, type ArtifactManifest } from '../../protocol/artifacts.js';

export const SIGNING_KEY_FILE = 'artifact-signing.key';
/** The public half, for operators to copy to devices (`edgefit agent --controller-key FILE`). */
export const PUBLIC_KEY_FILE = 'artifact-signing.pub.pem';

export interface SigningKey {
  privateKey: KeyObject;
  publicKeyPem: string;
  fingerprint: string;
}

/**
 * The controller's ed25519 artifact key, created once in the data directory
 * (private key owner-only). Losing it means every agent refuses new artifacts
 * until re-pinned, so it is never regenerated over an existing file.
 */
export function loadOrCreateSigningKey(dataDir: string): SigningKey {
  const file = path.join(dataDir, SIGNING_KEY_FILE);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the artifact signing key ${file}: ${(err as Error).message}`);
    mkdirSync(dataDir, { recursive: true });
    const pair = generateKeyPairSync('ed25519');
    // 'wx': two controllers starting on one data dir must not overwrite each other's key.
    writeFileSync(file, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    privateKey = pair.privateKey;
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is a ${privateKey.asymmetricKeyType} key, expected ed25519`);
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(path.join(dataDir, PUBLIC_KEY_FILE), publicKeyPem, { mode: 0o644 });
  return { privateKey, publicKeyPem, fingerprint: keyFingerprint(publicKeyPem) };
}

/** The manifest as canonical JSON and its base64 signature: the signed half of an ArtifactRef. */
export function signManifest(manifest: ArtifactManifest, key: SigningKey): { manifest: string; signature: string } {
  const json = canonicalJson(manifest);
  return { manifest: json, signature: sign(null, Buffer.from(json, 'utf8'), key.privateKey).toString('base64') };
}
