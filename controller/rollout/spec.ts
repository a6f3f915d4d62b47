// The rollout spec: what users write (YAML or JSON), validated with one clear
// error per problem. Field names are the words of the issue: slo, stages,
// abort, rate, deviceTimeoutS, retries.
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { EXECUTION_PROVIDERS, ProviderOptions } from '../../protocol/messages.js';
import { firstIssue } from '../../protocol/first-issue.js';
import { oneLine } from '../../protocol/one-line.js';
import { codedError } from '../../protocol/errors.js';

const percent = z.string().regex(/^(100|[1-9]?[0-9](\.[0-9]+)?)%$/, 'a percentage like "25%"');
const count = z.number().int().min(1).max(100_000);

export const ServiceLevelSpec = z
  .object({
    minFps: z.number().positive().max(10_000).optional(),
    maxP95Ms: z.number().positive().max(600_000).optional(),
    maxMemoryMb: z.number().positive().max(1_000_000).optional(),
    maxTempC: z.number().positive().max(150).optional(),
    /** How long a candidate must hold the level while profiled (seconds). */
    sustainedS: z.number().positive().max(3600).optional(),
    /** Margin a profiled candidate must keep beyond minFps and maxP95Ms (percent, default 10). */
    headroomPct: z.number().min(0).max(100).optional(),
  })
  .strict()
  .refine((s) => s.minFps !== undefined || s.maxP95Ms !== undefined || s.maxMemoryMb !== undefined || s.maxTempC !== undefined, 'give at least one bound: minFps, maxP95Ms, maxMemoryMb or maxTempC');

export const TargetSpec = z.union([
  z.literal('all'),
  z.object({ devices: z.array(z.string().min(1).max(64)).min(1).max(100_000) }).strict(),
  z.object({ labels: z.record(z.string().min(1), z.string()).refine((l) => Object.keys(l).length > 0, 'give at least one label') }).strict(),
]);

export const RolloutSpec = z
  .object({
    name: z.string().min(1).max(128).optional(),
    /** The base model whose ladder is rolled out (its id from `edgefit models`). */
    model: z.string().min(1).max(128),
    /** Restrict the ladder to these candidate ids (or pin one): default the whole ladder. */
    candidates: z.array(z.string().min(1).max(128)).min(1).max(1000).optional(),
    targets: TargetSpec.default('all'),
    slo: ServiceLevelSpec,
    objective: z.literal('highest-accuracy').default('highest-accuracy'),
    stages: z
      .object({
        canary: z.union([count, percent]).default(1),
        phases: z.array(percent).max(20).default(['100%']),
      })
      .strict()
      .default({ canary: 1, phases: ['100%'] }),
    /** At most `maxInFlight` devices between chosen and healthy at once; at most `perMinute` given the model in any minute (default: no such limit). */
    rate: z.object({ maxInFlight: count.default(5), perMinute: count.optional() }).strict().default({ maxInFlight: 5 }),
    abort: z
      .object({
        failurePct: z.number().min(0).max(100).default(20),
        minDevices: z.number().int().min(1).max(100_000).default(1),
      })
      .strict()
      .default({ failurePct: 20, minDevices: 1 }),
    /**
     * The execution providers a class may be profiled and served on, in order
     * of preference (a rollout without profiling takes the first one a class
     * offers); default every provider a class offers. A class offering none
     * of them fails with the reason.
     */
    providers: z
      .array(z.enum(EXECUTION_PROVIDERS))
      .min(1)
      .refine((l) => new Set(l).size === l.length, 'name each provider once')
      .optional(),
    /** Options per provider, used alike for its profile jobs and for serving: `{ tensorrt: { trtFp16: true } }`. */
    providerOptions: z
      .object({ cpu: ProviderOptions.optional(), cuda: ProviderOptions.optional(), tensorrt: ProviderOptions.optional() })
      .strict()
      .superRefine((o, ctx) => {
        for (const [ep, opts] of Object.entries(o)) {
          const trt = Object.keys(opts ?? {}).filter((k) => k.startsWith('trt'));
          if (ep !== 'tensorrt' && trt.length) ctx.addIssue({ code: 'custom', path: [ep, trt[0]], message: `${trt[0]} is a TensorRT option: put it under tensorrt` });
          if (ep === 'cpu' && opts?.deviceId !== undefined) ctx.addIssue({ code: 'custom', path: [ep, 'deviceId'], message: 'deviceId picks a GPU: the cpu provider has none' });
        }
      })
      .optional(),
    /** Deploy the best-ranked candidate without profiling (a pinned, known candidate): no SLO check before deployment. */
    skipProfiling: z.boolean().default(false),
    /**
     * The on-device check (profile jobs carry the model's eval or calibration
     * images): a candidate whose detections on the device reach less than
     * `threshold` fidelity against the same candidate on the controller is
     * broken on that device class and never chosen there. Default 0.9.
     */
    check: z.object({ threshold: z.number().min(0).max(1).default(0.9) }).strict().optional(),
    deviceTimeoutS: z.number().positive().max(86_400).default(600),
    retries: z.number().int().min(0).max(10).default(0),
    /** How each candidate is profiled on a device of a class. */
    profile: z
      .object({
        durationS: z.number().positive().max(600).default(5),
        warmup: z.number().int().min(0).max(1000).default(5),
        threads: z.number().int().min(1).max(256).optional(),
        /**
         * At most this many profiling jobs in flight at once across the
         * rollout's devices (default: no limit): devices that share a host, a
         * network or a power budget would otherwise disturb each other's numbers.
         */
        concurrency: z.number().int().min(1).max(100_000).optional(),
        /**
         * 'class': a device class deploys as soon as its choice is made;
         * 'all': no device deploys before every online target has its choice,
         * so no profile runs next to a freshly deployed model on shared hardware.
         */
        beforeDeploy: z.enum(['class', 'all']).default('class'),
        /** Each profile job also returns time per node (issue #21): the class's operator profiles, which the latency predictor fits on. */
        opProfile: z.boolean().optional(),
      })
      .strict()
      .default({ durationS: 5, warmup: 5, beforeDeploy: 'class' }),
  })
  .strict()
  .superRefine((spec, ctx) => {
    for (const ep of Object.keys(spec.providerOptions ?? {})) {
      if (spec.providers && !spec.providers.includes(ep as (typeof EXECUTION_PROVIDERS)[number])) ctx.addIssue({ code: 'custom', path: ['providerOptions', ep], message: `${ep} is not in providers (${spec.providers.join(', ')})` });
    }
  });
