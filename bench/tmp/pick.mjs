import fs from 'node:fs';
import { paretoFront } from '../../dist/compress/search/nsga2.js';
import { chooseFront, spreadAlongFront, USEFUL_LOSS } from '../../dist/compress/search/run.js';
const saved = JSON.parse(fs.readFileSync(process.env.STATE ?? '/work/sb-state.json','utf8'));
const st = saved.state;
const front = paretoFront(st);
const lab = (g) => `${g.precision} ${g.size} p${g.prune.filter(x=>x>0).length} f${g.factor.filter(x=>x>0).length}`;
const sorted = [...front].sort((a,b)=>a.objectives[0]-b.objectives[0]);
console.log('front', sorted.length);
for (const i of sorted) console.log(i.objectives[0].toFixed(2), i.objectives[1].toFixed(3), lab(i.genome));
const show = (name, xs) => console.log(name, xs.map(i=>`${lab(i.genome)}@${i.objectives[0].toFixed(1)}/${i.objectives[1].toFixed(3)}`).join(' | '));
show('linear', chooseFront(front, 8));
const logged = front.map(i => ({...i, objectives: [Math.log(i.objectives[0]), i.objectives[1]], orig: i}));
show('log', chooseFront(logged, 8).map(i=>i.orig));
function hvPick(front, count, { log = false, freeStart = false, R = USEFUL_LOSS } = {}) {
  const sorted = front.filter(p=>p.objectives[1] <= R).sort((a, b) => a.objectives[0] - b.objectives[0] || a.objectives[1] - b.objectives[1]);
  const points = sorted;
  const n = points.length;
  const x = points.map((p) => log ? Math.log(p.objectives[0]) : p.objectives[0]);
  const y = points.map((p) => p.objectives[1]);
  const covered = (a, b) => (x[b] - x[a]) * Math.max(0, R - y[a]);
  const best = Array.from({ length: count }, () => new Array(n).fill(-Infinity));
  const from = Array.from({ length: count }, () => new Array(n).fill(-1));
  if (freeStart) for (let b = 0; b < n; b++) best[0][b] = 0; else best[0][0] = 0;
  for (let j = 1; j < count; j++) for (let b = j; b < n; b++) for (let a = j - 1; a < b; a++) {
    if (best[j-1][a] === -Infinity) continue;
    const v = best[j - 1][a] + covered(a, b);
    if (v > best[j][b]) [best[j][b], from[j][b]] = [v, a];
  }
  const chain = [];
  for (let j = count - 1, b = n - 1; j >= 0; b = from[j][b], j--) chain.unshift(b);
  return chain.map((i) => points[i]);
}
show('lin free', hvPick(front, 8, { freeStart: true }));
show('log free', hvPick(front, 8, { log: true, freeStart: true }));
show('log forced', hvPick(front, 8, { log: true }));
