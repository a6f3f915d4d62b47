// edgefit model dequantize FILE -o OUT
import { parse, requireFlag, UsageError } from './args.js';
import { usageLine, type CommandSpec } from './command-spec.js';
import { outputPath, writeModelOutput } from './files.js';
import { dequantizeModel } from '../compress/onnx/dequantize.js';
import { sha256Hex } from '../compress/lineage.js';
import { readModelFileBytes } from '../compress/onnx/read.js';

/** Unreadable or unconvertible models throw their coded error: main prints it and exits 1. */
export async function run(argv: string[], spec: CommandSpec): Promise<number> {
  const { values, positionals } = parse('model dequantize', argv, { out: { type: 'string', short: 'o' }, json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError(usageLine(spec));
  const out = requireFlag('model dequantize', 'out', values.out);
  const outFile = outputPath('model dequantize', out);
  const { bytes, model: input } = readModelFileBytes(positionals[0]);
  const { model, report } = dequantizeModel(input, { baseSha256: sha256Hex(bytes) });
  writeModelOutput(model, outFile);
  const convs = model.graph.nodes.filter((n) => n.opType === 'Conv').length;
  if (values.json) process.stdout.write(JSON.stringify({ out, convs, ...report }, null, 2) + '\n');
  else {
    process.stdout.write(
      `${positionals[0]} (${report.source}) → ${out}: ${report.nodesBefore} → ${report.nodesAfter} nodes, ${convs} Conv; ` +
        `${report.foldedWeights} weight/bias DequantizeLinear folded, ${report.bypassedActivationPairs} activation Q/DQ pairs bypassed, ` +
        `${report.rewrittenConvIntegers} ConvInteger rewritten\n`,
    );
  }
  return 0;
}
