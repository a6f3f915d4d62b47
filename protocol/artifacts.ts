import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { firstIssue } from './first-issue.js';

// Artifacts (model files) are content-addressed by sha256. The controller signs
// a small manifest per artifact with its ed25519 key; the agent pins that key
// at enrollment and checks the signature, the manifest and the bytes before a
// file is ever installed. Signing lives on the controller; everything here is
// pure verification, shared by both sides.

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

export const ARTIFACT_KINDS = ['model', 'frame'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export const ArtifactManifest = z
  .object({
    sha256: z.string().regex(SHA256_PATTERN),
    size: z.number().int().nonnegative(),
    name: z.string().min(1).max(255),
    /** 'model': an ONNX file to profile or serve; 'frame': a reference image of the on-device check. */
    kind: z.enum(ARTIFACT_KINDS),
    createdAt: z.number().int().nonnegative(),
    /** Where the candidate came from (base model, compression recipe...): opaque here. */
    lineage: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type ArtifactManifest = z.infer<typeof ArtifactManifest>;

/** What desired-state and job messages carry to point a device at a model. */
export const ArtifactRef = z.object({
  sha256: z.string().regex(SHA256_PATTERN),
  size: z.number().int().nonnegative(),
  /** The manifest exactly as signed (canonical JSON). */
  manifest: z.string().min(2).max(64 * 1024),
  /** base64 ed25519 signature over the UTF-8 bytes of `manifest`. */
  signature: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/).max(200),
});
export type ArtifactRef = z.infer<typeof ArtifactRef>;

/** JSON with object keys sorted at every level: one byte string per value, so a signature is reproducible. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Parses an ed25519 public key PEM; throws with a plain reason for anything else. */
export function ed25519PublicKey(publicKeyPem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(publicKeyPem);
  } catch (err) {
    throw new Error(`not a public key PEM: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`expected an ed25519 public key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/** sha256 of the key's DER SubjectPublicKeyInfo, hex: what operators compare by eye. */
export function keyFingerprint(publicKeyPem: string): string {
  const der = ed25519PublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

/** True when `signature` is the key's ed25519 signature over exactly `manifestJson`. */
export function verifyManifest(manifestJson: string, signature: string, publicKeyPem: string): boolean {
  const sig = Buffer.from(signature, 'base64');
  if (sig.length !== 64) return false;
  return verify(null, Buffer.from(manifestJson, 'utf8'), ed25519PublicKey(publicKeyPem), sig);
}

export type RefCheck = { ok: true; manifest: ArtifactManifest } | { ok: false; reason: 'signature' | 'manifest'; message: string };

/**
 * Everything about a ref that can be checked without its bytes: the signature
 * against the pinned key, the manifest's shape, and that the manifest names the
 * same sha256 and size as the ref around it.
 */
export function checkRef(ref: ArtifactRef, publicKeyPem: string): RefCheck {
  if (!verifyManifest(ref.manifest, ref.signature, publicKeyPem)) {
    return { ok: false, reason: 'signature', message: `manifest signature of ${ref.sha256} does not verify against the pinned controller key` };
  }
  let json: unknown;
  try {
    json = JSON.parse(ref.manifest);
  } catch {
    return { ok: false, reason: 'manifest', message: 'manifest is not JSON' };
  }
  const parsed = ArtifactManifest.safeParse(json);
  if (!parsed.success) {
    return { ok: false, reason: 'manifest', message: `manifest ${firstIssue(parsed.error, 'body')}` };
  }
  const manifest = parsed.data;
  if (manifest.sha256 !== ref.sha256) return { ok: false, reason: 'manifest', message: `manifest names sha256 ${manifest.sha256}, the ref ${ref.sha256}` };
  if (manifest.size !== ref.size) return { ok: false, reason: 'manifest', message: `manifest names ${manifest.size} bytes, the ref ${ref.size}` };
  return { ok: true, manifest };
}

/**
 * The kind a ref's manifest names, or undefined when it names none that is
 * known. Read it only after the ref has verified (checkRef, or an artifact
 * source's ensure): a signed frame must never be installed as a model.
 */
export function refKind(ref: ArtifactRef): ArtifactKind | undefined {
  try {
    const kind = (JSON.parse(ref.manifest) as { kind?: unknown }).kind;
    return (ARTIFACT_KINDS as readonly unknown[]).includes(kind) ? (kind as ArtifactKind) : undefined;
  } catch {
    return undefined;
  }
}
