// Pages of the device list. The whole fleet in one answer was 6.6 MB with a
// p99 of 0.7 s at 10,000 devices in the first scale probe, built and
// serialised on the controller's one event loop while devices waited. A page
// is a slice in id order after a cursor (the last id of the page before), so
// devices added or removed meanwhile never shift a page the way an offset would.
import { z } from 'zod';
import { DEVICE_ID_PATTERN } from '../../protocol/topics.js';

/** 500 rows are about 330 KB of JSON (about 660 bytes a device with its inventory and heartbeat). */
export const DEVICE_PAGE = { default: 500, max: 2000 } as const;

export const DevicePageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(DEVICE_PAGE.max).default(DEVICE_PAGE.default),
  /** The `next` of the page before: the last device id it held. */
  after: z.string().regex(DEVICE_ID_PATTERN, 'a device id (the `next` of the page before)').optional(),
  /** `include`: removed devices too, each with its `removedAt` (`devices --removed`). */
  removed: z.enum(['include']).optional(),
});

export interface Page<T> {
  devices: T[];
  /** The cursor of the next page, or null on the last one. */
  next: string | null;
}

/** A page from up to `limit + 1` rows in id order: the extra row only says that another page follows. */
export function toPage<T extends { id: string }>(rows: readonly T[], limit: number): Page<T> {
  const devices = rows.slice(0, limit);
  return { devices, next: rows.length > limit ? devices[devices.length - 1].id : null };
}
