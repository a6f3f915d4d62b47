import { token } from './token.js';
import { h, setText } from './dom.js';
import { ago, dateTime } from './format.js';

/** How often the panel asks for a newer snapshot (agents send one every 5 s by default; a 304 costs a header). */
const POLL_MS = 2000;

interface SnapshotMeta {
  ts: number;
  candidateId: string | null;
  sha256: string;
  seq: number;
  boxes: number;
  frame: { width: number; height: number };
  image: { width: number; height: number; quality: number };
}

/**
 * The device's latest annotated snapshot (GET /api/devices/:id/snapshot):
 * fetched with the admin token in a header, as a blob, shown through an
 * object URL, asked for again every 2 s with its ETag (304 while unchanged).
 */
export class SnapshotPanel {
  readonly root: HTMLElement;
  private readonly img: HTMLImageElement;
  private readonly caption: HTMLElement;
  private url: string | null = null;
  private etag: string | null = null;
  private meta: SnapshotMeta | null = null;
  private timer = 0;
  private stopped = false;

  constructor(private readonly deviceId: string) {
    this.img = h('img', { class: 'snapshot-img', alt: `latest annotated snapshot of ${deviceId}` });
    this.img.hidden = true;
    this.caption = h('p', { class: 'muted snapshot-caption' }, 'No snapshot yet: the agent sends one every few seconds while a model serves.');
    this.root = h('div', { class: 'panel snapshot' }, h('h2', {}, 'What the camera sees'), this.img, this.caption);
    void this.poll();
  }

  destroy(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    if (this.url) URL.revokeObjectURL(this.url);
  }

  private async poll(): Promise<void> {
    try {
      await this.fetchOnce();
    } catch {
      // the next poll tries again; the last image stays
    }
    if (this.meta) setText(this.caption, this.describe(this.meta));
    if (!this.stopped) this.timer = window.setTimeout(() => void this.poll(), POLL_MS);
  }

  private async fetchOnce(): Promise<void> {
    const current = token();
    if (!current) return;
    const headers = new Headers({ authorization: `Bearer ${current}` });
    if (this.etag) headers.set('if-none-match', this.etag);
    const res = await fetch(`/api/devices/${encodeURIComponent(this.deviceId)}/snapshot`, { headers, cache: 'no-store' });
    if (res.status !== 200 || this.stopped) return;
    const blob = await res.blob();
    if (this.stopped) return;
    const url = URL.createObjectURL(blob);
    const old = this.url;
    this.url = url;
    this.etag = res.headers.get('etag');
    this.meta = parseMeta(res.headers.get('x-edgefit-snapshot'));
    this.img.src = url;
    this.img.hidden = false;
    if (this.meta) this.img.dataset.seq = String(this.meta.seq);
    if (old) URL.revokeObjectURL(old);
  }

  private describe(m: SnapshotMeta): string {
    const scaled = m.image.width !== m.frame.width ? `, shown at ${m.image.width}×${m.image.height}` : '';
    return `${m.boxes} ${m.boxes === 1 ? 'box' : 'boxes'} · ${m.candidateId ?? m.sha256.slice(0, 12)} · frame ${m.frame.width}×${m.frame.height}${scaled} · ${dateTime(m.ts)} (${ago(m.ts, Date.now())})`;
  }
}

function parseMeta(text: string | null): SnapshotMeta | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as SnapshotMeta;
  } catch {
    return null;
  }
}
