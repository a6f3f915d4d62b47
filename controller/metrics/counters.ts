import { Counter, type Registry } from 'prom-client';
import { DEVICE_PUBLISHES, DEVICE_SUBSCRIBES, type ControllerChannel, type DeviceChannel } from '../../protocol/channels.js';
import { REJECT_REASONS, type RejectReason } from './reasons.js';

/**
 * What the controller counts as it happens: the edges (broker, fleet link,
 * result intake, artifact downloads) call these; everything else in /metrics
 * is read from live state at scrape time (fleet-gauges.ts, rollout-gauges.ts).
 */
export interface FleetCounters {
  /** A device message arrived on one of its channels (counted before validation: refused ones too). */
  received(channel: DeviceChannel): void;
  /** The controller published on a device's channel (the broker took it). */
  sent(channel: ControllerChannel): void;
  rejected(reason: RejectReason): void;
  /** A profiling job was sent to a device (a resend counts again). */
  jobSent(): void;
  /** A device's profile result was stored (its first delivery; a redelivered one is not counted again). */
  resultStored(ok: boolean): void;
  /** Bytes of artifacts read out to devices. */
  artifactBytes(bytes: number): void;
}

/**
 * The counters, on `registry`. Every label value is known in advance and
 * starts at 0, so `rate()` sees the first increment of each and the label
 * sets are bounded by the channel table and the reason list.
 */
export function fleetCounters(registry: Registry): FleetCounters {
  const registers = [registry];
  const received = new Counter({ name: 'edgefit_mqtt_messages_received_total', help: 'Device messages the controller received, by channel (refused ones included).', labelNames: ['channel'], registers });
  const sent = new Counter({ name: 'edgefit_mqtt_messages_sent_total', help: 'Messages the controller published to devices, by channel.', labelNames: ['channel'], registers });
  const rejected = new Counter({ name: 'edgefit_mqtt_messages_rejected_total', help: 'Device messages refused, by reason (schema, out-of-range, clock, unregistered, wrong-device, too-large, acl).', labelNames: ['reason'], registers });
  const jobs = new Counter({ name: 'edgefit_profile_jobs_sent_total', help: 'Profiling jobs sent to devices (resends included).', registers });
  const results = new Counter({ name: 'edgefit_profile_results_total', help: 'Profile results stored, by outcome (ok, failed); a redelivered result counts once.', labelNames: ['outcome'], registers });
  const bytes = new Counter({ name: 'edgefit_artifact_bytes_served_total', help: 'Artifact bytes read out to devices (ranges of resumed downloads included).', registers });
  for (const channel of DEVICE_PUBLISHES) received.inc({ channel }, 0);
  for (const channel of DEVICE_SUBSCRIBES) sent.inc({ channel }, 0);
  for (const reason of REJECT_REASONS) rejected.inc({ reason }, 0);
  for (const outcome of ['ok', 'failed']) results.inc({ outcome }, 0);
  jobs.inc(0);
  bytes.inc(0);
  return {
    received: (channel) => received.inc({ channel }),
    sent: (channel) => sent.inc({ channel }),
    rejected: (reason) => rejected.inc({ reason }),
    jobSent: () => jobs.inc(),
    resultStored: (ok) => results.inc({ outcome: ok ? 'ok' : 'failed' }),
    artifactBytes: (n) => {
      if (n > 0) bytes.inc(n);
    },
  };
}
