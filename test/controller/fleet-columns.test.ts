// The fleet table's grid is generated from its column list. The expected
// tracks below are the ones style.css held by hand before: the full table,
// then below 1440 px without class, labels and last seen, then below 1100 px
// without the sparkline as well; dropped frames (issue #19) joined the full
// table after FPS and hides below 1440 px like class and labels, and so did
// the application's FPS (hand-off mode) before it; the row actions (rotate
// the token, remove the device; issue #22) came last, shown in the full table
// only, as the device view has them too.
import { describe, expect, it } from 'vitest';
import { COLUMNS, fixed, type Column } from '../../controller/dashboard/src/fleet-columns.js';
import { fleetTableCss } from '../../controller/dashboard/src/fleet-table-css.js';

function levels(css: string): Array<{ cols: string; min: number }> {
  return [...css.matchAll(/--cols: ([^;]+); --table-min: (\d+)px;/g)].map((m) => ({ cols: m[1], min: Number(m[2]) }));
}

describe('fleet table columns', () => {
  it('have one key each, so cells can be found by key', () => {
    expect(new Set(COLUMNS.map((c) => c.key)).size).toBe(COLUMNS.length);
  });

  it('generate the grid tracks, minimum widths and hiding rules of each window width', () => {
    const css = fleetTableCss(COLUMNS);
    const full = '92px minmax(170px, 1.6fr) 84px minmax(120px, 1.2fr) 92px minmax(130px, 1fr) 64px 76px 76px 128px 72px 84px 64px 92px minmax(150px, 1.4fr) 56px';
    const laptop = '92px minmax(170px, 1.6fr) minmax(130px, 1fr) 64px 128px 72px 84px 64px 92px minmax(150px, 1.4fr)';
    const narrow = '92px minmax(170px, 1.6fr) minmax(130px, 1fr) 64px 72px 84px 64px 92px minmax(150px, 1.4fr)';
    // The minimum: the least widths of the shown columns added up.
    const sum = (tracks: string) => [...tracks.matchAll(/(\d+)px/g)].reduce((s, m) => s + Number(m[1]), 0);
    expect(levels(css)).toEqual([
      { cols: full, min: sum(full) },
      { cols: laptop, min: 1046 },
      { cols: narrow, min: 918 },
    ]);
    expect(css).toContain('@media (max-width: 1439px)');
    expect(css).toContain('@media (max-width: 1099px)');
    // The narrower query comes last, so it wins where both match.
    expect(css.indexOf('max-width: 1099px')).toBeGreaterThan(css.indexOf('max-width: 1439px'));
    const hiddenBelow = (px: number) => COLUMNS.filter((c) => c.hideBelow === px).map((c) => c.title);
    expect(hiddenBelow(1440)).toEqual(['Class', 'Labels', 'Last seen', 'App FPS', 'Dropped', 'Actions']);
    expect(hiddenBelow(1100)).toEqual(['Last 5 min']);
    expect(css).toMatch(/@media \(max-width: 1439px\) \{[^}]*\}\s*\.cell\.hide-below-1440 \{ display: none; \}/);
    expect(css).toMatch(/@media \(max-width: 1099px\) \{[^}]*\}\s*\.cell\.hide-below-1100 \{ display: none; \}/);
  });

  it('take a new column as one entry: its track joins every width it shows at', () => {
    const dropped: Column = { key: 'fps', title: 'Dropped', width: fixed(77), hideBelow: 1100, value: () => null };
    const [full, laptop, narrow] = levels(fleetTableCss([...COLUMNS, dropped]));
    const before = levels(fleetTableCss(COLUMNS));
    expect(full).toEqual({ cols: `${before[0].cols} 77px`, min: before[0].min + 77 });
    expect(laptop).toEqual({ cols: `${before[1].cols} 77px`, min: before[1].min + 77 });
    expect(narrow).toEqual(before[2]);
  });
});
