import { describe, expect, it } from 'vitest';
import { groupTimes } from '../../../compress/latency/groups.js';
import { buildDependencyGraph } from '../../../compress/prune/dependency.js';
import { buildGroups } from '../../../compress/prune/groups.js';
import { Net } from '../prune/helpers.js';

describe('time per channel group', () => {
  it('splits each conv among the groups by the share of its channels they hold, producers and readers alike', () => {
    // A (3→8) is split in halves p, q; B reads p, C reads q (4→6 each); B + C is one group (the Add
    // couples them), read by E (6→2), whose output is the model's (not prunable).
    const n = new Net();
    const a = n.convSilu('images', 3, 8);
    const [p, q] = n.op('Split', [a, n.ints('sizes', [4, 4])], { axis: { type: 'int', value: 1 } }, 2);
    const b = n.conv(p, 4, 6, 1);
    const c = n.conv(q, 4, 6, 1);
    const d = n.op('Add', [b, c])[0];
    const e = n.conv(d, 6, 2, 1);
    const model = n.model(e);
    const convOf = (out: string) => model.graph.nodes.find((x) => x.outputs[0] === out)!.name;
    const index = buildGroups(buildDependencyGraph(model));
    const aConv = n.nodes.find((x) => x.opType === 'Conv')!.outputs[0];
    const times = groupTimes(index, new Map([[convOf(aConv), 80], [convOf(b), 30], [convOf(c), 20], [convOf(e), 10]]));
    const byProducers = (...outs: string[]) => times.filter((t) => outs.every((o) => t.group.includes(convOf(o))));
    // each half of A: half of A's 80 µs, plus all of the conv that reads that half
    const halves = byProducers(aConv).sort((x, y) => y.us - x.us);
    expect(halves.map((h) => [h.units, h.us, h.convs])).toEqual([[4, 40 + 30, 2], [4, 40 + 20, 2]]);
    // B + C: both producers whole (30 + 20) and E reads all six channels (10)
    const bc = byProducers(b, c);
    expect(bc.map((h) => [h.units, h.us, h.convs])).toEqual([[6, 30 + 20 + 10, 3]]);
    expect(times).toHaveLength(3);
  });
});
