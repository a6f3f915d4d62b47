// Entry point of the isolated profiling process (see isolate.ts): receives one
// request over IPC, measures, answers, exits. A crash, an out-of-memory kill
// or a hang here ends this process only.
import { z } from 'zod';
import { ProfileOptions } from '../../protocol/messages.js';
import { useOnnxruntimeFromEnv } from '../onnxruntime/binding.js';
import { firstIssue } from '../../protocol/first-issue.js';
import { oneLine } from '../../protocol/one-line.js';

// The binding the agent runs (EDGEFIT_ONNXRUNTIME, inherited) must be in place before
// measure.js imports onnxruntime, so that module is loaded only after this.
const measuring = (async () => {
  useOnnxruntimeFromEnv();
  return (await import('./measure.js')).measureProfile;
})();
measuring.catch(() => undefined);

/** The agent's parsed --source (agent/source/spec.ts), as it crosses the IPC channel. */
const SourceSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('image'), path: z.string().min(1) }),
  z.object({ kind: z.literal('folder'), path: z.string().min(1) }),
  z.object({ kind: z.literal('video'), path: z.string().min(1) }),
  z.object({ kind: z.literal('device'), path: z.string().regex(/^\/dev\/video\d+$/), index: z.number().int().nonnegative() }),
  z.object({ kind: z.literal('stream'), url: z.string().url(), protocol: z.enum(['rtsp', 'rtsps', 'http', 'https']) }),
]);

const Request = z.object({ modelPath: z.string(), options: ProfileOptions, framesDir: z.string().optional(), source: SourceSpec.optional(), stateDir: z.string().optional(), check: z.array(z.object({ sha256: z.string(), path: z.string() })).max(8).optional() });

function answer(message: unknown): void {
  process.send!(message, () => process.exit(0));
}

// The agent that asked is gone: nobody will read the answer.
process.once('disconnect', () => process.exit(1));

process.once('message', (raw: unknown) => {
  const request = Request.safeParse(raw);
  if (!request.success) return answer({ ok: false, error: `bad profiling request: ${firstIssue(request.error)}` });
  measuring.then((measureProfile) => measureProfile(request.data)).then(
    (report) => answer({ ok: true, report }),
    // one line: onnxruntime's messages run over several (a batch of 2^31 gave three, newlines and all, in `profile --json`)
    (err: unknown) => answer({ ok: false, error: oneLine(err instanceof Error ? err.message : String(err), 2000) }),
  );
});
