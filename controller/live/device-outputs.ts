import type { DetectionsMessage, SnapshotMessage } from '../../protocol/messages.js';

/** A device's latest snapshot as the controller serves it: the JPEG's bytes and what the agent said of them. */
export interface StoredSnapshot {
  jpeg: Buffer;
  meta: Omit<SnapshotMessage, 'jpeg'>;
  /** When the controller received it (the device's clock may be off). */
  receivedAt: number;
}

/**
 * The latest detections record and annotated snapshot of each device, in
 * memory only: both are live views (a few seconds old at most while the
 * device serves), nothing a restart must keep. At most one of each per
 * device: 64 KiB a device for snapshots.
 */
export class DeviceOutputs {
  private readonly detections = new Map<string, DetectionsMessage>();
  private readonly snapshots = new Map<string, StoredSnapshot>();
  private readonly snapshotListeners = new Set<(deviceId: string, snapshot: StoredSnapshot) => void>();

  recordDetections(deviceId: string, record: DetectionsMessage): void {
    // QoS 0 may reorder across reconnects: an older frame never replaces a newer one of the same model
    const before = this.detections.get(deviceId);
    if (before && before.sha256 === record.sha256 && before.seq > record.seq) return;
    this.detections.set(deviceId, record);
  }

  latestDetections(deviceId: string): DetectionsMessage | undefined {
    return this.detections.get(deviceId);
  }

  recordSnapshot(deviceId: string, snapshot: SnapshotMessage): void {
    const { jpeg, ...meta } = snapshot;
    const stored = { jpeg: Buffer.from(jpeg, 'base64'), meta, receivedAt: Date.now() };
    this.snapshots.set(deviceId, stored);
    for (const listener of this.snapshotListeners) listener(deviceId, stored);
  }

  latestSnapshot(deviceId: string): StoredSnapshot | undefined {
    return this.snapshots.get(deviceId);
  }

  onSnapshot(listener: (deviceId: string, snapshot: StoredSnapshot) => void): () => void {
    this.snapshotListeners.add(listener);
    return () => this.snapshotListeners.delete(listener);
  }

  /** A device removed from the registry takes its views with it. */
  forget(deviceId: string): void {
    this.detections.delete(deviceId);
    this.snapshots.delete(deviceId);
  }
}
