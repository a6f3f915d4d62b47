import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ArtifactManifest, SHA256_PATTERN, type ArtifactKind, type ArtifactRef } from '../../protocol/artifacts.js';
import type { Db } from '../db.js';
import { signManifest, type SigningKey } from './signing.js';
import { firstIssue } from '../../protocol/first-issue.js';
import { EdgefitError } from '../../protocol/errors.js';

export interface ArtifactMeta {
  name: string;
  /** Default 'model'. */
  kind?: ArtifactKind;
  lineage?: Record<string, unknown>;
}

export interface StoredArtifact {
  sha256: string;
  size: number;
  name: string;
  kind: ArtifactKind;
  createdAt: number;
  ref: ArtifactRef;
}

/** Bad input to put(): an empty body, a bad name, a body over the limit. */
export class ArtifactInputError extends EdgefitError<'E_ARTIFACT_INVALID' | 'E_ARTIFACT_TOO_LARGE'> {
  override name = 'ArtifactInputError';
  constructor(
    message: string,
    readonly kind: 'invalid' | 'too-large',
  ) {
    super(kind === 'too-large' ? 'E_ARTIFACT_TOO_LARGE' : 'E_ARTIFACT_INVALID', { reason: message });
  }
}

interface ArtifactRow {
  sha256: string;
  size: number;
  name: string;
  kind: ArtifactKind;
  manifest: string;
  signature: string;
  created_at: number;
}

function toStored(row: ArtifactRow): StoredArtifact {
  return {
    sha256: row.sha256,
    size: row.size,
    name: row.name,
    kind: row.kind,
    createdAt: row.created_at,
    ref: { sha256: row.sha256, size: row.size, manifest: row.manifest, signature: row.signature },
  };
}

/**
 * Content-addressed artifact store: `<dataDir>/artifacts/<sha256>`, one signed
 * manifest per content. Files arrive through a temp file and a rename, so a
 * path under the store is always complete; putting the same bytes again
 * returns the first ref.
 */
export class ArtifactStore {
  readonly dir: string;

  constructor(
    private readonly db: Db,
    dataDir: string,
    private readonly key: SigningKey,
  ) {
    this.dir = path.join(dataDir, 'artifacts');
    mkdirSync(this.dir, { recursive: true });
  }

  /** Stores bytes, a file (by path) or a stream of chunks; `maxBytes` bounds what is accepted. */
  async put(source: Uint8Array | string | AsyncIterable<Uint8Array>, meta: ArtifactMeta, opts: { maxBytes?: number } = {}): Promise<ArtifactRef> {
    const metaCheck = ArtifactManifest.pick({ name: true, kind: true, lineage: true }).partial({ kind: true }).safeParse(meta);
    if (!metaCheck.success) {
      throw new ArtifactInputError(`artifact ${firstIssue(metaCheck.error, 'meta')}`, 'invalid');
    }
    const chunks = typeof source === 'string' ? createReadStream(source) : source instanceof Uint8Array ? [source] : source;
    const { sha256, size } = await this.ingest(chunks, opts.maxBytes ?? Number.MAX_SAFE_INTEGER);

    const kind = meta.kind ?? 'model';
    const manifest: ArtifactManifest = { sha256, size, name: meta.name, kind, createdAt: Date.now(), ...(meta.lineage ? { lineage: meta.lineage } : {}) };
    const signed = signManifest(manifest, this.key);
    this.db
      .prepare('INSERT OR IGNORE INTO artifacts (sha256, size, name, kind, manifest, signature, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(sha256, size, meta.name, kind, signed.manifest, signed.signature, manifest.createdAt);
    return this.get(sha256)!.ref;
  }

  get(sha256: string): StoredArtifact | undefined {
    if (!SHA256_PATTERN.test(sha256)) return undefined;
    const row = this.db.prepare('SELECT * FROM artifacts WHERE sha256 = ?').get(sha256) as ArtifactRow | undefined;
    return row && toStored(row);
  }

  list(): StoredArtifact[] {
    return (this.db.prepare('SELECT * FROM artifacts ORDER BY created_at, sha256').all() as ArtifactRow[]).map(toStored);
  }

  /** The file of a stored artifact; undefined when unknown or its file is gone. */
  pathOf(sha256: string): string | undefined {
    if (!this.get(sha256)) return undefined;
    const file = path.join(this.dir, sha256);
    return existsSync(file) ? file : undefined;
  }

  private async ingest(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, maxBytes: number): Promise<{ sha256: string; size: number }> {
    const temp = path.join(this.dir, `.incoming-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const file = await open(temp, 'wx', 0o644);
    try {
      for await (const chunk of chunks) {
        size += chunk.byteLength;
        if (size > maxBytes) throw new ArtifactInputError(`artifact is larger than the ${maxBytes} byte limit`, 'too-large');
        hash.update(chunk);
        await file.write(chunk);
      }
      if (size === 0) throw new ArtifactInputError('artifact is empty', 'invalid');
      await file.sync();
    } catch (err) {
      await file.close();
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    await file.close();
    const sha256 = hash.digest('hex');
    // Same content, same name: replacing an existing file changes nothing a reader could see.
    await rename(temp, path.join(this.dir, sha256));
    return { sha256, size };
  }
}
