// Module resolve hook (registered by binding.ts with module.register, so it
// runs on Node's loader thread): every `import 'onnxruntime-node'` in this
// process resolves to the local build named by --onnxruntime.
interface HookData {
  entryUrl: string;
}

let entryUrl: string | undefined;

export function initialize(data: HookData): void {
  entryUrl = data.entryUrl;
}

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string; format?: string; shortCircuit?: boolean }> {
  if (entryUrl !== undefined && specifier === 'onnxruntime-node') return { url: entryUrl, format: 'commonjs', shortCircuit: true };
  return next(specifier, context);
}