export type RolloutSpec = z.infer<typeof RolloutSpec>;
export type RolloutSpecInput = z.input<typeof RolloutSpec>;

/** What is wrong with a spec, as one printable line: a spec of random bytes must not echo them to the terminal raw. */
export class SpecError extends codedError('E_SPEC') {
  override name = 'SpecError';
  constructor(message: string) {
    super(oneLine(message, 300));
  }
}

/** Validates an already-parsed spec; the error names the field and the problem. */
export function validateSpec(value: unknown): RolloutSpec {
  const parsed = RolloutSpec.safeParse(value);
  if (!parsed.success) {
    throw new SpecError(`rollout spec ${firstIssue(parsed.error)}`);
  }
  return parsed.data;
}

/**
 * Parses YAML or JSON text (JSON is YAML) and validates it. A tag YAML's core
 * schema does not know (`!!js/function`, `!!python/object`) is an error, not a
 * warning: yaml's parse() printed a seven-line warning for it before the
 * spec's own one-line error, and read the tagged text as a plain string.
 */
export function parseSpecText(text: string): RolloutSpec {
  let value: unknown;
  const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];
  try {
    const doc = parseDocument(text, { prettyErrors: false });
    if (doc.errors.length) throw doc.errors[0];
    if (doc.warnings.length) throw new SpecError(`rollout spec is not plain YAML: ${firstLine(doc.warnings[0])}`);
    value = doc.toJS();
  } catch (err) {
    if (err instanceof SpecError) throw err;
    throw new SpecError(`rollout spec is neither YAML nor JSON: ${firstLine(err)}`);
  }
  return validateSpec(value);
}

/** Splits `n` ordered devices into stages: the canary, then each phase up to its cumulative percentage. */
export function stageSizes(n: number, stages: RolloutSpec['stages']): number[] {
  const pct = (p: string) => Math.ceil((Number(p.slice(0, -1)) / 100) * n);
  const sizes: number[] = [];
  let placed = Math.min(n, typeof stages.canary === 'number' ? stages.canary : Math.max(1, pct(stages.canary)));
  sizes.push(placed);
  for (const phase of [...stages.phases, '100%']) {
    const upTo = Math.max(placed, Math.min(n, pct(phase)));
    if (upTo > placed) sizes.push(upTo - placed);
    placed = upTo;
  }
  return sizes.filter((s) => s > 0);
}
