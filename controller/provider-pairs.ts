// The provider dimension, pure: a choice is a (candidate, execution provider)
// pair. The ladder a class is planned on is every candidate on every provider
// the class offers and the rollout allows; each provider is its own precision
// family ('int8 on cuda'), so the bisection and the latency fit stay per
// family: a GPU's latency curve says nothing of the CPU's.
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../protocol/messages.js';
import type { ClassChoice } from './class-plan.js';
import { sloViolations, type Evidence, type LadderCandidate, type ServiceLevel } from './policy.js';

export interface PairCandidate extends LadderCandidate {
  /** The catalog candidate. */
  candidateId: string;
  ep: ExecutionProvider;
}

export const pairId = (candidateId: string, ep: ExecutionProvider): string => `${candidateId}@${ep}`;

/** A pair id back into its candidate and provider; a bare candidate id is the cpu pair (measurements of older controllers). */
export function splitPair(id: string): { candidateId: string; ep: ExecutionProvider } {
  const at = id.lastIndexOf('@');
  const ep = id.slice(at + 1) as ExecutionProvider;
  return at > 0 && EXECUTION_PROVIDERS.includes(ep) ? { candidateId: id.slice(0, at), ep } : { candidateId: id, ep: 'cpu' };
}

/**
 * onnxruntime names a provider 'CUDAExecutionProvider' or 'cuda', agents of
 * different versions report either; anything else (dml, coreml…) is a
 * provider this controller cannot ask for and is left out.
 */
export function normalizeProvider(name: string): ExecutionProvider | null {
  const short = name.toLowerCase().replace(/executionprovider$/, '');
  return (EXECUTION_PROVIDERS as readonly string[]).includes(short) ? (short as ExecutionProvider) : null;
}

/**
 * The providers a class is profiled on: those its devices report that the
 * spec allows, in the spec's order (its preference, which decides what a
 * rollout without profiling gets), else cpu, cuda, tensorrt. A device that
 * reports none (an agent older than the field) offers cpu.
 */
export function classProviders(reported: readonly string[] | undefined, allowed?: readonly ExecutionProvider[]): { providers: ExecutionProvider[]; offered: ExecutionProvider[] } {
  const offered = [...new Set((reported ?? []).map(normalizeProvider).filter((p): p is ExecutionProvider => p !== null))];
  if (offered.length === 0) offered.push('cpu');
  const order = allowed ?? EXECUTION_PROVIDERS;
  return { providers: order.filter((p) => offered.includes(p)), offered: EXECUTION_PROVIDERS.filter((p) => offered.includes(p)) };
}

/**
 * Every candidate on every provider. With one provider the pairs keep the
 * candidates' names and families, so a cpu-only class plans, explains and
 * counts profiles exactly as a ladder of plain candidates; with several, a
 * pair is named 'yolov8n-int8 on tensorrt' and its family 'int8 on tensorrt'.
 */
export function pairLadder(ladder: readonly LadderCandidate[], providers: readonly ExecutionProvider[]): PairCandidate[] {
  const several = providers.length > 1;
  return providers.flatMap((ep) =>
    ladder.map((c) => ({ ...c, id: pairId(c.id, ep), candidateId: c.id, ep, name: several ? `${c.name} on ${ep}` : c.name, family: several ? `${c.family} on ${ep}` : c.family })),
  );
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1));

/** Why the chosen candidate runs on its provider and not on another: one phrase per other provider. */
function otherProviders(pairs: readonly PairCandidate[], chosen: PairCandidate, evidence: ReadonlyMap<string, Evidence>, slo: ServiceLevel): string[] {
  const chosenFps = (evidence.get(chosen.id) as { metrics?: { fps: number } } | undefined)?.metrics?.fps;
  return pairs
    .filter((p) => p.candidateId === chosen.candidateId && p.ep !== chosen.ep)
    .map((p) => {
      const e = evidence.get(p.id) ?? { basis: 'unknown' as const };
      switch (e.basis) {
        case 'failed':
          return `on ${p.ep}: profile failed: ${e.error}`;
        case 'implied':
          return `on ${p.ep}: at least as slow as ${pairs.find((x) => x.id === e.by)?.name ?? e.by}, which failed ${e.violations.join(', ')}`;
        case 'unknown':
          return `on ${p.ep}: not measured`;
        case 'measured':
        case 'predicted': {
          const how = e.basis === 'measured' ? 'measured' : "predicted from this class's latency model";
          const v = sloViolations(e.metrics, slo);
          return v.length ? `on ${p.ep}: ${v.join(', ')} (${how})` : `on ${p.ep}: ${fmt(e.metrics.fps)} FPS against ${chosenFps === undefined ? '?' : fmt(chosenFps)} (${how}), slower`;
        }
      }
    });
}

/**
 * A class's choice over pairs, as a device stores it: the catalog candidate
 * and its provider, the rejections likewise; the explanation also says why
 * the chosen candidate did not go to each other provider of the class.
 */
export function choiceOfPair(choice: ClassChoice, pairs: readonly PairCandidate[] = [], evidence: ReadonlyMap<string, Evidence> = new Map(), slo: ServiceLevel = {}): ClassChoice {
  const chosen = choice.candidateId === null ? null : splitPair(choice.candidateId);
  const pair = choice.candidateId === null ? undefined : pairs.find((p) => p.id === choice.candidateId);
  const others = pair ? otherProviders(pairs, pair, evidence, slo) : [];
  return {
    ...choice,
    ...(others.length ? { explanation: `${choice.explanation} ${pair!.name.replace(/ on \w+$/, '')} on other providers: ${others.join('; ')}.` } : {}),
    candidateId: chosen?.candidateId ?? null,
    ...(chosen ? { ep: chosen.ep } : {}),
    rejected: choice.rejected.map((r) => ({ ...r, ...splitPair(r.candidateId) })),
  };
}
