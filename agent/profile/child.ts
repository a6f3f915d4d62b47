// Entry point of the isolated profiling process (see isolate.ts): receives one
// request over IPC, measures, answers, exits. A crash, an out-of-memory kill
// or a hang here ends this process only.
import { z } from 'zod';
import { ProfileOptions } from '../../protocol/messages.js';
import { useOnnxruntimeFromEnv } from '../onnxruntime/binding.js';
import { firstIssue } from '../../protocol/first-issue.js';

// The binding the agent runs (EDGEFIT_ONNXRUNTIME, inherited) must be in place before
// measure.js imports onnxruntime, so that module is loaded only after this.
const measuring = (async () => {
  useOnnxruntimeFromEnv();
  return (await import('./measure.js')).measureProfile;
})();
measuring.catch(() => undefined);

const Request = z.object({ modelPath: z.string(), options: ProfileOptions, framesDir: z.string().optional(), stateDir: z.string().optional(), check: z.array(z.object({ sha256: z.string(), path: z.string() })).max(8).optional() });

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
    (err: unknown) => answer({ ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
